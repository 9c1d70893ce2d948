/**
 * Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): delay = random(0, min(cap, base · 2^attempt)). Full jitter spreads many clients reconnecting after a
 * broker restart. Randomness comes from crypto.getRandomValues (the project bans Math.random).
 */

export interface BackoffOptions {
  /** First ceiling, ms (default 500). */
  baseMs?: number;
  /** Largest ceiling, ms (default 30 000). */
  capMs?: number;
  /** A number in [0, 1); crypto.getRandomValues by default (tests pass their own). */
  random?: () => number;
}

/** Uniform in [0, 1) from crypto.getRandomValues. */
export function cryptoRandom(): number {
  const word = new Uint32Array(1);
  globalThis.crypto.getRandomValues(word);
  return word[0]! / 2 ** 32;
}

/** The delay before reconnect attempt `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 30_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor((options.random ?? cryptoRandom)() * ceiling);
}
