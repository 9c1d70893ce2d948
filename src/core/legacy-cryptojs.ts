// Legacy reader: opens what `CryptoJS.AES.encrypt(text, passphrase).toString()` produced, so people can
// move their history off a chat built the seed's way. Hush only ever reads this format, never writes it.
//
// Format (OpenSSL `enc`, https://docs.openssl.org/3.0/man1/openssl-enc/): base64("Salted__" ‖ salt ‖ ct),
// an 8-byte random salt, then AES-256-CBC ciphertext with PKCS#7 padding. Key and IV come from OpenSSL's
// EVP_BytesToKey (https://docs.openssl.org/3.0/man3/EVP_BytesToKey/) with MD5 and 1 iteration:
// D1 = MD5(pass ‖ salt), Di = MD5(D(i-1) ‖ pass ‖ salt); key = bytes 0..31 of D1‖D2‖D3, IV = bytes 32..47.
// The same bytes as `openssl enc -aes-256-cbc -md md5 -a -salt`.
//
// DANGER: there is no MAC. Anyone can flip ciphertext bits to flip plaintext bits (malleable), a guess
// costs one MD5, and nothing says who wrote the message. Show such plaintext as legacy/unauthenticated.
// A wrong passphrase is caught only by chance: WebCrypto checks the PKCS#7 padding and we insist on strict
// UTF-8 (as CryptoJS's Utf8 decoder does), which together reject all but about one wrong key in a million
// for a one-block message, and far fewer for longer ones (see the measured numbers in the tests).

import { md5 } from '@noble/hashes/legacy.js';

/** Why a legacy ciphertext could not be opened. */
export type LegacyDecryptReason =
  | 'not-base64'
  | 'not-salted'
  | 'too-short'
  | 'too-long'
  | 'bad-length'
  | 'bad-passphrase'
  | 'bad-padding'
  | 'not-utf8';

/** Every failure of the legacy reader; `reason` is stable, the message is for people. */
export class LegacyDecryptError extends Error {
  constructor(
    readonly reason: LegacyDecryptReason,
    message: string,
  ) {
    super(`legacy: ${message}`);
    this.name = 'LegacyDecryptError';
  }
}

/** What a legacy ciphertext held. The protection is always the same: none beyond secrecy. */
export interface LegacyPlaintext {
  plaintext: string;
  protection: 'legacy-unauthenticated';
}

/** Bytes on a plain ArrayBuffer, as WebCrypto takes them. */
type Bytes = Uint8Array<ArrayBuffer>;

/** The 8 bytes "Salted__" that open every passphrase-mode ciphertext (base64 `U2FsdGVkX1`). */
const SALTED_MAGIC = new Uint8Array([0x53, 0x61, 0x6c, 0x74, 0x65, 0x64, 0x5f, 0x5f]);
const SALT_BYTES = 8;
const HEADER_BYTES = SALTED_MAGIC.length + SALT_BYTES;
const BLOCK_BYTES = 16;
const KEY_BYTES = 32;
const IV_BYTES = 16;
/** Largest ciphertext body accepted (16 MiB): far beyond any chat message, small enough not to hurt. */
export const MAX_LEGACY_CIPHERTEXT_BYTES = 16 * 1024 * 1024;

/**
 * Decrypts one CryptoJS passphrase-mode ciphertext (`U2FsdGVkX1…`). Unauthenticated: the plaintext may
 * have been altered by anyone on the path, and a wrong passphrase may (rarely) yield garbage text.
 *
 * The passphrase is a string on purpose — the one place in Hush where key material arrives as a string:
 * CryptoJS treated a string key as a passphrase and hashed its UTF-8 encoding (CryptoJS.enc.Utf8.parse),
 * and a string is what the seed's users typed and stored. We encode it the same way; a string CryptoJS
 * could not encode (a lone UTF-16 surrogate, where encodeURIComponent throws) is refused, since no
 * ciphertext can have been made with it. Whitespace anywhere in the base64 is ignored, so the output of
 * `openssl enc -a`, wrapped at 64 columns, is read as well.
 */
export async function decryptLegacyCryptoJs(
  ciphertextBase64: string,
  passphrase: string,
): Promise<LegacyPlaintext> {
  if (typeof ciphertextBase64 !== 'string') {
    throw new LegacyDecryptError(
      'not-base64',
      `ciphertext should be a base64 string, got: ${typeof ciphertextBase64}`,
    );
  }
  if (typeof passphrase !== 'string') {
    throw new LegacyDecryptError(
      'bad-passphrase',
      `passphrase should be a string, got: ${typeof passphrase}`,
    );
  }
  const data = decodeBase64(ciphertextBase64);
  const { salt, body } = splitSalted(data);
  const password = encodePassphrase(passphrase);
  const derived = evpBytesToKeyMd5(password, salt, KEY_BYTES + IV_BYTES);
  password.fill(0);
  let padded: Bytes;
  try {
    padded = await aes256CbcDecrypt(derived.subarray(0, KEY_BYTES), derived.subarray(KEY_BYTES), body);
  } finally {
    derived.fill(0); // WebCrypto copied key and IV when called
  }
  return { plaintext: decodeUtf8Strict(padded), protection: 'legacy-unauthenticated' };
}

/** Checks the "Salted__" header and the sizes; returns the salt and the ciphertext body. */
function splitSalted(data: Bytes): { salt: Bytes; body: Bytes } {
  if (data.length < SALTED_MAGIC.length || !SALTED_MAGIC.every((byte, i) => data[i] === byte)) {
    throw new LegacyDecryptError(
      'not-salted',
      'ciphertext does not start with "Salted__" (base64 U2FsdGVkX1): not CryptoJS passphrase mode',
    );
  }
  const bodyLength = data.length - HEADER_BYTES;
  if (bodyLength < BLOCK_BYTES) {
    throw new LegacyDecryptError(
      'too-short',
      `ciphertext too short: should be at least ${HEADER_BYTES + BLOCK_BYTES} bytes, got: ${data.length}`,
    );
  }
  if (bodyLength > MAX_LEGACY_CIPHERTEXT_BYTES) {
    throw new LegacyDecryptError(
      'too-long',
      `ciphertext too long: at most ${MAX_LEGACY_CIPHERTEXT_BYTES} bytes after the salt, got: ${bodyLength}`,
    );
  }
  if (bodyLength % BLOCK_BYTES !== 0) {
    throw new LegacyDecryptError(
      'bad-length',
      `wrong ciphertext size: should be a multiple of ${BLOCK_BYTES} bytes after the salt, got: ${bodyLength}`,
    );
  }
  return { salt: data.subarray(SALTED_MAGIC.length, HEADER_BYTES), body: data.subarray(HEADER_BYTES) };
}

/** UTF-8 of the passphrase exactly as CryptoJS.enc.Utf8.parse makes it; refuses lone surrogates like it. */
function encodePassphrase(passphrase: string): Uint8Array {
  // TextEncoder would silently turn a lone surrogate into U+FFFD; CryptoJS throws instead.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(passphrase)) {
    throw new LegacyDecryptError(
      'bad-passphrase',
      'passphrase is not well-formed Unicode (lone surrogate): CryptoJS cannot have encrypted with it',
    );
  }
  return new TextEncoder().encode(passphrase);
}

/** OpenSSL EVP_BytesToKey with MD5 and one iteration: D1 = MD5(pass‖salt), Di = MD5(D(i-1)‖pass‖salt). */
export function evpBytesToKeyMd5(password: Uint8Array, salt: Uint8Array, length: number): Bytes {
  if (salt.length !== SALT_BYTES) {
    throw new LegacyDecryptError(
      'not-salted',
      `wrong salt size: should be ${SALT_BYTES}, got: ${salt.length}`,
    );
  }
  const out = new Uint8Array(length);
  let previous = new Uint8Array(0);
  for (let filled = 0; filled < length; filled += previous.length) {
    const input = new Uint8Array(previous.length + password.length + salt.length);
    input.set(previous, 0);
    input.set(password, previous.length);
    input.set(salt, previous.length + password.length);
    previous.fill(0);
    previous = md5(input);
    input.fill(0);
    out.set(previous.subarray(0, length - filled), filled);
  }
  previous.fill(0);
  return out;
}

/** AES-256-CBC decryption with PKCS#7 unpadding (WebCrypto checks the padding). Unauthenticated. */
async function aes256CbcDecrypt(key: Bytes, iv: Bytes, body: Bytes): Promise<Bytes> {
  const subtle = globalThis.crypto.subtle;
  const cryptoKey = await subtle.importKey('raw', key, { name: 'AES-CBC' }, false, ['decrypt']);
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-CBC', iv }, cryptoKey, body));
  } catch {
    // The only way CBC decryption of a whole number of blocks fails is a bad PKCS#7 padding.
    throw new LegacyDecryptError(
      'bad-padding',
      'bad padding after decryption: wrong passphrase or damaged ciphertext',
    );
  }
}

/** Strict UTF-8, keeping a leading BOM, as CryptoJS.enc.Utf8.stringify (decodeURIComponent) does. */
function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new LegacyDecryptError(
      'not-utf8',
      'plaintext is not valid UTF-8: wrong passphrase or damaged ciphertext',
    );
  } finally {
    bytes.fill(0);
  }
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = new Map([...BASE64_ALPHABET].map((char, value) => [char, value]));

/**
 * Standard base64 (RFC 4648 §4) as CryptoJS and `openssl enc -a` write it. ASCII whitespace is skipped;
 * '=' padding may be left out but must be right if present; unused trailing bits must be zero.
 */
function decodeBase64(text: string): Bytes {
  const compact = text.replace(/[ \t\r\n]/g, '');
  if (compact.length > Math.ceil((HEADER_BYTES + MAX_LEGACY_CIPHERTEXT_BYTES) / 3) * 4) {
    throw new LegacyDecryptError(
      'too-long',
      `ciphertext too long: at most ${MAX_LEGACY_CIPHERTEXT_BYTES} bytes after the salt`,
    );
  }
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(compact);
  const digits = match?.[1] ?? '';
  const padding = match?.[2] ?? '';
  const tail = digits.length % 4;
  const paddingOk = padding === '' || (tail === 2 && padding === '==') || (tail === 3 && padding === '=');
  if (match === null || tail === 1 || !paddingOk) {
    throw new LegacyDecryptError('not-base64', 'ciphertext is not standard base64');
  }
  const out = new Uint8Array(Math.floor((digits.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (const char of digits) {
    buffer = ((buffer << 6) | (BASE64_VALUES.get(char) ?? 0)) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) {
    throw new LegacyDecryptError('not-base64', 'ciphertext is not canonical base64 (stray trailing bits)');
  }
  return out;
}
