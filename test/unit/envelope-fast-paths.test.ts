// The envelope's fast paths (issue 8) must not change a byte on the wire or weaken a check: the word-wise padding
// scan finds exactly what a byte loop finds, the ciphertext written behind a prefix equals prefix ‖ ciphertext,
// a provider that ignores the prefix is refused, and the remembered key-strength verdicts never flip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, utf8 } from '../../src/core/bytes.ts';
import type { CryptoProvider } from '../../src/core/crypto/index.ts';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  sealChatEnvelope,
  verifyContentSignature,
} from '../../src/core/envelope.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import { firstNonZeroByte } from '../../src/core/padding.ts';
import { decodePlaintext, encodePlaintext } from '../../src/core/plaintext.ts';
import { isStrongSigningKey } from '../../src/core/signing-key.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';

const providers: CryptoProvider[] = [webCryptoProvider, nodeCryptoProvider];

const naive = (bytes: Uint8Array, from: number): number => {
  for (let i = Math.max(0, from); i < bytes.length; i++) if (bytes[i] !== 0) return i;
  return -1;
};

describe('firstNonZeroByte (the padding check)', () => {
  it('agrees with a byte-by-byte scan on any view, start and stray bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 320 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 3 }),
        (offset, length, from, strays) => {
          const backing = new Uint8Array(offset + length + 8);
          const view = backing.subarray(offset, offset + length);
          for (const [at, bit] of strays) if (length > 0) view[at % length] = 1 << bit;
          // Bytes outside the view must never be reported.
          backing.fill(0xff, 0, offset);
          backing.fill(0xff, offset + length);
          expect(firstNonZeroByte(view, from)).toBe(naive(view, from));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds a single bit anywhere in 64 KiB of padding', () => {
    const bytes = new Uint8Array(65536);
    expect(firstNonZeroByte(bytes, 0)).toBe(-1);
    for (const at of [0, 1, 3, 4, 5, 4095, 32768, 65532, 65535]) {
      bytes[at] = 0x80;
      expect(firstNonZeroByte(bytes, 0)).toBe(at);
      expect(firstNonZeroByte(bytes, at + 1)).toBe(-1);
      bytes[at] = 0;
    }
  });

  it('a plaintext with one non-zero padding byte is still refused as bad-padding, at that offset', () => {
    const plaintext = encodePlaintext({ content: new Uint8Array(70_000).fill(65) });
    for (const at of [70_005, 70_008, 100_003, plaintext.length - 1]) {
      const tampered = plaintext.slice();
      tampered[at] = 1;
      let caught: unknown;
      try {
        decodePlaintext(tampered);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(HushProtocolError);
      expect((caught as HushProtocolError).code).toBe('bad-padding');
      expect((caught as HushProtocolError).message).toContain(`offset ${at}`);
    }
  });
});

describe('AES-GCM behind a prefix', () => {
  it.each(providers)('$name: prefix ‖ ciphertext ‖ tag, byte for byte, and it opens', async (p) => {
    const key = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(12).fill(5);
    const aad = utf8('header');
    const prefix = utf8('prefix bytes');
    for (const size of [0, 1, 255, 4096, 70_000]) {
      const plaintext = new Uint8Array(size).map((_, i) => i & 0xff);
      const bare = await p.aesGcmEncrypt(key, nonce, plaintext, aad);
      const prefixed = await p.aesGcmEncrypt(key, nonce, plaintext, aad, prefix);
      expect(prefixed).toEqual(concat(prefix, bare));
      const opened = await p.aesGcmDecrypt(key, nonce, prefixed.subarray(prefix.length), aad);
      expect(opened).toEqual(plaintext);
      // The plaintext owns its memory: nothing before or after it (no shared pool holding other data).
      expect(opened.byteOffset).toBe(0);
      expect(opened.buffer.byteLength).toBe(size);
    }
  });

  it('a provider that ignores the prefix is refused instead of sending a headerless envelope', async () => {
    const forgetful: CryptoProvider = {
      ...nodeCryptoProvider,
      aesGcmEncrypt: (key, nonce, plaintext, aad) =>
        nodeCryptoProvider.aesGcmEncrypt(key, nonce, plaintext, aad),
    };
    const keys = await deriveEpochKeys(nodeCryptoProvider, new Uint8Array(32).fill(9));
    await expect(sealChatEnvelope(forgetful, keys, utf8('{"v":1}'))).rejects.toMatchObject({
      code: 'malformed',
    });
    const wire = await sealChatEnvelope(nodeCryptoProvider, keys, utf8('{"v":1}'));
    expect((await openChatEnvelope(webCryptoProvider, keys, wire)).content).toEqual(utf8('{"v":1}'));
  });
});

describe('remembered signing-key verdicts', () => {
  const IDENTITY = new Uint8Array(32);
  IDENTITY[0] = 1;
  const UNIVERSAL = new Uint8Array(64);
  UNIVERSAL[0] = 1;

  it('a small-order key stays refused however often it is asked about, a strong one stays accepted', async () => {
    const strong = (await nodeCryptoProvider.generateSigningKeyPair()).publicKey;
    for (let i = 0; i < 3; i++) {
      expect(isStrongSigningKey(IDENTITY)).toBe(false);
      expect(isStrongSigningKey(strong)).toBe(true);
      for (const p of providers) {
        expect(await verifyContentSignature(p, IDENTITY, new Uint8Array(9), utf8('x'), UNIVERSAL)).toBe(
          false,
        );
      }
    }
  });

  it('a key changed in place after its verdict is judged by its new bytes', async () => {
    const key = (await nodeCryptoProvider.generateSigningKeyPair()).publicKey;
    expect(isStrongSigningKey(key)).toBe(true);
    key.set(IDENTITY);
    expect(isStrongSigningKey(key)).toBe(false);
  });

  it('a flood of distinct keys does not change verdicts on known ones', () => {
    for (let i = 0; i < 3000; i++) {
      const junk = new Uint8Array(32);
      junk[0] = i & 0xff;
      junk[1] = i >> 8;
      junk[31] = 0x7f;
      isStrongSigningKey(junk);
    }
    expect(isStrongSigningKey(IDENTITY)).toBe(false);
  });
});
