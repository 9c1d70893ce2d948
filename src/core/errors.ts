/**
 * Typed protocol errors (docs/PROTOCOL.md §8). Every failure in src/core is a HushProtocolError with a
 * stable code, so callers and UIs can tell "tampered" from "not for me" without parsing messages.
 */

export type ProtocolErrorCode =
  | 'malformed'
  | 'unknown-version'
  | 'unknown-key'
  | 'decrypt-failed'
  | 'bad-padding'
  | 'bad-content'
  | 'unknown-kind'
  | 'unsigned'
  | 'bad-signature'
  | 'not-a-member'
  | 'wrong-chat'
  | 'wrong-recipient'
  | 'stale-epoch'
  | 'old-epoch'
  | 'duplicate'
  | 'not-authorized'
  | 'bad-invite'
  | 'invite-expired'
  | 'invite-used';

/** A protocol failure: `code` is stable, `message` names the piece ("envelope: …") and what was wrong. */
export class HushProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HushProtocolError';
  }
}

/** Throws a HushProtocolError; a one-liner for validation code. */
export function fail(code: ProtocolErrorCode, message: string): never {
  throw new HushProtocolError(code, message);
}
