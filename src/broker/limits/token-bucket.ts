/** A token bucket: `rate` tokens per second, at most `burst` saved up. rate 0 = unlimited. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = Date.now()): boolean {
    if (this.rate === 0) return true;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back a token taken for work that turned out not to count (at most up to the burst). */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** True when the bucket is full again, so a per-key map can forget it. */
  isIdle(now = Date.now()): boolean {
    return this.rate === 0 || this.tokens + ((now - this.last) / 1000) * this.rate >= this.burst;
  }
}

/** One token bucket per key (a remote address), forgetting buckets that have refilled. */
export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = Date.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  /** Takes one token from key's bucket; false when that key is over its rate. */
  take(key: string, now = Date.now()): boolean {
    if (this.rate === 0) return true;
    if (now - this.lastSweep > 60_000) this.sweep(now);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.rate, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** Gives back a token taken from key's bucket (see TokenBucket.refund). */
  refund(key: string): void {
    this.buckets.get(key)?.refund();
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.isIdle(now)) this.buckets.delete(key);
  }
}
