/** MQTT over TCP, or over TLS when a certificate is given (mqtt:// and mqtts://). */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { trackConnection } from '../shutdown.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/**
 * Starts a TCP (or TLS) listener handing each connection to `handle`; resolves with the bound port. Connections
 * are recorded under the returned server, which the broker's close() passes to closeConnections (shutdown.ts).
 */
export async function listenTcp(
  host: string,
  port: number,
  tlsMaterial: TlsMaterial | undefined,
  handle: (stream: Duplex) => void,
): Promise<{ server: net.Server; port: number }> {
  // Nagle's algorithm held a delivery back until the client's delayed ACK (40 ms) whenever an earlier
  // small packet was still unacknowledged: `hush bench` measured SDK-to-SDK latency p50 of 44 ms with it,
  // 1.2 ms without. Packets are already batched per event-loop turn (write-coalescer.ts).
  const accept = (socket: net.Socket) => {
    socket.setNoDelay(true);
    trackConnection(server, socket);
    handle(socket);
  };
  const server = tlsMaterial
    ? tls.createServer({ cert: tlsMaterial.cert, key: tlsMaterial.key, minVersion: 'TLSv1.2' }, accept)
    : net.createServer(accept);
  // A failed TLS handshake is the client's problem; it must not reach the process as an unhandled error.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return { server, port: address.port };
}
