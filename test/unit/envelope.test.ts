// Chat envelope (docs/PROTOCOL.md §3), its plaintext framing and padding buckets.
import { describe, expect, it } from 'vitest';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import { HushProtocolError, type ProtocolErrorCode } from '../../src/core/errors.ts';
import { concat, utf8 } from '../../src/core/bytes.ts';
import { MAX_CONTENT_BYTES, MAX_PLAINTEXT_BYTES, paddedLength } from '../../src/core/padding.ts';
import { decodePlaintext, encodePlaintext } from '../../src/core/plaintext.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  peekEnvelope,
  sealChatEnvelope,
  verifyContentSignature,
} from '../../src/core/envelope.ts';

async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<HushProtocolError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(HushProtocolError);
    return error as HushProtocolError;
  }
  throw new Error('expected a HushProtocolError, but it succeeded');
}
const expectCode = async (promise: Promise<unknown> | (() => unknown), code: ProtocolErrorCode) =>
  expect((await rejection(promise)).code).toBe(code);

const epochKey = (fill: number) => new Uint8Array(32).fill(fill);
const message = utf8('{"v":1,"kind":"text","text":"hi"}');

describe('padding buckets', () => {
  it('pads to 256, 1024, 4096, 16384, 65536, then multiples of 65536', () => {
    const cases: [number, number][] = [
      [0, 256],
      [1, 256],
      [256, 256],
      [257, 1024],
      [1024, 1024],
      [1025, 4096],
      [4097, 16384],
      [16385, 65536],
      [65536, 65536],
      [65537, 131072],
      [131072, 131072],
      [131073, 196608],
      [MAX_CONTENT_BYTES + 69, MAX_PLAINTEXT_BYTES],
    ];
    for (const [n, bucket] of cases) expect(paddedLength(n), `paddedLength(${n})`).toBe(bucket);
  });

  it('refuses negative or fractional lengths', () => {
    expect(() => paddedLength(-1)).toThrow(RangeError);
    expect(() => paddedLength(1.5)).toThrow(RangeError);
  });
});

describe('plaintext framing', () => {
  it('round-trips unsigned and signed content with zero padding up to the bucket', () => {
    const signature = new Uint8Array(64).fill(7);
    const unsigned = encodePlaintext({ content: message });
    expect(unsigned.length).toBe(256);
    expect(unsigned[0]).toBe(0);
    expect(decodePlaintext(unsigned)).toEqual({ content: message });
    const signed = encodePlaintext({ content: message, signature });
    expect(signed[0]).toBe(1);
    expect(decodePlaintext(signed)).toEqual({ content: message, signature });
  });

  it('the largest content (1 MiB, signed) fits the largest plaintext', () => {
    const plaintext = encodePlaintext({
      content: new Uint8Array(MAX_CONTENT_BYTES),
      signature: new Uint8Array(64),
    });
    expect(plaintext.length).toBe(MAX_PLAINTEXT_BYTES);
    expect(decodePlaintext(plaintext).content.length).toBe(MAX_CONTENT_BYTES);
  });

  it('refuses to encode content over 1 MiB or a signature that is not 64 bytes', async () => {
    await expectCode(() => encodePlaintext({ content: new Uint8Array(MAX_CONTENT_BYTES + 1) }), 'malformed');
    await expectCode(() => encodePlaintext({ content: message, signature: new Uint8Array(63) }), 'malformed');
  });

  it('rejects reserved flag bits, overruns, non-zero padding, wrong buckets and oversize plaintexts', async () => {
    const good = () => encodePlaintext({ content: message });
    const withByte = (i: number, v: number) => {
      const p = good();
      p[i] = v;
      return p;
    };
    await expectCode(() => decodePlaintext(withByte(0, 0x80)), 'malformed');
    await expectCode(() => decodePlaintext(withByte(0, 0x02)), 'malformed');
    await expectCode(() => decodePlaintext(withByte(4, 252)), 'malformed'); // 5 + 252 > 256
    await expectCode(() => decodePlaintext(withByte(1, 0x10)), 'malformed'); // length > 1 MiB
    await expectCode(() => decodePlaintext(withByte(255, 1)), 'bad-padding');
    await expectCode(() => decodePlaintext(concat(good(), new Uint8Array(768))), 'bad-padding');
    await expectCode(() => decodePlaintext(good().subarray(0, 200)), 'bad-padding');
    await expectCode(() => decodePlaintext(new Uint8Array(3)), 'malformed');
    await expectCode(() => decodePlaintext(new Uint8Array(MAX_PLAINTEXT_BYTES + 1)), 'malformed');
  });
});

describe.each([webCryptoProvider, nodeCryptoProvider])('chat envelope with $name', (provider) => {
  it('derives an 8-byte key id and a 32-byte message key, different per epoch key', async () => {
    const a = await deriveEpochKeys(provider, epochKey(1));
    const b = await deriveEpochKeys(provider, epochKey(2));
    expect(a.keyId.length).toBe(8);
    expect(a.messageKey.length).toBe(32);
    expect(a.keyId).not.toEqual(b.keyId);
    expect(a.messageKey).not.toEqual(b.messageKey);
    await expectCode(deriveEpochKeys(provider, new Uint8Array(16)), 'malformed');
  });

  it('an unsigned 1:1 message opens to the same content, 9 + 12 + 256 + 16 bytes on the wire', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    const wire = await sealChatEnvelope(provider, keys, message);
    expect(wire.length).toBe(293);
    expect(wire[0]).toBe(1);
    expect(wire.subarray(1, 9)).toEqual(keys.keyId);
    expect(peekEnvelope(wire)).toEqual({ version: 1, keyId: keys.keyId });
    const opened = await openChatEnvelope(provider, keys, wire);
    expect(opened.content).toEqual(message);
    expect(opened.signature).toBeUndefined();
    expect(opened.header).toEqual(wire.subarray(0, 9));
  });

  it('two seals of one message differ (random nonce)', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    expect(await sealChatEnvelope(provider, keys, message)).not.toEqual(
      await sealChatEnvelope(provider, keys, message),
    );
  });

  it('a signed group message carries a signature that verifies only with the sender key and this header', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    const alice = await provider.generateSigningKeyPair();
    const mallory = await provider.generateSigningKeyPair();
    const opened = await openChatEnvelope(
      provider,
      keys,
      await sealChatEnvelope(provider, keys, message, alice),
    );
    const signature = opened.signature!;
    expect(signature.length).toBe(64);
    expect(
      await verifyContentSignature(provider, alice.publicKey, opened.header, opened.content, signature),
    ).toBe(true);
    expect(
      await verifyContentSignature(provider, mallory.publicKey, opened.header, opened.content, signature),
    ).toBe(false);
    // The key id is in the signed data: a member cannot move a signed content to another epoch.
    const otherHeader = concat(new Uint8Array([1]), (await deriveEpochKeys(provider, epochKey(2))).keyId);
    expect(
      await verifyContentSignature(provider, alice.publicKey, otherHeader, opened.content, signature),
    ).toBe(false);
    expect(
      await verifyContentSignature(provider, alice.publicKey, opened.header, utf8('{}'), signature),
    ).toBe(false);
    expect(
      await verifyContentSignature(provider, new Uint8Array(31), opened.header, opened.content, signature),
    ).toBe(false);
  });

  it('a message under another epoch key is unknown-key; a forged key id with the wrong key is decrypt-failed', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    const other = await deriveEpochKeys(provider, epochKey(2));
    const wire = await sealChatEnvelope(provider, keys, message);
    await expectCode(openChatEnvelope(provider, other, wire), 'unknown-key');
    await expectCode(
      openChatEnvelope(provider, { keyId: keys.keyId, messageKey: other.messageKey }, wire),
      'decrypt-failed',
    );
  });

  it('rejects unknown versions, direct envelopes, short and oversize wires', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    const wire = await sealChatEnvelope(provider, keys, message);
    for (const version of [0x00, 0x03, 0x7f, 0xff]) {
      const changed = wire.slice();
      changed[0] = version;
      await expectCode(openChatEnvelope(provider, keys, changed), 'unknown-version');
      await expectCode(() => peekEnvelope(changed), 'unknown-version');
    }
    const direct = concat(new Uint8Array([2]), new Uint8Array(32 + 256 + 16));
    await expectCode(openChatEnvelope(provider, keys, direct), 'malformed');
    await expectCode(openChatEnvelope(provider, keys, wire.subarray(0, 292)), 'malformed');
    await expectCode(openChatEnvelope(provider, keys, new Uint8Array(0)), 'malformed');
    await expectCode(
      openChatEnvelope(provider, keys, concat(wire, new Uint8Array(MAX_PLAINTEXT_BYTES))),
      'malformed',
    );
  });

  it('a valid AEAD around a non-canonical plaintext is rejected after decryption', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    const header = concat(new Uint8Array([1]), keys.keyId);
    const nonce = new Uint8Array(12).fill(9);
    const plaintext = encodePlaintext({ content: message });
    plaintext[200] = 1;
    const wire = concat(
      header,
      nonce,
      await provider.aesGcmEncrypt(keys.messageKey, nonce, plaintext, header),
    );
    expect((await rejection(openChatEnvelope(provider, keys, wire))).message).toMatch(
      /^plaintext: non-zero padding/,
    );
  });

  it('checks the test-only nonce and the epoch keys', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    await expectCode(
      sealChatEnvelope(provider, keys, message, undefined, { nonce: new Uint8Array(8) }),
      'malformed',
    );
    await expectCode(
      sealChatEnvelope(provider, { keyId: new Uint8Array(4), messageKey: keys.messageKey }, message),
      'malformed',
    );
  });

  it('errors name the envelope', async () => {
    const keys = await deriveEpochKeys(provider, epochKey(1));
    const wire = await sealChatEnvelope(provider, keys, message);
    wire[100]! ^= 1;
    const error = await rejection(openChatEnvelope(provider, keys, wire));
    expect(error.code).toBe('decrypt-failed');
    expect(error.message).toMatch(/^envelope: /);
  });
});
