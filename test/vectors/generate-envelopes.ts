// Generates test/vectors/envelopes.json: chat envelopes (docs/PROTOCOL.md §3) and direct envelopes (§4) from
// fixed keys, nonces and ephemeral keys, with the intermediate values a second implementation needs to find its
// bug, plus invalid inputs and the error code each must produce. Ed25519 (RFC 8032) is deterministic, so signed
// envelopes are fixed bytes too. test/unit/envelope-vectors.test.ts checks that the current code rebuilds this
// file exactly, with either provider.
//
//   npx tsx test/vectors/generate-envelopes.ts      (rewrites the file)

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { agreementPublicKey, type CryptoProvider } from '../../src/core/crypto/index.ts';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { concat, utf8 } from '../../src/core/bytes.ts';
import { deriveEpochKeys, sealChatEnvelope, signedData } from '../../src/core/envelope.ts';
import { sealDirectEnvelope } from '../../src/core/sealed-box.ts';
import { encodePlaintext } from '../../src/core/plaintext.ts';

export const VECTORS_PATH = fileURLToPath(new URL('./envelopes.json', import.meta.url));

/** PKCS#8 wrappers (RFC 8410) of a 32-byte Ed25519 seed / X25519 scalar. */
const ED25519_PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');
export const ed25519Pkcs8 = (seed: Uint8Array): Uint8Array => concat(ED25519_PKCS8_PREFIX, seed);
export const x25519Pkcs8 = (scalar: Uint8Array): Uint8Array => concat(X25519_PKCS8_PREFIX, scalar);

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`not lowercase hex: ${hex.slice(0, 20)}…`);
  return new Uint8Array(hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
}
/** 32 (or n) bytes start, start+1, … — recognisable in a hex dump. */
const counting = (start: number, n = 32): Uint8Array => new Uint8Array(n).map((_, i) => (start + i) & 0xff);

/** Ed25519 public key of a seed, via WebCrypto JWK export (the interface has no such call; not needed in the app). */
async function ed25519Public(seed: Uint8Array): Promise<Uint8Array> {
  const key = await globalThis.crypto.subtle.importKey(
    'pkcs8',
    ed25519Pkcs8(seed) as Uint8Array<ArrayBuffer>,
    { name: 'Ed25519' },
    true,
    ['sign'],
  );
  const jwk = await globalThis.crypto.subtle.exportKey('jwk', key);
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

const content = (fields: Record<string, unknown>): Uint8Array => utf8(JSON.stringify(fields));

// Fixed inputs. Ids are b64u of counting bytes, so the contents are valid §5 objects.
const CHAT_ID = 'AAECAwQFBgcICQoLDA0ODw';
const ALICE = 'EBESExQVFhcYGRobHB0eHw';
const BOB = 'ICEiIyQlJicoKSorLC0uLw';
const EPOCH_KEY = counting(0x00);
const OTHER_EPOCH_KEY = counting(0x01);
const NONCE = counting(0xa0, 12);
const SIGNING_SEED = counting(0x40);
const RECIPIENT_SCALAR = counting(0x60);
const OTHER_RECIPIENT_SCALAR = counting(0x61);
const EPHEMERAL_SCALAR = counting(0x80);

const TEXT = content({
  v: 1,
  kind: 'text',
  chat: CHAT_ID,
  epoch: 1,
  from: ALICE,
  id: 'MDEyMzQ1Njc4OTo7PD0-Pw',
  seq: 1,
  ts: 1767225600000,
  text: 'hello, hush',
});
const LONG_TEXT = content({
  v: 1,
  kind: 'text',
  chat: CHAT_ID,
  epoch: 1,
  from: ALICE,
  id: 'QEFCQ0RFRkdISUpLTE1OTw',
  seq: 2,
  ts: 1767225601000,
  text: 'x'.repeat(300), // lands in the 1024 bucket
});
const EPOCH = content({
  v: 1,
  kind: 'epoch',
  chat: CHAT_ID,
  epoch: 2,
  from: ALICE,
  id: 'UFFSU1RVVldYWVpbXF1eXw',
  seq: 0,
  ts: 1767225602000,
  to: BOB,
  key: 'AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA',
  members: [],
  admins: [ALICE],
  creator: ALICE,
});

/** Builds the whole vector file with `provider`; both providers must build the same object. */
export async function buildEnvelopeVectors(provider: CryptoProvider): Promise<Record<string, unknown>> {
  const keys = await deriveEpochKeys(provider, EPOCH_KEY);
  const otherKeys = await deriveEpochKeys(provider, OTHER_EPOCH_KEY);
  const signer = { privateKey: await provider.importSigningPrivateKey(ed25519Pkcs8(SIGNING_SEED)) };
  const signingPublic = await ed25519Public(SIGNING_SEED);
  const recipientPrivate = await provider.importAgreementPrivateKey(x25519Pkcs8(RECIPIENT_SCALAR));
  const recipientPublic = await agreementPublicKey(provider, recipientPrivate);
  const otherRecipientPrivate = await provider.importAgreementPrivateKey(x25519Pkcs8(OTHER_RECIPIENT_SCALAR));
  const otherRecipientPublic = await agreementPublicKey(provider, otherRecipientPrivate);
  const ephemeralPrivate = await provider.importAgreementPrivateKey(x25519Pkcs8(EPHEMERAL_SCALAR));
  const ephemeral = {
    privateKey: ephemeralPrivate,
    publicKey: await agreementPublicKey(provider, ephemeralPrivate),
  };

  const chatHeader = concat(new Uint8Array([0x01]), keys.keyId);
  const chat = async (name: string, body: Uint8Array, signed: boolean) => {
    const signature = signed
      ? await provider.sign(signer.privateKey, signedData(chatHeader, body))
      : undefined;
    const wire = await sealChatEnvelope(provider, keys, body, signed ? signer : undefined, { nonce: NONCE });
    return {
      name,
      epochKey: toHex(EPOCH_KEY),
      nonce: toHex(NONCE),
      signed,
      content: new TextDecoder().decode(body),
      ...(signature ? { signature: toHex(signature) } : {}),
      plaintext: toHex(encodePlaintext(signature ? { content: body, signature } : { content: body })),
      wire: toHex(wire),
    };
  };

  const directHeader = concat(new Uint8Array([0x02]), ephemeral.publicKey);
  const shared = await provider.agree(ephemeralPrivate, recipientPublic);
  const boxKey = await provider.hkdfSha256(
    shared,
    concat(ephemeral.publicKey, recipientPublic),
    utf8('hush/v1 sealed box'),
    32,
  );
  const directSignature = await provider.sign(signer.privateKey, signedData(directHeader, EPOCH));
  const directWire = await sealDirectEnvelope(provider, recipientPublic, EPOCH, signer, { ephemeral });

  // Invalid inputs. Each is a small, explained change to a valid envelope, or a valid AEAD around a bad plaintext.
  const validChat = await sealChatEnvelope(provider, keys, TEXT, undefined, { nonce: NONCE });
  const flip = (wire: Uint8Array, index: number, bit = 0x01): Uint8Array => {
    const out = wire.slice();
    out[index < 0 ? out.length + index : index]! ^= bit;
    return out;
  };
  const withBytes = (bytes: Uint8Array, index: number, ...values: number[]): Uint8Array => {
    const out = bytes.slice();
    out.set(values, index);
    return out;
  };
  const withVersion = (wire: Uint8Array, version: number): Uint8Array => withBytes(wire, 0, version);
  /** A chat envelope whose AEAD is valid but whose plaintext is edited by `edit` before sealing. */
  const chatAround = async (edit: (plaintext: Uint8Array) => Uint8Array) =>
    concat(
      chatHeader,
      NONCE,
      await provider.aesGcmEncrypt(
        keys.messageKey,
        NONCE,
        edit(encodePlaintext({ content: TEXT })),
        chatHeader,
      ),
    );
  const directAround = async (plaintext: Uint8Array) =>
    concat(directHeader, await provider.aesGcmEncrypt(boxKey, new Uint8Array(12), plaintext, directHeader));

  const chatInvalid = (name: string, wire: Uint8Array, error: string, why: string, epochKey = EPOCH_KEY) => ({
    name,
    type: 'chat',
    epochKey: toHex(epochKey),
    wire: toHex(wire),
    error,
    why,
  });
  const directInvalid = (
    name: string,
    wire: Uint8Array,
    error: string,
    why: string,
    scalar = RECIPIENT_SCALAR,
  ) => ({
    name,
    type: 'direct',
    recipientPrivate: toHex(scalar),
    wire: toHex(wire),
    error,
    why,
  });

  const invalid = [
    chatInvalid(
      'chat: flipped tag bit',
      flip(validChat, -1),
      'decrypt-failed',
      'last byte of the GCM tag, bit 0',
    ),
    chatInvalid('chat: flipped nonce bit', flip(validChat, 9), 'decrypt-failed', 'first nonce byte, bit 0'),
    chatInvalid(
      'chat: flipped ciphertext bit',
      flip(validChat, 21, 0x80),
      'decrypt-failed',
      'first body byte',
    ),
    chatInvalid(
      'chat: flipped key id bit',
      flip(validChat, 1),
      'unknown-key',
      'key id no longer names the epoch',
    ),
    chatInvalid(
      'chat: unknown version 0x03',
      withVersion(validChat, 0x03),
      'unknown-version',
      'never a fallback',
    ),
    chatInvalid('chat: version 0x00', withVersion(validChat, 0x00), 'unknown-version', 'never a fallback'),
    chatInvalid(
      'chat: wrong epoch key',
      validChat,
      'unknown-key',
      'opened with another epoch key',
      OTHER_EPOCH_KEY,
    ),
    chatInvalid(
      'chat: truncated',
      validChat.subarray(0, 100),
      'malformed',
      'shorter than the smallest envelope',
    ),
    chatInvalid('chat: empty', new Uint8Array(0), 'malformed', 'no version byte'),
    chatInvalid(
      'chat: non-zero padding',
      await chatAround((p) => withBytes(p, p.length - 1, 0x01)),
      'bad-padding',
      'last padding byte is 0x01',
    ),
    chatInvalid(
      'chat: padded to the wrong bucket',
      await chatAround((p) => concat(p, new Uint8Array(1024 - p.length))),
      'bad-padding',
      'a 256-byte plaintext zero-padded to 1024',
    ),
    chatInvalid(
      'chat: reserved flag bit',
      await chatAround((p) => withBytes(p, 0, 0x02)),
      'malformed',
      'flags = 0x02',
    ),
    chatInvalid(
      'chat: signed flag without room for the signature',
      await chatAround((p) => {
        p[0] = 0x01;
        p.set([0, 0, 0, 250], 1); // 5 + 250 + 64 > 256
        return p;
      }),
      'malformed',
      'content length 250 + a 64-byte signature overruns 256 bytes',
    ),
    chatInvalid(
      'chat: content length overrun',
      await chatAround((p) => withBytes(p, 1, 0, 0, 1, 0)),
      'malformed',
      'content length 256 in a 256-byte plaintext',
    ),
    directInvalid('direct: flipped tag bit', flip(directWire, -1), 'decrypt-failed', 'last tag byte, bit 0'),
    directInvalid(
      'direct: flipped ephemeral key bit',
      flip(directWire, 1),
      'decrypt-failed',
      'another shared secret, and the AAD changed',
    ),
    directInvalid(
      'direct: flipped top bit of the ephemeral key',
      flip(directWire, 32, 0x80),
      'decrypt-failed',
      'X25519 ignores this bit, but the HKDF salt and the AAD do not',
    ),
    directInvalid(
      'direct: unknown version 0x03',
      withVersion(directWire, 0x03),
      'unknown-version',
      'never a fallback',
    ),
    directInvalid(
      'direct: wrong recipient key',
      directWire,
      'decrypt-failed',
      'opened by another device',
      OTHER_RECIPIENT_SCALAR,
    ),
    directInvalid(
      'direct: low-order ephemeral key',
      concat(new Uint8Array([0x02]), new Uint8Array(32), directWire.subarray(33)),
      'malformed',
      'ephemeral public key 0: the shared secret would be all zeros',
    ),
    directInvalid(
      'direct: unsigned plaintext',
      await directAround(encodePlaintext({ content: EPOCH })),
      'unsigned',
      'valid AEAD around a plaintext without the signed flag',
    ),
    directInvalid(
      'direct: truncated',
      directWire.subarray(0, 200),
      'malformed',
      'shorter than the smallest box',
    ),
  ];

  return {
    description:
      'Hush envelope vectors (docs/PROTOCOL.md §3, §4). All byte strings are lowercase hex. Private keys are the ' +
      '32-byte Ed25519 seed / X25519 scalar (PKCS#8 = 302e020100300506032b6570|656e04220420 ‖ key). Generated by ' +
      'test/vectors/generate-envelopes.ts.',
    keys: {
      epochKey: toHex(EPOCH_KEY),
      keyId: toHex(keys.keyId),
      messageKey: toHex(keys.messageKey),
      otherEpochKey: toHex(OTHER_EPOCH_KEY),
      otherKeyId: toHex(otherKeys.keyId),
      signingSeed: toHex(SIGNING_SEED),
      signingPublic: toHex(signingPublic),
      recipientPrivate: toHex(RECIPIENT_SCALAR),
      recipientPublic: toHex(recipientPublic),
      otherRecipientPrivate: toHex(OTHER_RECIPIENT_SCALAR),
      otherRecipientPublic: toHex(otherRecipientPublic),
    },
    chat: [
      await chat('1:1 text, unsigned, 256 bucket', TEXT, false),
      await chat('group text, signed, 256 bucket', TEXT, true),
      await chat('group text, signed, 1024 bucket', LONG_TEXT, true),
    ],
    direct: [
      {
        name: 'epoch announcement, signed',
        recipientPrivate: toHex(RECIPIENT_SCALAR),
        recipientPublic: toHex(recipientPublic),
        ephemeralPrivate: toHex(EPHEMERAL_SCALAR),
        ephemeralPublic: toHex(ephemeral.publicKey),
        shared: toHex(shared),
        boxKey: toHex(boxKey),
        content: new TextDecoder().decode(EPOCH),
        signature: toHex(directSignature),
        plaintext: toHex(encodePlaintext({ content: EPOCH, signature: directSignature })),
        wire: toHex(directWire),
      },
    ],
    invalid,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const vectors = await buildEnvelopeVectors(webCryptoProvider);
  writeFileSync(VECTORS_PATH, JSON.stringify(vectors, null, 2) + '\n');
  console.log(`wrote ${VECTORS_PATH}`);
}
