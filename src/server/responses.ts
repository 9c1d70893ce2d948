/** Response helpers shared by the web server's routes: security headers on everything, JSON for the API. */
import type http from 'node:http';

/**
 * Sent with every response: a strict CSP (no inline script, no third-party origin), no MIME sniffing, no
 * framing (CSP frame-ancestors and, for older browsers, X-Frame-Options), no referrer.
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** Added to API responses: credentials and client ids must never sit in a cache. */
export const API_HEADERS = { 'cache-control': 'no-store' } as const;

/** Sends `body` as JSON with the security and API headers. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + '\n';
  res
    .writeHead(status, {
      ...SECURITY_HEADERS,
      ...API_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    })
    .end(res.req.method === 'HEAD' ? undefined : text);
}

/** Sends `{error}` with `status`: every API failure has this one shape. */
export function sendError(
  res: http.ServerResponse,
  status: number,
  error: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error }, headers);
}

/** Sends an empty response (204) with the security and API headers. */
export function sendEmpty(res: http.ServerResponse, status: number): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...API_HEADERS }).end();
}
