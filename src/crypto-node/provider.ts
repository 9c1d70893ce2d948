// A CryptoProvider on node:crypto (docs/PROTOCOL.md, Notation), for Node hot paths: every primitive runs
// synchronously on OpenSSL, avoiding WebCrypto's ~50 µs per async call (see shared baselines: GCM of 200 B
// ~11 µs here against ~112 µs). It must give byte-identical results to src/core/crypto/webcrypto.ts for the
// same inputs (test/unit/crypto-providers.test.ts checks that), so the two are interchangeable on the wire.
//
// Private key handles are KeyObjects. Node can always export a KeyObject, so non-extractability is enforced
// here by bookkeeping: exportPrivateKey refuses keys not created or imported as extractable, as WebCrypto does.

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import type {
  AgreementKeyPair,
  AgreementPrivateKey,
  CryptoProvider,
  SigningKeyPair,
  SigningPrivateKey,
} from '../core/crypto/provider.ts';

const AES_KEY_BYTES = 32;
const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const CURVE_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const PUBLIC_KEY_CACHE_SIZE = 256;

/** DER SubjectPublicKeyInfo prefixes (RFC 8410) before the 32 raw key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** Private keys that may be exported (created or imported with extractable = true). */
const extractableKeys = new WeakSet<KeyObject>();

/**
 * Node returns Buffers; hand out plain Uint8Arrays (Buffer#slice shares memory, Uint8Array#slice copies). Small
 * Buffers may be slices of a shared 8 KiB pool, where `.buffer` would reach other data (earlier plaintexts), so
 * those are copied; a Buffer that owns its whole ArrayBuffer is only re-viewed.
 */
function plain(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return new Uint8Array(b.buffer);
  return new Uint8Array(b);
}

const EMPTY = new Uint8Array(0);

/**
 * a ‖ b ‖ c ‖ d in a fresh, unpooled buffer that every byte is written to: one copy, where Buffer.concat and
 * then plain() would copy small messages twice (Buffer.concat takes from the shared pool).
 */
function joinOwned(a: Uint8Array, b: Uint8Array, c: Uint8Array, d: Uint8Array): Uint8Array {
  const length = a.length + b.length + c.length + d.length;
  // allocUnsafeSlow: not zero-filled (all of it is overwritten below) and never a slice of the shared pool.
  const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
  out.set(a, 0);
  out.set(b, a.length);
  out.set(c, a.length + b.length);
  out.set(d, a.length + b.length + c.length);
  return out;
}

function checkLength(what: string, bytes: Uint8Array, expected: number): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`node-crypto: ${what} should be a Uint8Array`);
  if (bytes.length !== expected) {
    throw new RangeError(`node-crypto: ${what} should be ${expected} bytes, got ${bytes.length}`);
  }
}

function keyObjectOf(key: SigningPrivateKey | AgreementPrivateKey, kind: string): KeyObject {
  if (key?.kind !== kind) throw new TypeError(`node-crypto: expected a ${kind} key, got: ${key?.kind}`);
  if (!(key.handle instanceof KeyObject)) {
    throw new TypeError('node-crypto: private key handle is not a KeyObject (made by another provider?)');
  }
  return key.handle;
}

function rawPublic(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - CURVE_KEY_BYTES));
}

function publicKeyObject(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'spki' });
}

/** Imported Ed25519 public keys, by hex, most recently used last: verification keys repeat per chat member. */
const verifyKeys = new Map<string, KeyObject>();
function ed25519PublicKey(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
  let key = verifyKeys.get(id);
  if (key === undefined) key = publicKeyObject(ED25519_SPKI_PREFIX, raw);
  verifyKeys.delete(id);
  verifyKeys.set(id, key);
  if (verifyKeys.size > PUBLIC_KEY_CACHE_SIZE) verifyKeys.delete(verifyKeys.keys().next().value!);
  return key;
}

function importPrivate(pkcs8: Uint8Array, type: 'ed25519' | 'x25519', extractable: boolean): KeyObject {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType !== type) {
    throw new TypeError(`node-crypto: expected a PKCS#8 ${type} key, got: ${key.asymmetricKeyType}`);
  }
  if (extractable) extractableKeys.add(key);
  return key;
}

function generatePair(
  type: 'ed25519' | 'x25519',
  extractable: boolean,
): { privateKey: KeyObject; publicKey: Uint8Array } {
  const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('x25519');
  if (extractable) extractableKeys.add(pair.privateKey);
  return { privateKey: pair.privateKey, publicKey: rawPublic(pair.publicKey) };
}

/** CryptoProvider on node:crypto: Node only, synchronous underneath, byte-identical to webCryptoProvider. */
export const nodeCryptoProvider: CryptoProvider = {
  name: 'node-crypto',

  async aesGcmEncrypt(key, nonce, plaintext, aad, prefix) {
    checkLength('AES-256-GCM key', key, AES_KEY_BYTES);
    checkLength('AES-GCM nonce', nonce, GCM_NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const rest = cipher.final(); // empty for GCM, a stream mode; kept for correctness if it ever is not
    return joinOwned(prefix ?? EMPTY, body, rest, cipher.getAuthTag());
  },

  async aesGcmDecrypt(key, nonce, ciphertext, aad) {
    checkLength('AES-256-GCM key', key, AES_KEY_BYTES);
    checkLength('AES-GCM nonce', nonce, GCM_NONCE_BYTES);
    if (ciphertext.length < GCM_TAG_BYTES)
      throw new RangeError('node-crypto: AES-GCM ciphertext shorter than its tag');
    const split = ciphertext.length - GCM_TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertext.subarray(split));
    const body = decipher.update(ciphertext.subarray(0, split));
    // final() throws when the tag does not verify; only then may the plaintext be released.
    const rest = decipher.final();
    // GCM gives everything from update(): skip the copy a concatenation would make (a whole message).
    return rest.length === 0 ? plain(body) : joinOwned(EMPTY, body, rest, EMPTY);
  },

  async hkdfSha256(ikm, salt, info, length) {
    return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
  },

  async hmacSha256(key, data) {
    if (!(key instanceof Uint8Array) || key.length === 0)
      throw new RangeError('node-crypto: HMAC key is empty');
    return plain(createHmac('sha256', key).update(data).digest());
  },

  async sha256(data) {
    return plain(createHash('sha256').update(data).digest());
  },

  async sha512(data) {
    return plain(createHash('sha512').update(data).digest());
  },

  async generateSigningKeyPair(extractable = false): Promise<SigningKeyPair> {
    const { privateKey, publicKey } = generatePair('ed25519', extractable);
    return { privateKey: { kind: 'ed25519-private', handle: privateKey }, publicKey };
  },

  async sign(privateKey, data) {
    return plain(nodeSign(null, data, keyObjectOf(privateKey, 'ed25519-private')));
  },

  async verify(publicKey, signature, data) {
    // Never throws on hostile input: a key or signature of the wrong shape simply does not verify.
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== CURVE_KEY_BYTES) return false;
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
    try {
      return nodeVerify(null, data, ed25519PublicKey(publicKey), signature);
    } catch {
      return false;
    }
  },

  async generateAgreementKeyPair(extractable = false): Promise<AgreementKeyPair> {
    const { privateKey, publicKey } = generatePair('x25519', extractable);
    return { privateKey: { kind: 'x25519-private', handle: privateKey }, publicKey };
  },

  async agree(privateKey, peerPublic) {
    const own = keyObjectOf(privateKey, 'x25519-private');
    checkLength('X25519 public key', peerPublic, CURVE_KEY_BYTES);
    let shared: Uint8Array;
    try {
      shared = plain(
        diffieHellman({ privateKey: own, publicKey: publicKeyObject(X25519_SPKI_PREFIX, peerPublic) }),
      );
    } catch {
      // OpenSSL refuses an all-zero result (a low-order peer key); say so rather than "failed during derivation".
      throw new Error('x25519: key agreement failed (low-order public key?)');
    }
    if (shared.every((b) => b === 0))
      throw new Error('x25519: shared secret is all zeros (low-order public key)');
    return shared;
  },

  async exportPrivateKey(key) {
    const handle = keyObjectOf(key, key?.kind);
    if (!extractableKeys.has(handle)) throw new Error('node-crypto: private key is not extractable');
    return plain(handle.export({ format: 'der', type: 'pkcs8' }));
  },

  async importSigningPrivateKey(pkcs8, extractable = false) {
    return { kind: 'ed25519-private', handle: importPrivate(pkcs8, 'ed25519', extractable) };
  },

  async importAgreementPrivateKey(pkcs8, extractable = false) {
    return { kind: 'x25519-private', handle: importPrivate(pkcs8, 'x25519', extractable) };
  },
};
