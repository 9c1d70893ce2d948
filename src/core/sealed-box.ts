// Direct envelope, version byte 0x02: a sealed box to one device's X25519 key (docs/PROTOCOL.md §4):
//
//   header = u8 0x02 ‖ ephemeralPublic[32]
//   key    = HKDF(X25519(ephemeralPrivate, recipientPublic), salt = ephemeralPublic ‖ recipientPublic,
//                 info = "hush/v1 sealed box", 32)
//   wire   = header ‖ AES-256-GCM(key, nonce = 12 zero bytes, plaintext, aad = header)
//
// Each box has a fresh ephemeral key, so its AEAD key is used once and the fixed nonce is safe. The plaintext
// (./plaintext.ts) is always signed by the sender over "hush/v1 sig" ‖ header ‖ content; the signer's key is
// named inside the content, so the caller verifies it (verifyContentSignature) and checks `to` is itself.

import type {
  AgreementKeyPair,
  AgreementPrivateKey,
  CryptoProvider,
  SigningPrivateKey,
} from './crypto/provider.ts';
import { fail } from './errors.ts';
import { concat, utf8 } from './bytes.ts';
import { decodePlaintext, encodePlaintext } from './plaintext.ts';
import {
  DIRECT_ENVELOPE_VERSION,
  DIRECT_HEADER_BYTES,
  decryptOrFail,
  peekEnvelope,
  signedData,
} from './envelope.ts';

const X25519_KEY_BYTES = 32;
const SEALED_BOX_INFO = utf8('hush/v1 sealed box');
/** The AEAD key is single-use (fresh ephemeral key per box), so the nonce can be fixed (§4). */
const ZERO_NONCE = new Uint8Array(12);

/**
 * Seals signed content to one device's X25519 public key. `opts.ephemeral` is for test vectors only: reusing an
 * ephemeral key for the same recipient reuses the AES-GCM key and nonce, which breaks confidentiality.
 */
export async function sealDirectEnvelope(
  provider: CryptoProvider,
  recipientAgreementPublic: Uint8Array,
  content: Uint8Array,
  signer: { privateKey: SigningPrivateKey },
  opts?: { ephemeral?: AgreementKeyPair /* vectors */ },
): Promise<Uint8Array> {
  checkPublicKey(recipientAgreementPublic, 'recipient key');
  if (!signer?.privateKey) {
    fail('malformed', 'sealed box: a signer is required (direct envelopes are always signed)');
  }
  const ephemeral = opts?.ephemeral ?? (await provider.generateAgreementKeyPair(false));
  checkPublicKey(ephemeral.publicKey, 'ephemeral key');
  const header = concat(new Uint8Array([DIRECT_ENVELOPE_VERSION]), ephemeral.publicKey);
  const key = await boxKey(
    provider,
    ephemeral.privateKey,
    recipientAgreementPublic,
    ephemeral.publicKey,
    recipientAgreementPublic,
  );
  try {
    const signature = await provider.sign(signer.privateKey, signedData(header, content));
    const plaintext = encodePlaintext({ content, signature });
    return concat(header, await provider.aesGcmEncrypt(key, ZERO_NONCE, plaintext, header));
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a sealed box addressed to `recipient`. Throws 'unknown-version', 'malformed' (incl. a low-order ephemeral
 * key), 'decrypt-failed', 'bad-padding' or 'unsigned'. The signature is NOT verified here: the sender's key is in
 * the content, so the caller must verify it (verifyContentSignature) and check the content's `to`.
 */
export async function openDirectEnvelope(
  provider: CryptoProvider,
  recipient: { privateKey: AgreementPrivateKey; publicKey: Uint8Array },
  wire: Uint8Array,
): Promise<{ content: Uint8Array; signature: Uint8Array; header: Uint8Array }> {
  checkPublicKey(recipient?.publicKey, 'recipient key');
  const peeked = peekEnvelope(wire);
  if (peeked.version !== 2) fail('malformed', `sealed box: version ${peeked.version} is a chat envelope`);
  const header = wire.slice(0, DIRECT_HEADER_BYTES);
  const ephemeralPublic = header.subarray(1);
  const key = await boxKey(
    provider,
    recipient.privateKey,
    ephemeralPublic,
    ephemeralPublic,
    recipient.publicKey,
  );
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptOrFail(
      provider,
      key,
      ZERO_NONCE,
      wire.subarray(DIRECT_HEADER_BYTES),
      header,
      'sealed box',
    );
  } finally {
    key.fill(0);
  }
  const { content, signature } = decodePlaintext(plaintext);
  if (signature === undefined) fail('unsigned', 'sealed box: plaintext is not signed');
  return { content, signature, header };
}

/**
 * HKDF(X25519(own, peer), salt = ephemeralPublic ‖ recipientPublic, "hush/v1 sealed box"). The salt binds both
 * public keys, so a box cannot be re-keyed through an equivalent encoding of either. The shared secret is wiped.
 */
async function boxKey(
  provider: CryptoProvider,
  ownPrivate: AgreementPrivateKey,
  peerPublic: Uint8Array,
  ephemeralPublic: Uint8Array,
  recipientPublic: Uint8Array,
): Promise<Uint8Array> {
  let shared: Uint8Array;
  try {
    shared = await provider.agree(ownPrivate, peerPublic);
  } catch {
    // Providers refuse an all-zero X25519 result. It happens exactly when the peer key is low-order, whatever our
    // private key: a property of the bytes, hence 'malformed'.
    return fail('malformed', 'sealed box: key agreement failed (low-order public key)');
  }
  if (shared.every((b) => b === 0)) {
    fail('malformed', 'sealed box: shared secret is all zeros (low-order public key)');
  }
  try {
    return await provider.hkdfSha256(shared, concat(ephemeralPublic, recipientPublic), SEALED_BOX_INFO, 32);
  } finally {
    shared.fill(0);
  }
}

function checkPublicKey(key: Uint8Array | undefined, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    fail('malformed', `sealed box: ${what} should be ${X25519_KEY_BYTES} bytes, got ${key?.length}`);
  }
}
