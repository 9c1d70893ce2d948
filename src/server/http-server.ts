/**
 * The Hush web server: serves the web app, the device registration API and MQTT over WebSocket at /mqtt
 * on one port, so a browser needs one origin only. In front of an external broker (Mosquitto) there is no
 * /mqtt: the app connects to that broker's URL, which the app's CSP then allows (and nothing else). The web app is served from `webRoot` (dist/web, built by
 * Vite) when it exists; without it `/` is a status page. Every response carries the security headers (responses.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import type { RunningBroker } from '../broker/index.ts';
import { createRegistrationApi, type RegistrationApiOptions } from './registration-api.ts';
import { SECURITY_HEADERS } from './responses.ts';
import { hasWebApp, serveStatic } from './static-files.ts';

export { SECURITY_HEADERS } from './responses.ts';

const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hush</title></head>
<body><h1>Hush</h1><p>The Hush broker is running. MQTT over WebSocket is served at <code>/mqtt</code>.</p></body></html>
`;

export interface HttpServerOptions {
  /** The embedded broker, whose WebSocket endpoint is attached at /mqtt; absent in front of an external one. */
  broker?: RunningBroker;
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  /** Send Strict-Transport-Security (only with a real certificate: HSTS on localhost outlives the test CA). */
  hsts?: boolean;
  /** The registration API and /healthz; without it only the page and /mqtt are served. */
  api?: Omit<RegistrationApiOptions, 'tls' | 'port'>;
  /** The built web app (dist/web); the status page is served when it has no index.html. */
  webRoot?: string;
}

/** The running web server. */
export interface RunningHttpServer {
  port: number;
  server: http.Server;
  /**
   * Stops accepting connections (page loads, API calls and /mqtt upgrades alike) and ends idle keep-alive
   * ones; requests in progress may finish. Resolves once the last connection is gone: /mqtt connections are
   * the broker's, whose close() tells each client the server is going away, so await this after it.
   */
  close(): Promise<void>;
  /** Ends every HTTP connection still open, requests in progress included (not the /mqtt ones). */
  endRequests(): void;
}

/** Starts the web server with the broker's WebSocket endpoint attached; resolves with the bound port. */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { broker, tls } = options;
  const headers: Record<string, string> = { ...SECURITY_HEADERS };
  if (tls && options.hsts) headers['strict-transport-security'] = 'max-age=31536000';
  const api = options.api
    ? createRegistrationApi({
        ...options.api,
        tls: tls !== undefined,
        port: () => (server.address() as net.AddressInfo).port,
      })
    : undefined;

  const webRoot =
    options.webRoot !== undefined && (await hasWebApp(options.webRoot))
      ? path.resolve(options.webRoot)
      : undefined;

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    const pathname = (req.url ?? '/').split('?')[0]!;
    void (async () => {
      if (api && (await api(req, res, pathname))) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      if (webRoot !== undefined) {
        if (!(await serveStatic(webRoot, req, res, pathname, tls !== undefined, options.api?.brokerUrl)))
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (pathname === '/' || pathname === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(STATUS_PAGE);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, onRequest)
    : http.createServer(onRequest);
  // Slow clients cannot hold a request open forever (the WebSocket upgrade is done at the headers).
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (_error, socket) => socket.destroy());
  server.on('tlsClientError', () => undefined);
  broker?.attachWebSocket(server as http.Server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as net.AddressInfo).port,
    server: server as http.Server,
    close: () => {
      if (closing === undefined) {
        closing = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
      }
      return closing;
    },
    endRequests: () => server.closeAllConnections(),
  };
}
