/**
 * MQTT over WebSocket at path /mqtt (ws:// and wss://), as browsers and MQTT.js connect. Uses `ws`
 * directly; `maxPayload` bounds a single WebSocket message, the packet guard bounds MQTT packets.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { TlsMaterial } from './tcp.ts';

export const MQTT_WS_PATH = '/mqtt';

const SEND_OPTIONS = { binary: true, compress: false } as const;

/** Attaches the MQTT WebSocket endpoint to an HTTP server (also used by `hush start`). */
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
    socket.on('message', (_data, isBinary) => {
      // MQTT is carried in binary frames only (MQTT 3.1.1 §6, [MQTT-6.0.0-1]).
      if (!isBinary) socket.close(1003, 'MQTT over WebSocket needs binary frames');
    });
    const stream = createWebSocketStream(socket);
    // createWebSocketStream turns every write into its own WebSocket frame and its own system call, and
    // mqtt-packet writes a PUBLISH in five or more pieces (header, length, topic, id, payload). The pieces
    // are corked per tick, so writing them together sends one frame per batch: MQTT over WebSocket allows
    // several and partial packets per frame (MQTT 3.1.1 §6). Measured by `hush bench`: this was most of the
    // broker's CPU per WebSocket message.
    stream._writev = (chunks, callback) => {
      const data =
        chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk as Buffer));
      socket.send(data, SEND_OPTIONS, callback);
    };
    stream.on('error', () => socket.terminate());
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
