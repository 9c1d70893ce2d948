import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerifiedPasswordCache } from '../../src/broker/passwd/index.ts';

const HASH_A = '$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==';
const HASH_B = '$7$101$BBBBBBBBBBBBBBBB$' + 'B'.repeat(86) + '==';

describe('the verified-password cache', () => {
  it('hits only on the exact username, stored hash and password it was given', () => {
    const cache = new VerifiedPasswordCache(10);
    cache.remember('alice', HASH_A, 'secret');
    expect(cache.has('alice', HASH_A, 'secret')).toBe(true);
    expect(cache.has('alice', HASH_A, 'secret2')).toBe(false);
    expect(cache.has('alice', HASH_B, 'secret')).toBe(false);
    expect(cache.has('bob', HASH_A, 'secret')).toBe(false);
    // Length prefixes: moving bytes between username and password does not collide.
    expect(cache.has('alic', HASH_A, 'esecret')).toBe(false);
  });

  it('never accepts a password other than the one remembered (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (user, right, guess) => {
        const cache = new VerifiedPasswordCache(4);
        cache.remember(user, HASH_A, right);
        expect(cache.has(user, HASH_A, guess)).toBe(guess === right);
      }),
    );
  });

  it('forgets users whose entry changed or went when the table is replaced, and keeps the others', () => {
    const cache = new VerifiedPasswordCache(10);
    cache.remember('alice', HASH_A, 'a');
    cache.remember('bob', HASH_A, 'b');
    cache.remember('carol', HASH_B, 'c');
    cache.retainUnchanged({
      source: 't',
      entries: new Map([
        ['alice', HASH_B],
        ['carol', HASH_B],
      ]),
    });
    expect(cache.size).toBe(1);
    expect(cache.has('carol', HASH_B, 'c')).toBe(true);
    expect(cache.has('alice', HASH_A, 'a')).toBe(false);
    cache.retainUnchanged(undefined);
    expect(cache.size).toBe(0);
  });

  it('is bounded, evicting the least recently used; capacity 0 keeps nothing', () => {
    const cache = new VerifiedPasswordCache(2);
    cache.remember('a', HASH_A, '1');
    cache.remember('b', HASH_A, '2');
    expect(cache.has('a', HASH_A, '1')).toBe(true);
    cache.remember('c', HASH_A, '3');
    expect(cache.size).toBe(2);
    expect(cache.has('b', HASH_A, '2')).toBe(false);
    expect(cache.has('a', HASH_A, '1')).toBe(true);
    const off = new VerifiedPasswordCache(0);
    off.remember('a', HASH_A, '1');
    expect(off.has('a', HASH_A, '1')).toBe(false);
  });
});
