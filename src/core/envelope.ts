// Chat envelope, version byte 0x01 (docs/PROTOCOL.md §2 "Derived from an epoch key", §3):
//
//   header = u8 0x01 ‖ keyId[8]        wire = header ‖ nonce[12] ‖ AES-256-GCM(messageKey, nonce, plaintext, aad = header)
//
// The clear header says only which epoch key to try; chat id, sender, sequence and epoch are inside. The plaintext
// framing and padding live in ./plaintext.ts. A group message carries an Ed25519 signature over
// "hush/v1 sig" ‖ header ‖ content; opening does not check it, because only the content names the sender — the
// caller verifies with verifyContentSignature once it has looked the sender up.

import type { CryptoProvider, SigningPrivateKey } from './crypto/provider.ts';
import { HushProtocolError, fail } from './errors.ts';
import { concat, equalBytes, utf8 } from './bytes.ts';
import { decodePlaintext, encodePlaintext } from './plaintext.ts';
import { MAX_PLAINTEXT_BYTES } from './padding.ts';
import { isStrongSigningKey } from './signing-key.ts';

/** Version byte of the chat envelope (§3). */
export const CHAT_ENVELOPE_VERSION = 0x01;
/** Version byte of the direct envelope (§4, ./sealed-box.ts). */
export const DIRECT_ENVELOPE_VERSION = 0x02;
export const KEY_ID_BYTES = 8;
export const MESSAGE_KEY_BYTES = 32;
export const EPOCH_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const CHAT_HEADER_BYTES = 1 + KEY_ID_BYTES;
export const DIRECT_HEADER_BYTES = 1 + 32;
/** Smallest plaintext: the first padding bucket. Anything shorter on the wire cannot be an envelope. */
const MIN_PLAINTEXT_BYTES = 256;
const MIN_CHAT_WIRE = CHAT_HEADER_BYTES + NONCE_BYTES + MIN_PLAINTEXT_BYTES + TAG_BYTES;
const MAX_CHAT_WIRE = CHAT_HEADER_BYTES + NONCE_BYTES + MAX_PLAINTEXT_BYTES + TAG_BYTES;
const MIN_DIRECT_WIRE = DIRECT_HEADER_BYTES + MIN_PLAINTEXT_BYTES + TAG_BYTES;
const MAX_DIRECT_WIRE = DIRECT_HEADER_BYTES + MAX_PLAINTEXT_BYTES + TAG_BYTES;

const KEY_ID_INFO = utf8('hush/v1 key id');
const MESSAGE_KEY_INFO = utf8('hush/v1 message key');
/** Domain label of every content signature, chat or direct (§3, §4). */
const SIGNATURE_LABEL = utf8('hush/v1 sig');
const EMPTY = new Uint8Array(0);

/** What an epoch key yields (§2): the clear key id and the AEAD key. Derive once per epoch and keep. */
export interface EpochKeys {
  keyId: Uint8Array /* 8 */;
  messageKey: Uint8Array /* 32 */;
}

/** Derives keyId and messageKey from a 32-byte epoch key (HKDF-SHA256, empty salt). */
export async function deriveEpochKeys(provider: CryptoProvider, epochKey: Uint8Array): Promise<EpochKeys> {
  if (!(epochKey instanceof Uint8Array) || epochKey.length !== EPOCH_KEY_BYTES) {
    fail('malformed', `envelope: epoch key should be ${EPOCH_KEY_BYTES} bytes, got ${epochKey?.length}`);
  }
  const [keyId, messageKey] = await Promise.all([
    provider.hkdfSha256(epochKey, EMPTY, KEY_ID_INFO, KEY_ID_BYTES),
    provider.hkdfSha256(epochKey, EMPTY, MESSAGE_KEY_INFO, MESSAGE_KEY_BYTES),
  ]);
  return { keyId, messageKey };
}

/**
 * Reads the clear header of either envelope, to route it (which epoch key, or that it is a sealed box). Checks
 * only the version byte and the length bounds; nothing read here is authenticated yet.
 */
export function peekEnvelope(
  wire: Uint8Array,
): { version: 1; keyId: Uint8Array } | { version: 2; ephemeralPublic: Uint8Array } {
  if (!(wire instanceof Uint8Array) || wire.length === 0) fail('malformed', 'envelope: empty or not bytes');
  const version = wire[0]!;
  // An unknown version is never read as a known one (§8): later versions (ratchets) must not be downgraded.
  if (version === CHAT_ENVELOPE_VERSION) {
    checkWireLength(wire, MIN_CHAT_WIRE, MAX_CHAT_WIRE, 'chat');
    return { version: 1, keyId: wire.subarray(1, CHAT_HEADER_BYTES) };
  }
  if (version === DIRECT_ENVELOPE_VERSION) {
    checkWireLength(wire, MIN_DIRECT_WIRE, MAX_DIRECT_WIRE, 'direct');
    return { version: 2, ephemeralPublic: wire.subarray(1, DIRECT_HEADER_BYTES) };
  }
  return fail('unknown-version', `envelope: unknown version byte 0x${version.toString(16).padStart(2, '0')}`);
}

function checkWireLength(wire: Uint8Array, min: number, max: number, what: string): void {
  if (wire.length < min) {
    fail('malformed', `envelope: ${what} envelope too short: ${wire.length} < ${min} bytes`);
  }
  if (wire.length > max) {
    fail('malformed', `envelope: ${what} envelope too long: ${wire.length} > ${max} bytes`);
  }
}

/** The bytes an Ed25519 content signature covers: "hush/v1 sig" ‖ header ‖ content (§3, §4). */
export function signedData(header: Uint8Array, content: Uint8Array): Uint8Array {
  return concat(SIGNATURE_LABEL, header, content);
}

/**
 * Seals content (UTF-8 JSON, ≤ 1 MiB) under an epoch's keys; signs it when `signer` is given (groups of more
 * than two devices must; 1:1 chats must not, §3). `opts.nonce` is for test vectors only: reusing a nonce under
 * one key breaks AES-GCM entirely.
 */
export async function sealChatEnvelope(
  provider: CryptoProvider,
  keys: EpochKeys,
  content: Uint8Array,
  signer?: { privateKey: SigningPrivateKey },
  opts?: { nonce?: Uint8Array /* tests/vectors only */ },
): Promise<Uint8Array> {
  checkEpochKeys(keys);
  const nonce = opts?.nonce ?? globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
    fail('malformed', `envelope: nonce should be ${NONCE_BYTES} bytes, got ${nonce?.length}`);
  }
  // header ‖ nonce, which the provider writes the ciphertext behind: one buffer, no copy of the whole body.
  const prefix = new Uint8Array(CHAT_HEADER_BYTES + NONCE_BYTES);
  prefix[0] = CHAT_ENVELOPE_VERSION;
  prefix.set(keys.keyId, 1);
  prefix.set(nonce, CHAT_HEADER_BYTES);
  const header = prefix.subarray(0, CHAT_HEADER_BYTES);
  const signature = signer ? await provider.sign(signer.privateKey, signedData(header, content)) : undefined;
  const plaintext = encodePlaintext(signature ? { content, signature } : { content });
  const wire = await provider.aesGcmEncrypt(keys.messageKey, nonce, plaintext, header, prefix);
  // A provider that ignored the prefix would put the ciphertext where the header belongs: never send that.
  if (
    wire.length !== prefix.length + plaintext.length + TAG_BYTES ||
    !equalBytes(wire.subarray(0, prefix.length), prefix)
  ) {
    fail('malformed', 'envelope: crypto provider did not return header ‖ nonce ‖ ciphertext');
  }
  return wire;
}

/**
 * Opens a chat envelope with the keys its keyId names. Throws 'unknown-version', 'malformed', 'unknown-key' (keyId
 * is not this epoch's), 'decrypt-failed' (tampered or wrong key) or 'bad-padding'. The signature, if any, is NOT
 * verified here: call verifyContentSignature with the sender's key, and require one in groups ('unsigned').
 */
export async function openChatEnvelope(
  provider: CryptoProvider,
  keys: EpochKeys,
  wire: Uint8Array,
): Promise<{ content: Uint8Array; signature?: Uint8Array; header: Uint8Array }> {
  checkEpochKeys(keys);
  const peeked = peekEnvelope(wire);
  if (peeked.version !== 1) {
    fail('malformed', `envelope: version ${peeked.version} is a direct envelope (sealed box)`);
  }
  if (!equalBytes(peeked.keyId, keys.keyId)) {
    fail('unknown-key', 'envelope: key id does not match this epoch key');
  }
  // Copies, so that callers may keep the results while the wire buffer is reused.
  const header = wire.slice(0, CHAT_HEADER_BYTES);
  const nonce = wire.slice(CHAT_HEADER_BYTES, CHAT_HEADER_BYTES + NONCE_BYTES);
  const body = wire.subarray(CHAT_HEADER_BYTES + NONCE_BYTES);
  const plaintext = await decryptOrFail(provider, keys.messageKey, nonce, body, header, 'envelope');
  return { ...decodePlaintext(plaintext), header };
}

/** Checks an Ed25519 content signature over "hush/v1 sig" ‖ header ‖ content; false on any mismatch or bad key. */
export async function verifyContentSignature(
  provider: CryptoProvider,
  signerPublic: Uint8Array,
  header: Uint8Array,
  content: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  // A small-order key would make a forged signature verify; never trust one (see signing-key.ts).
  if (!isStrongSigningKey(signerPublic)) return false;
  return provider.verify(signerPublic, signature, signedData(header, content));
}

function checkEpochKeys(keys: EpochKeys): void {
  if (!(keys?.keyId instanceof Uint8Array) || keys.keyId.length !== KEY_ID_BYTES) {
    fail('malformed', `envelope: key id should be ${KEY_ID_BYTES} bytes`);
  }
  if (!(keys.messageKey instanceof Uint8Array) || keys.messageKey.length !== MESSAGE_KEY_BYTES) {
    fail('malformed', `envelope: message key should be ${MESSAGE_KEY_BYTES} bytes`);
  }
}

/**
 * AES-GCM decryption with every provider failure (tag mismatch, OperationError, OpenSSL error) mapped to
 * 'decrypt-failed': which of these happened says nothing useful to an attacker or a user.
 */
export async function decryptOrFail(
  provider: CryptoProvider,
  key: Uint8Array,
  nonce: Uint8Array,
  body: Uint8Array,
  aad: Uint8Array,
  piece: 'envelope' | 'sealed box',
): Promise<Uint8Array> {
  try {
    return await provider.aesGcmDecrypt(key, nonce, body, aad);
  } catch (error) {
    if (error instanceof HushProtocolError) throw error;
    return fail('decrypt-failed', `${piece}: decryption failed (wrong key or tampered)`);
  }
}
