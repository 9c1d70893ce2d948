/**
 * Browser storage for a device profile (issue 6): a ProfileStore on IndexedDB, and a DeviceKeyVault that keeps
 * the device's private keys as NON-EXTRACTABLE CryptoKeys in IndexedDB (structured clone keeps them usable across
 * reloads and tabs while `exportKey` stays refused). One database per profile, two object stores: `blobs`
 * (name → bytes, the ProfileStore) and `keys` (ref → {signing, agreement} CryptoKeys).
 */

import type { ProfileStore } from '../api.ts';
import type { DeviceKeyVault, StoredKeys } from '../device.ts';
import { HushClientError } from '../errors.ts';
import { checkStoreName } from '../storage.ts';

const BLOBS = 'blobs';
const KEYS = 'keys';
const DB_VERSION = 1;

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('indexeddb: request failed'));
  });
}

/** Opens (creating if needed) the database of profile `name`. */
export function openProfileDatabase(name = 'default', factory: IDBFactory = indexedDB): Promise<IDBDatabase> {
  const request = factory.open(`hush-profile-${name}`, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains(BLOBS)) db.createObjectStore(BLOBS);
    if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS);
  };
  return promised(request);
}

/** Runs `work` in one transaction and resolves once the transaction has committed. */
async function transact<T>(
  db: IDBDatabase,
  storeName: string,
  mode: IDBTransactionMode,
  work: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const tx = db.transaction(storeName, mode);
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('indexeddb: transaction aborted'));
    tx.onerror = () => reject(tx.error ?? new Error('indexeddb: transaction failed'));
  });
  const result = await promised(work(tx.objectStore(storeName)));
  await done;
  return result;
}

/** A ProfileStore on IndexedDB: each write is one transaction, so it replaces the blob atomically. */
export class IndexedDbStore implements ProfileStore {
  readonly #db: IDBDatabase;

  constructor(db: IDBDatabase) {
    this.#db = db;
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const value = await transact(this.#db, BLOBS, 'readonly', (s) => s.get(checkStoreName(name)));
    if (value === undefined) return undefined;
    if (!(value instanceof Uint8Array))
      throw new HushClientError('bad-record', `storage: ${name} is damaged`);
    return value;
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError('storage: data must be a Uint8Array');
    await transact(this.#db, BLOBS, 'readwrite', (s) => s.put(data.slice(), checkStoreName(name)));
  }

  async remove(name: string): Promise<void> {
    await transact(this.#db, BLOBS, 'readwrite', (s) => s.delete(checkStoreName(name)));
  }

  async list(prefix: string): Promise<string[]> {
    const keys = await transact(this.#db, BLOBS, 'readonly', (s) => s.getAllKeys());
    return keys.filter((k): k is string => typeof k === 'string' && k.startsWith(prefix)).sort();
  }
}

interface StoredKeyPair {
  signing: CryptoKey;
  agreement: CryptoKey;
}

/**
 * Keeps private keys as CryptoKeys in IndexedDB; the device record holds only `{kind: 'vault', ref}`. New
 * identities are generated non-extractable (`extractable: false`), and save() refuses an extractable key so a
 * key that could be exported never lands here by mistake.
 */
export function cryptoKeyVault(db: IDBDatabase): DeviceKeyVault {
  return {
    extractable: false,
    async save(identity) {
      const signing = identity.signing.privateKey.handle;
      const agreement = identity.agreement.privateKey.handle;
      if (!(signing instanceof CryptoKey) || !(agreement instanceof CryptoKey))
        throw new HushClientError('bad-record', 'vault: private keys must be WebCrypto CryptoKeys');
      if (signing.extractable || agreement.extractable)
        throw new HushClientError('bad-record', 'vault: refusing to store an extractable private key');
      const ref = identity.clientId;
      const pair: StoredKeyPair = { signing, agreement };
      await transact(db, KEYS, 'readwrite', (s) => s.put(pair, ref));
      return { kind: 'vault', ref };
    },
    async load(stored: StoredKeys) {
      if (stored.kind !== 'vault')
        throw new HushClientError('bad-record', 'vault: this device keeps its keys in the record');
      const pair = (await transact(db, KEYS, 'readonly', (s) => s.get(stored.ref))) as
        StoredKeyPair | undefined;
      if (!pair || !(pair.signing instanceof CryptoKey) || !(pair.agreement instanceof CryptoKey))
        throw new HushClientError('bad-record', 'vault: the device keys are missing');
      return {
        signing: { kind: 'ed25519-private', handle: pair.signing },
        agreement: { kind: 'x25519-private', handle: pair.agreement },
      };
    },
    async remove(stored: StoredKeys) {
      if (stored.kind !== 'vault') return;
      await transact(db, KEYS, 'readwrite', (s) => s.delete(stored.ref));
    },
  };
}
