/**
 * Ed25519 public key hygiene. WebCrypto and node:crypto both accept small-order public keys; with the
 * identity point as a key, the signature (R = identity, S = 0) verifies for every message, so anyone could
 * sign "as" a member who registered such a key. RFC 8032 leaves this to the application; we refuse any key
 * that does not decode to a point of large order (checked with @noble/curves, audited, isomorphic).
 */
import { ed25519 } from '@noble/curves/ed25519.js';

/** True if `key` is a canonical encoding of an Ed25519 point that is not of small order. */
export function isStrongSigningKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  try {
    const point = ed25519.Point.fromBytes(key);
    return !point.isSmallOrder();
  } catch {
    return false;
  }
}
