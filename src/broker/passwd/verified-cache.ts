// Remembers username/password pairs that passed the PBKDF2 check, so a reconnect costs one HMAC instead of a
// password hash (PBKDF2 was most of a connect's CPU in `hush bench`'s connection storm).
// What is kept is HMAC-SHA256 under a key drawn at random per cache (so per process), over the username, the
// stored hash the password was checked against and the password: never the password, and useless outside this
// process. A hit needs all three to match exactly, so a wrong password, or a right one against a rewritten
// entry, always misses and goes to the full check; failures are never remembered. Bounded (least recently used
// goes first), and pruned to the users whose entry is unchanged whenever the password table is replaced.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PasswordTable } from './file.ts';

interface Verified {
  /** The stored hash the password was checked against. */
  stored: string;
  tag: Buffer;
}

/** Verified passwords, one per username, as HMACs under a per-process random key. */
export class VerifiedPasswordCache {
  private readonly key = Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
  private readonly entries = new Map<string, Verified>();

  /** `capacity` users at most; 0 turns the cache off. */
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** True only when exactly this password was verified against exactly this stored hash for this user. */
  has(username: string, stored: string, password: string): boolean {
    const entry = this.entries.get(username);
    if (entry === undefined || entry.stored !== stored) return false;
    if (!timingSafeEqual(entry.tag, this.tag(username, stored, password))) return false;
    // Most recently used goes to the end of the Map's order; eviction takes from the front.
    this.entries.delete(username);
    this.entries.set(username, entry);
    return true;
  }

  /** Records a password that the full check has just accepted against `stored`. */
  remember(username: string, stored: string, password: string): void {
    if (this.capacity === 0) return;
    this.entries.delete(username);
    this.entries.set(username, { stored, tag: this.tag(username, stored, password) });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Forgets every user whose entry in `table` is gone or different; with no table, everyone. */
  retainUnchanged(table: PasswordTable | undefined): void {
    if (table === undefined) return this.entries.clear();
    for (const [username, entry] of this.entries) {
      if (table.entries.get(username) !== entry.stored) this.entries.delete(username);
    }
  }

  /** Forgets one user (their entry changed). */
  forget(username: string): void {
    this.entries.delete(username);
  }

  private tag(username: string, stored: string, password: string): Buffer {
    // Length prefixes, so no two different triples feed the HMAC the same bytes.
    const hmac = createHmac('sha256', this.key);
    for (const part of [username, stored, password]) {
      const bytes = Buffer.from(part, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      hmac.update(length).update(bytes);
    }
    return hmac.digest();
  }
}
