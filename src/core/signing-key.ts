/**
 * Ed25519 public key hygiene. WebCrypto and node:crypto both accept small-order public keys; with the
 * identity point as a key, the signature (R = identity, S = 0) verifies for every message, so anyone could
 * sign "as" a member who registered such a key. RFC 8032 leaves this to the application; we refuse any key
 * that does not decode to a point of large order (checked with @noble/curves, audited, isomorphic).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { toB64u } from './bytes.ts';

/**
 * Verdicts already reached, by key: the check costs ~80 µs (a point decompression) and a chat asks about the same
 * few member keys on every group message and every save. A pure function of public bytes, so remembering it is
 * safe; bounded (oldest dropped) so a flood of distinct keys cannot grow it.
 */
const verdicts = new Map<string, boolean>();
const VERDICTS_CAP = 1024;

/** True if `key` is a canonical encoding of an Ed25519 point that is not of small order. */
export function isStrongSigningKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  const id = toB64u(key);
  const known = verdicts.get(id);
  if (known !== undefined) return known;
  const strong = decodesToLargeOrderPoint(key);
  verdicts.set(id, strong);
  if (verdicts.size > VERDICTS_CAP) verdicts.delete(verdicts.keys().next().value!);
  return strong;
}

function decodesToLargeOrderPoint(key: Uint8Array): boolean {
  try {
    const point = ed25519.Point.fromBytes(key);
    return !point.isSmallOrder();
  } catch {
    return false;
  }
}
