/**
 * The Hush web server: serves the web app and carries MQTT over WebSocket at /mqtt on the same port,
 * so a browser needs one origin only. The registration API and the app itself come with later issues;
 * for now it serves a status page.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { RunningBroker } from '../broker/index.ts';

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
} as const;

const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hush</title></head>
<body><h1>Hush</h1><p>The Hush broker is running. MQTT over WebSocket is served at <code>/mqtt</code>.</p></body></html>
`;

/** Starts the web server with the broker's WebSocket endpoint attached; resolves with the bound port. */
export async function startHttpServer(
  broker: RunningBroker,
  host: string,
  port: number,
  tls?: { cert: Buffer; key: Buffer },
): Promise<{ port: number; close(): Promise<void> }> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD' }).end();
      return;
    }
    if (req.url === '/' || req.url === '/index.html') {
      res
        .writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' })
        .end(STATUS_PAGE);
      return;
    }
    res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain' }).end('not found\n');
  };
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, onRequest)
    : http.createServer(onRequest);
  server.on('clientError', (_error, socket) => socket.destroy());
  broker.attachWebSocket(server as http.Server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
