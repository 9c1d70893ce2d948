/**
 * Reading a JSON request body at the door: the media type must be application/json (415 otherwise, which
 * also makes a cross-origin browser request need a CORS preflight we never grant), the body at most
 * `limit` bytes (413, checked against Content-Length before reading and again while reading), strict UTF-8
 * and valid JSON (400). Each refusal carries the status and a sentence for `{error}`.
 */
import type http from 'node:http';

/** A request body we refuse, with the HTTP status that says why. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/** True when the Content-Type is application/json, with no charset or charset=utf-8. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((param) => param === '' || param.replace(/\s+/g, '') === 'charset=utf-8');
}

/** Reads and parses the body; throws BodyError (400, 413 or 415) for anything we refuse. */
export async function readJsonBody(req: http.IncomingMessage, limit: number): Promise<unknown> {
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new BodyError(415, 'content-type must be application/json');
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new BodyError(413, `request body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyError(413, `request body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BodyError(400, 'request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new BodyError(400, 'request body is empty; expected a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BodyError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}
