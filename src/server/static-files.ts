/**
 * Serves the built web app (dist/web) for `hush start`: GET/HEAD of files under the root only (no traversal, no
 * dotfiles, no directory listings), the right content types, 404 for anything else, and the app's strict CSP:
 * scripts and styles only from this origin, connections only to this origin's http(s) and ws(s) — or, in front
 * of an external broker, to this origin and that broker's URL.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** A Host header we are willing to echo into the CSP: host or [v6], optional port, nothing else. */
const HOST_PATTERN = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The CSP source for an external broker URL: the URL itself, so the app may open exactly that WebSocket
 * (a path-less URL allows the whole origin, as CSP matches paths only when one is given).
 */
export function brokerSource(brokerUrl: string): string {
  const url = new URL(brokerUrl);
  return url.pathname === '/'
    ? `${url.protocol}//${url.host}`
    : `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * The web app's Content-Security-Policy for a request's Host (wss:// when served over TLS); with `brokerUrl`
 * (an external broker) the app connects to this origin and that URL instead of this host's WebSocket.
 */
export function appCsp(host: string | undefined, tls: boolean, brokerUrl?: string): string {
  const ws =
    brokerUrl !== undefined
      ? ` ${brokerSource(brokerUrl)}`
      : host !== undefined && HOST_PATTERN.test(host)
        ? ` ${tls ? 'wss' : 'ws'}://${host}`
        : '';
  return (
    "default-src 'none'; script-src 'self'; style-src 'self'; " +
    `connect-src 'self'${ws}; img-src 'self' data:; manifest-src 'self'; ` +
    "base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
  );
}

/** True if `root` is a directory with an index.html (a built web app). */
export async function hasWebApp(root: string): Promise<boolean> {
  try {
    return (await stat(path.join(root, 'index.html'))).isFile();
  } catch {
    return false;
  }
}

/**
 * Answers GET/HEAD `pathname` from `root` if such a file exists; resolves false (nothing sent) otherwise.
 * `/` is index.html; `brokerUrl` is an external broker the app's CSP must allow. Hashed assets under /assets/ are cached for a year, everything else must revalidate.
 */
export async function serveStatic(
  root: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  tls: boolean,
  brokerUrl?: string,
): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
  } catch {
    return false;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return false;
  const parts = decoded.split('/').filter((p) => p !== '');
  if (parts.some((p) => p.startsWith('.'))) return false;
  const file = path.resolve(root, ...parts);
  if (file !== root && !file.startsWith(root.endsWith(path.sep) ? root : root + path.sep)) return false;
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()];
  if (type === undefined) return false;
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    size = info.size;
  } catch {
    return false;
  }
  res.setHeader('content-security-policy', appCsp(req.headers.host, tls, brokerUrl));
  res.writeHead(200, {
    'content-type': type,
    'content-length': String(size),
    'cache-control': parts[0] === 'assets' ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res).on('finish', () => resolve());
  });
  return true;
}
