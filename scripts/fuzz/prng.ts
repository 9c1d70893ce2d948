/**
 * A small deterministic PRNG (sfc32, seeded through splitmix32) so every fuzz input can be regenerated from
 * the run's seed and the connection's index alone, whatever order the connections happened to run in.
 */

/** A seeded random source with the helpers the generators need. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    // splitmix32 spreads (seed, stream) over the four words; sfc32 is weak when seeded with small integers.
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of table) total += w;
    let r = this.float() * total;
    for (const [w, value] of table) {
      r -= w;
      if (r < 0) return value;
    }
    return (table[table.length - 1] as readonly [number, T])[1];
  }

  /** `length` random bytes. */
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A size skewed towards small values: mostly < 16, sometimes up to `max`. */
  smallSize(max: number): number {
    const bits = this.int(0, Math.max(1, Math.ceil(Math.log2(max + 1))));
    return Math.min(max, this.int(0, 2 ** bits - 1));
  }
}

/** Parses a seed from text (decimal or 0x hex); a fresh random 32-bit seed when none is given. */
export function seedFrom(text: string | undefined): number {
  if (text === undefined || text === '') return crypto.getRandomValues(new Uint32Array(1))[0] as number;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new Error(`seed must be an integer 0..4294967295, got ${JSON.stringify(text)}`);
  return value;
}
