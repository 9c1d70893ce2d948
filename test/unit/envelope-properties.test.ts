// Properties of both envelopes (docs/PROTOCOL.md §3, §4) over random inputs (fast-check): every single-bit change
// is rejected, wrong keys are rejected, random bytes only ever produce a HushProtocolError, content of any size
// round-trips into the right padding bucket, and the two providers open each other's envelopes.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  agreementPublicKey,
  type AgreementKeyPair,
  type CryptoProvider,
  type SigningPrivateKey,
} from '../../src/core/crypto/index.ts';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import { HushProtocolError, type ProtocolErrorCode } from '../../src/core/errors.ts';
import { paddedLength } from '../../src/core/padding.ts';
import { decodePlaintext } from '../../src/core/plaintext.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  peekEnvelope,
  sealChatEnvelope,
  type EpochKeys,
} from '../../src/core/envelope.ts';
import { openDirectEnvelope, sealDirectEnvelope } from '../../src/core/sealed-box.ts';
import { fromHex, x25519Pkcs8 } from '../vectors/generate-envelopes.ts';

const providers: CryptoProvider[] = [webCryptoProvider, nodeCryptoProvider];
const RUNS = 150;

/** The error code a promise rejects with; fails the test on success or on any non-protocol error. */
async function codeOf(promise: Promise<unknown>): Promise<ProtocolErrorCode> {
  const error = await promise.then(
    () => new Error('opened, but should have been rejected'),
    (e: unknown) => e,
  );
  if (!(error instanceof HushProtocolError)) throw error;
  return error.code;
}

function flipBit(wire: Uint8Array, bit: number): Uint8Array {
  const out = wire.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** Key material per provider: the same secrets on both (imported from one PKCS#8 each), handles of its own kind. */
interface Party {
  keys: EpochKeys;
  otherKeys: EpochKeys;
  signer: { privateKey: SigningPrivateKey };
  recipient: AgreementKeyPair;
  stranger: AgreementKeyPair;
}
const parties = new Map<CryptoProvider, Party>();

beforeAll(async () => {
  const signerPkcs8 = await nodeCryptoProvider.exportPrivateKey(
    (await nodeCryptoProvider.generateSigningKeyPair(true)).privateKey,
  );
  for (const p of providers) {
    const signing = await p.importSigningPrivateKey(signerPkcs8);
    const agreementKey = async (scalar: string): Promise<AgreementKeyPair> => {
      const privateKey = await p.importAgreementPrivateKey(x25519Pkcs8(fromHex(scalar.repeat(32))));
      return { privateKey, publicKey: await agreementPublicKey(p, privateKey) };
    };
    parties.set(p, {
      keys: await deriveEpochKeys(p, new Uint8Array(32).fill(0x11)),
      otherKeys: await deriveEpochKeys(p, new Uint8Array(32).fill(0x22)),
      signer: { privateKey: signing },
      recipient: await agreementKey('33'),
      stranger: await agreementKey('44'),
    });
  }
});
const party = (p: CryptoProvider): Party => parties.get(p)!;

/** Content bytes of any size across the first buckets, with a bias to bucket edges. */
const contentArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.integer({ min: 0, max: 20000 }).map((n) => new Uint8Array(n).fill(0x61)),
  fc
    .constantFrom(187, 188, 251, 252, 955, 956, 1019, 1020, 4027, 4091, 65467, 65531, 65532)
    .map((n) => new Uint8Array(n)),
);

describe.each(providers)('envelope properties with $name', (provider) => {
  const other = provider === webCryptoProvider ? nodeCryptoProvider : webCryptoProvider;

  it('every single-bit flip of a chat envelope is rejected, with the code of the part it hit', async () => {
    const { keys, signer } = party(provider);
    for (const signed of [false, true]) {
      const wire = await sealChatEnvelope(
        provider,
        keys,
        new TextEncoder().encode('{"v":1}'),
        signed ? signer : undefined,
      );
      // Exhaustive: all 293 × 8 bits.
      for (let bit = 0; bit < wire.length * 8; bit++) {
        const code = await codeOf(openChatEnvelope(provider, keys, flipBit(wire, bit)));
        const expected = bit < 8 ? 'unknown-version' : bit < 72 ? 'unknown-key' : 'decrypt-failed';
        if (code !== expected) expect.fail(`bit ${bit}: ${code}, expected ${expected}`);
      }
    }
  });

  it('every single-bit flip of a direct envelope is rejected', async () => {
    const { recipient, signer } = party(provider);
    const wire = await sealDirectEnvelope(
      provider,
      recipient.publicKey,
      new TextEncoder().encode('{"v":1}'),
      signer,
    );
    for (let bit = 0; bit < wire.length * 8; bit++) {
      const code = await codeOf(openDirectEnvelope(provider, recipient, flipBit(wire, bit)));
      const expected = bit < 8 ? 'unknown-version' : 'decrypt-failed';
      if (code !== expected) expect.fail(`bit ${bit}: ${code}, expected ${expected}`);
    }
  });

  it('a bit flip anywhere in a random-size envelope is rejected', async () => {
    const { keys, recipient, signer } = party(provider);
    await fc.assert(
      fc.asyncProperty(contentArb, fc.boolean(), fc.nat(), async (content, direct, position) => {
        const wire = direct
          ? await sealDirectEnvelope(provider, recipient.publicKey, content, signer)
          : await sealChatEnvelope(provider, keys, content);
        const flipped = flipBit(wire, position % (wire.length * 8));
        await codeOf(
          direct
            ? openDirectEnvelope(provider, recipient, flipped)
            : openChatEnvelope(provider, keys, flipped),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('content of any size round-trips, in the bucket of its framed length, across providers', async () => {
    const mine = party(provider);
    const theirs = party(other);
    await fc.assert(
      fc.asyncProperty(contentArb, fc.boolean(), fc.boolean(), async (content, direct, signed) => {
        let opened: { content: Uint8Array; signature?: Uint8Array };
        let wire: Uint8Array;
        if (direct) {
          wire = await sealDirectEnvelope(provider, mine.recipient.publicKey, content, mine.signer);
          opened = await openDirectEnvelope(other, theirs.recipient, wire);
          expect(wire.length - 33 - 16).toBe(paddedLength(5 + content.length + 64));
        } else {
          wire = await sealChatEnvelope(provider, mine.keys, content, signed ? mine.signer : undefined);
          opened = await openChatEnvelope(other, theirs.keys, wire);
          expect(wire.length - 9 - 12 - 16).toBe(paddedLength(5 + content.length + (signed ? 64 : 0)));
        }
        expect(opened.content).toEqual(content);
        expect(opened.signature !== undefined).toBe(direct || signed);
      }),
      { numRuns: RUNS },
    );
  });

  it('wrong keys are rejected: another epoch, another recipient', async () => {
    const { keys, otherKeys, recipient, stranger, signer } = party(provider);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (content) => {
        const chat = await sealChatEnvelope(provider, keys, content);
        expect(await codeOf(openChatEnvelope(provider, otherKeys, chat))).toBe('unknown-key');
        expect(
          await codeOf(
            openChatEnvelope(provider, { keyId: keys.keyId, messageKey: otherKeys.messageKey }, chat),
          ),
        ).toBe('decrypt-failed');
        const direct = await sealDirectEnvelope(provider, recipient.publicKey, content, signer);
        expect(await codeOf(openDirectEnvelope(provider, stranger, direct))).toBe('decrypt-failed');
      }),
      { numRuns: 50 },
    );
  });

  it('random bytes never crash the decoders: only HushProtocolError', async () => {
    const { keys, recipient } = party(provider);
    const versioned = fc
      .tuple(fc.constantFrom(0, 1, 2, 3, 0xff), fc.uint8Array({ maxLength: 1400 }))
      .map(([v, rest]) => new Uint8Array([v, ...rest]));
    // Also random bodies behind a header that routes to this key, so the AEAD itself is reached.
    const routed = fc
      .uint8Array({ minLength: 260, maxLength: 1400 })
      .map((rest) => new Uint8Array([1, ...keys.keyId, ...rest]));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 400 }), versioned, routed), async (wire) => {
        const attempts: (() => unknown)[] = [
          () => openChatEnvelope(provider, keys, wire),
          () => openDirectEnvelope(provider, recipient, wire),
          () => peekEnvelope(wire),
          () => decodePlaintext(wire),
        ];
        for (const attempt of attempts) {
          try {
            await attempt();
          } catch (error) {
            if (!(error instanceof HushProtocolError)) throw error;
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});
