/**
 * Errors the SDK throws at its callers. Protocol failures inside messages never throw out of the client: they
 * become 'warning' events (see hush-client.ts). These are for things the caller asked for and did not get.
 */

export type HushClientErrorCode =
  | 'auth-failed'
  | 'replaced'
  | 'closed'
  | 'offline'
  | 'timeout'
  | 'network'
  | 'registration-refused'
  | 'server-error'
  | 'wrong-server'
  | 'no-device'
  | 'device-exists'
  | 'bad-record'
  | 'unknown-chat'
  | 'unknown-contact'
  | 'not-allowed'
  | 'join-refused'
  | 'bad-name';

/** An SDK failure: `code` is stable, `message` names the piece ("connection: …") and what to do. */
export class HushClientError extends Error {
  constructor(
    readonly code: HushClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HushClientError';
  }
}
