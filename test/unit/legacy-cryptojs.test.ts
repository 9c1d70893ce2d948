// The legacy reader against real CryptoJS and OpenSSL output: the vector from the notes, ciphertexts
// made by crypto-js 4.2.0 (fixed below, and fresh ones in fast-check properties), the `openssl enc` CLI,
// and how often a wrong passphrase slips past the padding and UTF-8 checks. See src/core/legacy-cryptojs.ts.
import { execFileSync } from 'node:child_process';
import CryptoJS from 'crypto-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LegacyDecryptError,
  MAX_LEGACY_CIPHERTEXT_BYTES,
  decryptLegacyCryptoJs,
  evpBytesToKeyMd5,
  type LegacyDecryptReason,
} from '../../src/core/legacy-cryptojs.ts';

/** OpenSSL-compatible vector from shared/notes/crypto.md. */
const OPENSSL_VECTOR = 'U2FsdGVkX19aufvaqQQ89scaApBos6oFCyqPj7IKUFk=';

// Made once with crypto-js 4.2.0: [text, passphrase, CryptoJS.AES.encrypt(text, passphrase).toString()].
const CRYPTOJS_VECTORS: [name: string, text: string, passphrase: string, ciphertext: string][] = [
  [
    'plain ASCII',
    'Hello from the seed',
    'k3y-7f2b9c',
    'U2FsdGVkX19QLROXfWLIBlasHPWG1TC8DYZXXZ9M9qJBcnPXhEeuFdt4CB2HPIhh',
  ],
  [
    'unicode text and a unicode passphrase',
    'Grüße, 世界! 👋🏽 — ça va? عربى',
    'pässwörd 🔑 密码',
    'U2FsdGVkX1/0m8WXbZZzuVCI/kE1kbr/aRql6rArLZVpy5Na3FmMUYgBydQp41C+A1L4IXBT2PEteOnTf1vQdw==',
  ],
  ['the empty text', '', 'empty text', 'U2FsdGVkX1+3KWPjYdWyfG9lSyEjmjnDxLgTDYD+im8='],
  [
    'a text that starts with a byte order mark',
    '\uFEFFstarts with a BOM',
    'bom',
    'U2FsdGVkX18SOB/t9DEf5wXVvoTco0gSI9HMlklrPUQbtAOJtDdC4xFMSl4/r/a1',
  ],
  [
    'the empty passphrase',
    'line one\nline two',
    '',
    'U2FsdGVkX18ZEjJ67DYenWy2NNDucmCmiap28VYtxCrzWF2BGJ5eB0ynJPwCX1yW',
  ],
];
// CryptoJS.AES.encrypt(CryptoJS.enc.Hex.parse('fffe4180c0'), 'bytes'): plaintext bytes that are not UTF-8.
const NOT_UTF8_VECTOR = 'U2FsdGVkX1/J7Xrd1+990Ah+jLDXpx2xGneXj9x7SE8=';

/** The reason a decryption failed, or 'ok'; anything but a LegacyDecryptError is rethrown. */
async function outcome(ciphertext: string, passphrase: string): Promise<LegacyDecryptReason | 'ok'> {
  try {
    await decryptLegacyCryptoJs(ciphertext, passphrase);
    return 'ok';
  } catch (error) {
    if (error instanceof LegacyDecryptError) return error.reason;
    throw error;
  }
}

async function expectFailure(ciphertext: string, passphrase: string, reason: LegacyDecryptReason) {
  const error: unknown = await decryptLegacyCryptoJs(ciphertext, passphrase).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(LegacyDecryptError);
  expect((error as LegacyDecryptError).reason).toBe(reason);
  expect((error as LegacyDecryptError).message).toMatch(/^legacy: /);
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const SALTED = new TextEncoder().encode('Salted__');
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
};

/** Runs the real `openssl enc` with the passphrase-mode settings CryptoJS uses. */
function openssl(args: string[], input: string | Uint8Array): string {
  return execFileSync('openssl', ['enc', '-aes-256-cbc', '-md', 'md5', ...args], {
    input,
    stdio: ['pipe', 'pipe', 'ignore'], // it warns that MD5 with one iteration is deprecated
  }).toString('utf8');
}

describe('reading what CryptoJS and OpenSSL wrote', () => {
  it('opens the OpenSSL vector from the notes and marks it legacy-unauthenticated', async () => {
    expect(await decryptLegacyCryptoJs(OPENSSL_VECTOR, 'Secret Passphrase')).toEqual({
      plaintext: 'Hello World\n',
      protection: 'legacy-unauthenticated',
    });
  });

  it.each(CRYPTOJS_VECTORS)('opens a crypto-js 4.2.0 ciphertext of %s', async (_, text, pass, ct) => {
    expect((await decryptLegacyCryptoJs(ct, pass)).plaintext).toBe(text);
  });

  it('opens 100 KB of mixed-script text encrypted by crypto-js just now', async () => {
    const text = 'Lorem ipsum 😀 Grüße 世界 '.repeat(4000).slice(0, 100_000);
    const ciphertext = CryptoJS.AES.encrypt(text, 'long 🔐 passphrase').toString();
    expect(ciphertext.startsWith('U2FsdGVkX1')).toBe(true);
    expect((await decryptLegacyCryptoJs(ciphertext, 'long 🔐 passphrase')).plaintext).toBe(text);
  });

  it('derives the same key and IV as `openssl enc -P` (EVP_BytesToKey, MD5, one iteration)', () => {
    const printed = openssl(['-S', '0001020304050607', '-pass', 'pass:Secret', '-P'], '');
    const key = /key=([0-9A-F]+)/.exec(printed)?.[1];
    const iv = /iv\s*=([0-9A-F]+)/.exec(printed)?.[1];
    const derived = evpBytesToKeyMd5(
      new TextEncoder().encode('Secret'),
      Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]),
      48,
    );
    const hex = Array.from(derived, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join('');
    expect(hex).toBe(`${key}${iv}`);
  });

  it('opens what `openssl enc -aes-256-cbc -md md5 -a -salt` wrote, wrapped base64 included', async () => {
    const short = openssl(['-a', '-A', '-salt', '-pass', 'pass:ssl pass'], 'from openssl ✓');
    expect(short.startsWith('U2FsdGVkX1')).toBe(true);
    expect((await decryptLegacyCryptoJs(short.trim(), 'ssl pass')).plaintext).toBe('from openssl ✓');
    // Longer output is wrapped at 64 columns; whitespace in the base64 is skipped.
    const text = 'a longer message that openssl wraps over several lines\n'.repeat(5);
    const wrapped = openssl(['-a', '-salt', '-pass', 'pass:ssl pass'], text);
    expect(wrapped.trim().split('\n').length).toBeGreaterThan(2);
    expect((await decryptLegacyCryptoJs(wrapped, 'ssl pass')).plaintext).toBe(text);
  });

  it('reads the same plaintext from crypto-js output as `openssl enc -d` does', () => {
    const text = 'both ways: ½ 🙂';
    const ciphertext = CryptoJS.AES.encrypt(text, 'shared').toString();
    expect(openssl(['-d', '-a', '-A', '-pass', 'pass:shared'], ciphertext)).toBe(text);
  });

  it('accepts base64 without its = padding, as a copy-paste may leave it', async () => {
    const unpadded = OPENSSL_VECTOR.replace(/=+$/, '');
    expect((await decryptLegacyCryptoJs(unpadded, 'Secret Passphrase')).plaintext).toBe('Hello World\n');
  });
});

describe('refusing what is not a legacy ciphertext, with a typed error naming the problem', () => {
  it('refuses text that is not standard base64', async () => {
    await expectFailure('not base64!', 'x', 'not-base64');
    await expectFailure(NOT_UTF8_VECTOR.replace(/\//g, '_').replace(/\+/g, '-'), 'x', 'not-base64'); // base64url
    await expectFailure(`${OPENSSL_VECTOR}=`, 'x', 'not-base64'); // too much padding
    await expectFailure('U2FsdGVkX', 'x', 'not-base64'); // a length no base64 has
    await expectFailure('U2FsdGVkX19aufvaqQQ89scaApBos6oFCyqPj7IKUFl=', 'x', 'not-base64'); // stray bits
  });

  it('refuses base64 that does not start with "Salted__"', async () => {
    await expectFailure(base64(new Uint8Array(32)), 'x', 'not-salted');
    await expectFailure('', 'x', 'not-salted');
  });

  it('refuses a ciphertext shorter than the header and one block', async () => {
    await expectFailure(base64(concat(SALTED, new Uint8Array(8))), 'x', 'too-short');
    await expectFailure(base64(concat(SALTED, new Uint8Array(23))), 'x', 'too-short');
  });

  it('refuses a ciphertext whose body is not a whole number of AES blocks', async () => {
    await expectFailure(base64(concat(SALTED, new Uint8Array(8 + 17))), 'x', 'bad-length');
    await expectFailure(base64(concat(SALTED, new Uint8Array(8 + 31))), 'x', 'bad-length');
  });

  it('refuses a ciphertext larger than the limit before decoding it all', async () => {
    const huge = 'A'.repeat(((MAX_LEGACY_CIPHERTEXT_BYTES + 64) / 3) * 4 + 8);
    await expectFailure(`U2FsdGVkX1${huge}`, 'x', 'too-long');
  });

  it('refuses a passphrase with a lone surrogate, which CryptoJS itself cannot encode', async () => {
    expect(() => CryptoJS.AES.encrypt('x', '\uD800')).toThrow();
    await expectFailure(OPENSSL_VECTOR, 'ab\uD800', 'bad-passphrase');
    await expectFailure(OPENSSL_VECTOR, '\uDC00ab', 'bad-passphrase');
  });

  it('reports a wrong passphrase as bad padding', async () => {
    await expectFailure(OPENSSL_VECTOR, 'secret passphrase', 'bad-padding');
  });

  it('refuses plaintext bytes that are not UTF-8, as CryptoJS.enc.Utf8 would', async () => {
    await expectFailure(NOT_UTF8_VECTOR, 'bytes', 'not-utf8');
  });

  it('never accepts a tampered last block silently: flipping a bit there breaks the padding', async () => {
    const bytes = Uint8Array.from(atob(OPENSSL_VECTOR), (c) => c.charCodeAt(0));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    await expectFailure(base64(bytes), 'Secret Passphrase', 'bad-padding');
  });
});

describe('properties (fast-check) against live crypto-js', () => {
  const anyText = fc.string({ unit: 'binary', maxLength: 300 });

  it('whatever crypto-js encrypts with a passphrase, the reader gives back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, anyText, async (text, passphrase) => {
        const ciphertext = CryptoJS.AES.encrypt(text, passphrase).toString();
        const opened = await decryptLegacyCryptoJs(ciphertext, passphrase);
        expect(opened).toEqual({ plaintext: text, protection: 'legacy-unauthenticated' });
      }),
      { numRuns: 300 },
    );
  });

  it('a wrong passphrase never gives back the original text', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, anyText, anyText, async (text, passphrase, wrong) => {
        fc.pre(wrong !== passphrase);
        const ciphertext = CryptoJS.AES.encrypt(text, passphrase).toString();
        const result = await decryptLegacyCryptoJs(ciphertext, wrong).then(
          (opened) => opened.plaintext,
          (error: unknown) => {
            expect(error).toBeInstanceOf(LegacyDecryptError);
            return undefined;
          },
        );
        expect(result).not.toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes and strings never crash the reader: it answers or throws LegacyDecryptError', async () => {
    const looksSalted = fc
      .tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 6 }))
      .chain(([salt, blocks]) =>
        fc
          .uint8Array({ minLength: blocks * 16, maxLength: blocks * 16 + 2 })
          .map((body) => base64(concat(SALTED, salt, body))),
      );
    const anyBytes = fc.uint8Array({ maxLength: 120 }).map(base64);
    const anyChars = fc.string({
      unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
      maxLength: 80,
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(looksSalted, anyBytes, anyChars), anyChars, async (input, pass) => {
        await outcome(input, pass); // rethrows anything that is not a LegacyDecryptError
      }),
      { numRuns: 1000 },
    );
  });
});

describe('how often a wrong passphrase slips through', () => {
  it('20,000 wrong passphrases on a one-block message: ~1/256 pass the padding, ~none pass UTF-8', async () => {
    // Deterministic: fixed ciphertext, fixed wrong passphrases. Measured: 96 pass the padding check,
    // 95 of them then fail UTF-8 and one, "wrong passphrase 607", decodes (see the next test).
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const reason = await outcome(OPENSSL_VECTOR, `wrong passphrase ${i}`);
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    }
    const passedPadding = 20_000 - (counts.get('bad-padding') ?? 0);
    expect(passedPadding).toBeGreaterThan(20_000 / 256 / 2);
    expect(passedPadding).toBeLessThan((20_000 / 256) * 2);
    expect(counts.get('ok') ?? 0).toBeLessThanOrEqual(1);
    expect([...counts.keys()].sort()).toEqual(['bad-padding', 'not-utf8', 'ok']);
  });

  it('a wrong passphrase can, rarely, open a message to garbage: why the result is marked legacy', async () => {
    // "wrong passphrase 607" turns the OpenSSL vector into 15 bytes of valid ASCII with 0x01 padding.
    const opened = await decryptLegacyCryptoJs(OPENSSL_VECTOR, 'wrong passphrase 607');
    expect(opened.protection).toBe('legacy-unauthenticated');
    expect(opened.plaintext).not.toBe('Hello World\n');
    expect(opened.plaintext).toBe("\u001cz\u0017\u0003\u0017?vm9;\\ 7'_");
  });

  it('15 random bytes (a padded one-block garbage plaintext) are valid UTF-8 about 1 time in 6,000', () => {
    // So a wrong key opens a one-block message about (1/256) × (1/6000) ≈ 1 time in 1.5 million,
    // and a longer one practically never (every block of a CBC message decrypts to garbage).
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const bytes = new Uint8Array(15);
    let valid = 0;
    const trials = 300_000;
    for (let i = 0; i < trials; i++) {
      crypto.getRandomValues(bytes);
      try {
        decoder.decode(bytes);
        valid++;
      } catch {
        // most random byte strings are not UTF-8
      }
    }
    expect(valid / trials).toBeLessThan(1 / 2000);
  });
});
