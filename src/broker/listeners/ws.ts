/**
 * MQTT over WebSocket at path /mqtt (ws:// and wss://), as browsers and MQTT.js connect. Uses `ws`
 * directly; `maxPayload` bounds a single WebSocket message, the packet guard bounds MQTT packets.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { trackConnection, type GoesAway } from '../shutdown.ts';
import type { TlsMaterial } from './tcp.ts';

export const MQTT_WS_PATH = '/mqtt';

/** WebSocket close code "going away" (RFC 6455 §7.4.1): the server is shutting down. */
export const CLOSE_GOING_AWAY = 1001;

const SEND_OPTIONS = { binary: true, compress: false } as const;

type SocketWithDuplex = WebSocket & { duplex: WebSocketDuplex };

/**
 * The byte stream Aedes reads MQTT from and writes MQTT to, over one WebSocket. Written instead of ws's
 * `createWebSocketStream`, which adds about ten closures and listeners per connection and sends every write
 * as its own frame and system call (mqtt-packet writes a PUBLISH in five or more pieces). Here the handlers
 * live on the prototype (idle connections are most of a broker's memory, `hush bench`), and each batch of
 * writes (write-coalescer.ts hands over one buffer per event-loop turn) leaves as one binary frame: MQTT
 * over WebSocket allows several and partial packets per frame (MQTT 3.1.1 §6).
 */
class WebSocketDuplex extends Duplex implements GoesAway {
  /** Set by goAway(); `declare` so idle connections carry no extra property until then. */
  declare private goingAway?: string;

  constructor(private readonly socket: WebSocket) {
    super();
    (socket as SocketWithDuplex).duplex = this;
    socket.on('message', onMessage);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  override _read(): void {
    if (this.socket.isPaused) this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.send(chunk, SEND_OPTIONS, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.socket.send(data, SEND_OPTIONS, callback);
  }

  /** Ends the stream after what is already written, then sends close frame 1001 with `reason`. */
  goAway(reason: string): void {
    this.goingAway = reason;
    this.end();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.goingAway !== undefined) this.socket.close(CLOSE_GOING_AWAY, this.goingAway);
    else this.socket.close();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.socket.readyState !== this.socket.CLOSED) this.socket.terminate();
    callback(error);
  }
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  // MQTT is carried in binary frames only (MQTT 3.1.1 §6, [MQTT-6.0.0-1]).
  if (!isBinary) {
    this.close(1003, 'MQTT over WebSocket needs binary frames');
    return;
  }
  // Backpressure: stop reading the socket until Aedes has taken what is buffered.
  if (!(this as SocketWithDuplex).duplex.push(data)) this.pause();
}

function onSocketError(this: WebSocket, error: Error): void {
  (this as SocketWithDuplex).duplex.destroy(error);
}

function onSocketClose(this: WebSocket): void {
  // End of input, after whatever Aedes has not read yet (a last PUBLISH, a DISCONNECT); Aedes then closes
  // the client and destroys the stream, as with a TCP connection the peer ended.
  const duplex = (this as SocketWithDuplex).duplex;
  if (!duplex.destroyed) duplex.push(null);
}

/**
 * Attaches the MQTT WebSocket endpoint to an HTTP server (also used by `hush start`). Connections are recorded
 * under `handle`, which the broker's close() passes to closeConnections (shutdown.ts).
 */
export function attachMqttWebSocket(
  server: http.Server | https.Server,
  maxPayload: number,
  handle: (stream: Duplex, request: http.IncomingMessage) => void,
): WebSocketServer {
  const wss = new WebSocketServer({
    server,
    path: MQTT_WS_PATH,
    maxPayload,
    // MQTT over WebSocket names the subprotocol "mqtt" (3.1.1 §6); older clients send "mqttv3.1".
    handleProtocols: (protocols) =>
      protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false,
  });
  wss.on('connection', (socket, request) => {
    const stream = new WebSocketDuplex(socket);
    // Recorded for the broker's close(), which tells every connection the server is going away (shutdown.ts).
    trackConnection(handle, stream);
    handle(stream, request);
  });
  wss.on('error', () => undefined);
  return wss;
}

/** Starts a dedicated HTTP(S) server for MQTT over WebSocket; resolves with the bound port. */
export async function listenWebSocket(
  host: string,
  port: number,
  tlsMaterial: TlsMaterial | undefined,
  maxPayload: number,
  handle: (stream: Duplex, request: http.IncomingMessage) => void,
): Promise<{ server: http.Server | https.Server; wss: WebSocketServer; port: number }> {
  const notFound = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(`MQTT over WebSocket is served at ${MQTT_WS_PATH}\n`);
  };
  const server = tlsMaterial
    ? https.createServer({ cert: tlsMaterial.cert, key: tlsMaterial.key, minVersion: 'TLSv1.2' }, notFound)
    : http.createServer(notFound);
  server.on('tlsClientError', () => undefined);
  server.on('clientError', (_error, socket) => socket.destroy());
  const wss = attachMqttWebSocket(server, maxPayload, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, wss, port: (server.address() as net.AddressInfo).port };
}
