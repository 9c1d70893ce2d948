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
