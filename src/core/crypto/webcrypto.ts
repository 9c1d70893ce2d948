// The default CryptoProvider (docs/PROTOCOL.md, Notation: AES-256-GCM, HKDF-SHA256, X25519, Ed25519) on
// WebCrypto (globalThis.crypto.subtle), so the same code runs in browsers and in Node. Ed25519 and X25519 need
// Node ≥ 20.19 or Chrome ≥ 137 / Firefox ≥ 130 / Safari ≥ 17.
//
// Private keys are CryptoKeys, non-extractable unless asked: a browser can keep them in IndexedDB where page
// script may use but never export them. Importing an AES or HMAC key costs an async round trip (~50 µs in Node),
// so imported keys are cached per key bytes in a small LRU; the cache holds nothing an attacker with this
// process's memory could not already take from the chat state that owns those keys.

import type {
  AgreementKeyPair,
  AgreementPrivateKey,
  CryptoProvider,
  SigningKeyPair,
  SigningPrivateKey,
} from './provider.ts';
import { toB64u } from '../bytes.ts';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** WebCrypto's typings want ArrayBuffer-backed views; ours are, but TypeScript cannot know it. */
const buf = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => bytes as Uint8Array<ArrayBuffer>;

const AES_KEY_BYTES = 32;
const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const CURVE_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
/** Most distinct keys kept imported; a device rarely holds more live epoch keys than this. */
const KEY_CACHE_SIZE = 256;

/** A bounded map with least-recently-used eviction (a Map iterates in insertion order). */
class LruCache<V> {
  readonly #entries = new Map<string, V>();
  constructor(readonly capacity: number) {}
  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }
  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/**
 * Imports a key once per distinct bytes. The promise is cached, so concurrent first uses share one import;
 * a failed import is forgotten so a later call can retry.
 */
function cachedImport(
  cache: LruCache<Promise<CryptoKey>>,
  bytes: Uint8Array,
  importKey: () => Promise<CryptoKey>,
): Promise<CryptoKey> {
  const id = toB64u(bytes);
  let key = cache.get(id);
  if (key === undefined) {
    key = importKey();
    cache.set(id, key);
    key.catch(() => cache.delete(id));
  }
  return key;
}

const aesKeys = new LruCache<Promise<CryptoKey>>(KEY_CACHE_SIZE);
const hmacKeys = new LruCache<Promise<CryptoKey>>(KEY_CACHE_SIZE);
const verifyKeys = new LruCache<Promise<CryptoKey>>(KEY_CACHE_SIZE);

function checkLength(what: string, bytes: Uint8Array, expected: number): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`webcrypto: ${what} should be a Uint8Array`);
  if (bytes.length !== expected) {
    throw new RangeError(`webcrypto: ${what} should be ${expected} bytes, got ${bytes.length}`);
  }
}

function aesKey(key: Uint8Array): Promise<CryptoKey> {
  checkLength('AES-256-GCM key', key, AES_KEY_BYTES);
  return cachedImport(aesKeys, key, () =>
    subtle().importKey('raw', buf(key), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']),
  );
}

function cryptoKeyOf(key: SigningPrivateKey | AgreementPrivateKey, kind: string): CryptoKey {
  if (key?.kind !== kind) throw new TypeError(`webcrypto: expected a ${kind} key, got: ${key?.kind}`);
  if (!(key.handle instanceof CryptoKey)) {
    throw new TypeError('webcrypto: private key handle is not a CryptoKey (made by another provider?)');
  }
  return key.handle;
}

async function exportRawPublic(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await subtle().exportKey('raw', key));
}

async function x25519(privateKey: CryptoKey, peerPublic: Uint8Array): Promise<Uint8Array> {
  checkLength('X25519 public key', peerPublic, CURVE_KEY_BYTES);
  const peer = await subtle().importKey('raw', buf(peerPublic), { name: 'X25519' }, true, []);
  let shared: Uint8Array;
  try {
    shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: peer }, privateKey, 256));
  } catch {
    // WebCrypto must refuse an all-zero result (a low-order peer key); say so rather than "operation failed".
    throw new Error('x25519: key agreement failed (low-order public key?)');
  }
  // Belt and braces for platforms that return the zeros instead of failing.
  if (shared.every((b) => b === 0))
    throw new Error('x25519: shared secret is all zeros (low-order public key)');
  return shared;
}

/** CryptoProvider on WebCrypto: isomorphic, async (~50 µs per call in Node); private keys are CryptoKeys. */
export const webCryptoProvider: CryptoProvider = {
  name: 'webcrypto',

  async aesGcmEncrypt(key, nonce, plaintext, aad, prefix) {
    checkLength('AES-GCM nonce', nonce, GCM_NONCE_BYTES);
    const out = await subtle().encrypt(
      { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: GCM_TAG_BYTES * 8 },
      await aesKey(key),
      buf(plaintext),
    );
    if (prefix === undefined || prefix.length === 0) return new Uint8Array(out);
    // WebCrypto cannot write behind a prefix: one copy, as the caller's concatenation would have made.
    const joined = new Uint8Array(prefix.length + out.byteLength);
    joined.set(prefix, 0);
    joined.set(new Uint8Array(out), prefix.length);
    return joined;
  },

  async aesGcmDecrypt(key, nonce, ciphertext, aad) {
    checkLength('AES-GCM nonce', nonce, GCM_NONCE_BYTES);
    const out = await subtle().decrypt(
      { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: GCM_TAG_BYTES * 8 },
      await aesKey(key),
      buf(ciphertext),
    );
    return new Uint8Array(out);
  },

  async hkdfSha256(ikm, salt, info, length) {
    // HKDF keys are used once per epoch or sealed box, so they are not worth caching.
    const base = await subtle().importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
    const bits = await subtle().deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(info) },
      base,
      length * 8,
    );
    return new Uint8Array(bits);
  },

  async hmacSha256(key, data) {
    if (!(key instanceof Uint8Array) || key.length === 0)
      throw new RangeError('webcrypto: HMAC key is empty');
    const hmacKey = await cachedImport(hmacKeys, key, () =>
      subtle().importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
    );
    return new Uint8Array(await subtle().sign('HMAC', hmacKey, buf(data)));
  },

  async sha256(data) {
    return new Uint8Array(await subtle().digest('SHA-256', buf(data)));
  },

  async sha512(data) {
    return new Uint8Array(await subtle().digest('SHA-512', buf(data)));
  },

  async generateSigningKeyPair(extractable = false): Promise<SigningKeyPair> {
    const pair = (await subtle().generateKey({ name: 'Ed25519' }, extractable, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    return {
      privateKey: { kind: 'ed25519-private', handle: pair.privateKey },
      publicKey: await exportRawPublic(pair.publicKey),
    };
  },

  async sign(privateKey, data) {
    const key = cryptoKeyOf(privateKey, 'ed25519-private');
    return new Uint8Array(await subtle().sign('Ed25519', key, buf(data)));
  },

  async verify(publicKey, signature, data) {
    // Never throws on hostile input: a key or signature of the wrong shape simply does not verify.
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== CURVE_KEY_BYTES) return false;
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
    try {
      const key = await cachedImport(verifyKeys, publicKey, () =>
        subtle().importKey('raw', buf(publicKey), { name: 'Ed25519' }, true, ['verify']),
      );
      return await subtle().verify('Ed25519', key, buf(signature), buf(data));
    } catch {
      return false;
    }
  },

  async generateAgreementKeyPair(extractable = false): Promise<AgreementKeyPair> {
    const pair = (await subtle().generateKey({ name: 'X25519' }, extractable, [
      'deriveBits',
    ])) as CryptoKeyPair;
    return {
      privateKey: { kind: 'x25519-private', handle: pair.privateKey },
      publicKey: await exportRawPublic(pair.publicKey),
    };
  },

  async agree(privateKey, peerPublic) {
    return x25519(cryptoKeyOf(privateKey, 'x25519-private'), peerPublic);
  },

  async exportPrivateKey(key) {
    const handle = cryptoKeyOf(key, key?.kind);
    if (!handle.extractable) throw new Error('webcrypto: private key is not extractable');
    return new Uint8Array(await subtle().exportKey('pkcs8', handle));
  },

  async importSigningPrivateKey(pkcs8, extractable = false) {
    const key = await subtle().importKey('pkcs8', buf(pkcs8), { name: 'Ed25519' }, extractable, ['sign']);
    return { kind: 'ed25519-private', handle: key };
  },

  async importAgreementPrivateKey(pkcs8, extractable = false) {
    const key = await subtle().importKey('pkcs8', buf(pkcs8), { name: 'X25519' }, extractable, [
      'deriveBits',
    ]);
    return { kind: 'x25519-private', handle: key };
  },
};
