// Size buckets for message plaintexts (docs/PROTOCOL.md §3, "Plaintext"). Padding hides the exact length of a
// message from the broker: it sees only which bucket the plaintext fell into. Buckets grow by 4× up to 64 KiB
// (short chat messages all look alike), then in 64 KiB steps so large contents waste at most 64 KiB.

/** Largest content a plaintext may carry: 1 MiB (§3). */
export const MAX_CONTENT_BYTES = 1024 * 1024;
/** Step of the buckets above 64 KiB, and the slack allowed above MAX_CONTENT_BYTES. */
export const LARGE_BUCKET_BYTES = 65536;
/** Largest plaintext a receiver accepts: 1 MiB + 65536 (§3); the bucket of the largest signed content. */
export const MAX_PLAINTEXT_BYTES = MAX_CONTENT_BYTES + LARGE_BUCKET_BYTES;

const SMALL_BUCKETS = [256, 1024, 4096, 16384, 65536] as const;

/** The smallest bucket ≥ n: 256, 1024, 4096, 16384, 65536, then multiples of 65536. */
export function paddedLength(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`padding: length should be a non-negative integer, got: ${n}`);
  for (const bucket of SMALL_BUCKETS) if (n <= bucket) return bucket;
  return Math.ceil(n / LARGE_BUCKET_BYTES) * LARGE_BUCKET_BYTES;
}

/**
 * Offset of the first non-zero byte at or after `from`, or -1: the receiver's padding check (§3). It ORs four
 * bytes at a time; a byte-by-byte loop over 64 KiB of padding took longer than the AES-GCM that preceded it.
 * Not constant time, and need not be: the plaintext has already passed the AEAD.
 */
export function firstNonZeroByte(bytes: Uint8Array, from: number): number {
  const end = bytes.length;
  let i = Math.max(0, from);
  if (i >= end) return -1;
  // Uint32Array views must start on a 4-byte boundary of the underlying buffer.
  while (i < end && ((bytes.byteOffset + i) & 3) !== 0) {
    if (bytes[i] !== 0) return i;
    i++;
  }
  const words = (end - i) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    let any = 0;
    let w = 0;
    for (; w + 4 <= words; w += 4) any |= view[w]! | view[w + 1]! | view[w + 2]! | view[w + 3]!;
    for (; w < words; w++) any |= view[w]!;
    if (any !== 0) return firstNonZeroBytewise(bytes, i, i + words * 4);
    i += words * 4;
  }
  return firstNonZeroBytewise(bytes, i, end);
}

function firstNonZeroBytewise(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (bytes[i] !== 0) return i;
  return -1;
}
