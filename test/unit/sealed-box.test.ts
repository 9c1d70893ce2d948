// Direct envelope, the sealed box (docs/PROTOCOL.md §4).
import { describe, expect, it } from 'vitest';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import { HushProtocolError, type ProtocolErrorCode } from '../../src/core/errors.ts';
import { concat, utf8 } from '../../src/core/bytes.ts';
import { peekEnvelope, verifyContentSignature } from '../../src/core/envelope.ts';
import { encodePlaintext } from '../../src/core/plaintext.ts';
import { openDirectEnvelope, sealDirectEnvelope } from '../../src/core/sealed-box.ts';

async function expectCode(promise: Promise<unknown>, code: ProtocolErrorCode): Promise<HushProtocolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HushProtocolError);
  expect((error as HushProtocolError).code).toBe(code);
  return error as HushProtocolError;
}

const announcement = utf8('{"v":1,"kind":"epoch","to":"bob","key":"…"}');

describe.each([webCryptoProvider, nodeCryptoProvider])('sealed box with $name', (provider) => {
  it('the recipient opens a box; the sender signature covers the header and verifies', async () => {
    const bob = await provider.generateAgreementKeyPair();
    const alice = await provider.generateSigningKeyPair();
    const wire = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    expect(wire.length).toBe(33 + 256 + 16);
    const peeked = peekEnvelope(wire);
    expect(peeked.version).toBe(2);
    const opened = await openDirectEnvelope(provider, bob, wire);
    expect(opened.content).toEqual(announcement);
    expect(opened.header).toEqual(wire.subarray(0, 33));
    expect(
      await verifyContentSignature(
        provider,
        alice.publicKey,
        opened.header,
        opened.content,
        opened.signature,
      ),
    ).toBe(true);
  });

  it('every box has a fresh ephemeral key', async () => {
    const bob = await provider.generateAgreementKeyPair();
    const alice = await provider.generateSigningKeyPair();
    const a = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    const b = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    expect(a.subarray(1, 33)).not.toEqual(b.subarray(1, 33));
  });

  it('another device cannot open a box sealed to Bob', async () => {
    const bob = await provider.generateAgreementKeyPair();
    const carol = await provider.generateAgreementKeyPair();
    const alice = await provider.generateSigningKeyPair();
    const wire = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    await expectCode(openDirectEnvelope(provider, carol, wire), 'decrypt-failed');
    // Carol claiming Bob's public key changes the HKDF salt only; her X25519 result is still wrong.
    await expectCode(
      openDirectEnvelope(provider, { privateKey: carol.privateKey, publicKey: bob.publicKey }, wire),
      'decrypt-failed',
    );
    // Bob with the wrong public key in the salt fails too: the key binds both public keys.
    await expectCode(
      openDirectEnvelope(provider, { privateKey: bob.privateKey, publicKey: carol.publicKey }, wire),
      'decrypt-failed',
    );
  });

  it('a box re-sealed around an unsigned plaintext is rejected as unsigned', async () => {
    const bob = await provider.generateAgreementKeyPair();
    const eph = await provider.generateAgreementKeyPair();
    const header = concat(new Uint8Array([2]), eph.publicKey);
    const shared = await provider.agree(eph.privateKey, bob.publicKey);
    const key = await provider.hkdfSha256(
      shared,
      concat(eph.publicKey, bob.publicKey),
      utf8('hush/v1 sealed box'),
      32,
    );
    const body = await provider.aesGcmEncrypt(
      key,
      new Uint8Array(12),
      encodePlaintext({ content: announcement }),
      header,
    );
    const error = await expectCode(openDirectEnvelope(provider, bob, concat(header, body)), 'unsigned');
    expect(error.message).toMatch(/^sealed box: /);
  });

  it('low-order ephemeral keys are rejected as malformed, whichever low-order point', async () => {
    const bob = await provider.generateAgreementKeyPair();
    const alice = await provider.generateSigningKeyPair();
    const wire = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    // u = 0 and u = 1 (orders 4 and 1) give an all-zero X25519 result for every private key.
    for (const u of [0, 1]) {
      const point = new Uint8Array(32);
      point[0] = u;
      await expectCode(
        openDirectEnvelope(provider, bob, concat(new Uint8Array([2]), point, wire.subarray(33))),
        'malformed',
      );
    }
  });

  it('an all-zero shared secret is refused even from a provider that returns it instead of failing', async () => {
    const zeros = { ...provider, agree: async () => new Uint8Array(32) };
    const bob = await provider.generateAgreementKeyPair();
    const alice = await provider.generateSigningKeyPair();
    const error = await expectCode(
      sealDirectEnvelope(zeros, bob.publicKey, announcement, alice),
      'malformed',
    );
    expect(error.message).toMatch(/all zeros/);
    const wire = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    await expectCode(openDirectEnvelope(zeros, bob, wire), 'malformed');
  });

  it('refuses to seal to a low-order or mis-sized recipient key', async () => {
    const alice = await provider.generateSigningKeyPair();
    await expectCode(sealDirectEnvelope(provider, new Uint8Array(32), announcement, alice), 'malformed');
    await expectCode(sealDirectEnvelope(provider, new Uint8Array(31), announcement, alice), 'malformed');
  });

  it('rejects chat envelopes, unknown versions and truncated boxes', async () => {
    const bob = await provider.generateAgreementKeyPair();
    const alice = await provider.generateSigningKeyPair();
    const wire = await sealDirectEnvelope(provider, bob.publicKey, announcement, alice);
    const asChat = concat(new Uint8Array([1]), new Uint8Array(8 + 12 + 256 + 16));
    await expectCode(openDirectEnvelope(provider, bob, asChat), 'malformed');
    const v3 = wire.slice();
    v3[0] = 3;
    await expectCode(openDirectEnvelope(provider, bob, v3), 'unknown-version');
    await expectCode(openDirectEnvelope(provider, bob, wire.subarray(0, wire.length - 1)), 'malformed');
  });
});
