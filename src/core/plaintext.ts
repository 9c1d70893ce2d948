// Plaintext framing shared by both envelopes (docs/PROTOCOL.md §3, "Plaintext"):
//
//   plaintext = u8 flags ‖ u32 contentLength ‖ content ‖ signature[64 if flags bit 0] ‖ zero padding
//
// The padding brings the plaintext to the smallest bucket ≥ its unpadded length (./padding.ts). Decoding is
// strict so that every plaintext has exactly one encoding: reserved flag bits, an overrunning length, non-zero
// padding and a plaintext that is not exactly its bucket are all rejected. The plaintext has already passed the
// AEAD when it gets here, so these checks guard against buggy or hostile key holders, not against the network.

import { fail } from './errors.ts';
import { readU32, u32 } from './bytes.ts';
import { MAX_CONTENT_BYTES, MAX_PLAINTEXT_BYTES, firstNonZeroByte, paddedLength } from './padding.ts';

/** flags bit 0: a 64-byte Ed25519 signature follows the content. */
const FLAG_SIGNED = 0x01;
/** Length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** flags (1) + contentLength (4). */
const PREFIX_BYTES = 5;

/** What a plaintext carries: the content (UTF-8 JSON, parsed elsewhere) and, when signed, its signature. */
export interface Plaintext {
  content: Uint8Array;
  signature?: Uint8Array;
}

/** Frames and pads content (≤ 1 MiB) and an optional 64-byte signature; the output length is a bucket size. */
export function encodePlaintext({ content, signature }: Plaintext): Uint8Array {
  if (!(content instanceof Uint8Array)) fail('malformed', 'plaintext: content should be a Uint8Array');
  if (content.length > MAX_CONTENT_BYTES) {
    fail(
      'malformed',
      `plaintext: content too large: at most ${MAX_CONTENT_BYTES} bytes, got ${content.length}`,
    );
  }
  if (
    signature !== undefined &&
    (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES)
  ) {
    fail('malformed', `plaintext: signature should be ${SIGNATURE_BYTES} bytes, got ${signature?.length}`);
  }
  const flags = signature === undefined ? 0 : FLAG_SIGNED;
  const unpadded = PREFIX_BYTES + content.length + (signature?.length ?? 0);
  const out = new Uint8Array(paddedLength(unpadded)); // zero-filled: the padding is already there
  out[0] = flags;
  out.set(u32(content.length), 1);
  out.set(content, PREFIX_BYTES);
  if (signature !== undefined) out.set(signature, PREFIX_BYTES + content.length);
  return out;
}

/**
 * Parses a decrypted plaintext with every check of §3; throws 'malformed' (size cap, flags, overrun) or
 * 'bad-padding' (non-zero padding, wrong bucket). The returned arrays are views into `bytes`.
 */
export function decodePlaintext(bytes: Uint8Array): Plaintext {
  if (bytes.length > MAX_PLAINTEXT_BYTES) {
    fail('malformed', `plaintext: too large: at most ${MAX_PLAINTEXT_BYTES} bytes, got ${bytes.length}`);
  }
  if (bytes.length < PREFIX_BYTES) fail('malformed', `plaintext: too short: ${bytes.length} bytes`);
  const flags = bytes[0]!;
  if ((flags & ~FLAG_SIGNED) !== 0) {
    fail('malformed', `plaintext: reserved flag bits set: 0x${flags.toString(16).padStart(2, '0')}`);
  }
  const contentLength = readU32(bytes, 1);
  if (contentLength > MAX_CONTENT_BYTES) {
    fail('malformed', `plaintext: content length ${contentLength} exceeds ${MAX_CONTENT_BYTES}`);
  }
  const signatureLength = flags & FLAG_SIGNED ? SIGNATURE_BYTES : 0;
  const unpadded = PREFIX_BYTES + contentLength + signatureLength;
  if (unpadded > bytes.length) {
    fail(
      'malformed',
      `plaintext: content length ${contentLength} overruns the ${bytes.length}-byte plaintext`,
    );
  }
  const nonZero = firstNonZeroByte(bytes, unpadded);
  if (nonZero >= 0) fail('bad-padding', `plaintext: non-zero padding byte at offset ${nonZero}`);
  // One encoding per message: a sender padding to a larger bucket could smuggle a side channel or mark its
  // implementation, so the length must be exactly the bucket of the unpadded length.
  const expected = paddedLength(unpadded);
  if (bytes.length !== expected) {
    fail(
      'bad-padding',
      `plaintext: length ${bytes.length} is not the bucket of ${unpadded} bytes (${expected})`,
    );
  }
  const content = bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + contentLength);
  if (signatureLength === 0) return { content };
  return { content, signature: bytes.subarray(PREFIX_BYTES + contentLength, unpadded) };
}
