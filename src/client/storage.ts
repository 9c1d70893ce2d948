/**
 * Storage for a device profile: the ProfileStore interface (api.ts) is a flat namespace of small named blobs,
 * each replaced atomically. MemoryStore keeps them in a Map (tests, ephemeral bots); node/file-store.ts keeps them
 * as files; the browser will use IndexedDB. Names are checked here, once, for every adapter.
 */

import type { ProfileStore } from './api.ts';
import { HushClientError } from './errors.ts';

/** Store names: 1..120 of [A-Za-z0-9._-], not starting with '.', no '..' — safe as file names everywhere. */
const VALID_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$/;

/** True if `name` is a safe store name (other files in a profile directory, such as locks, are not listed). */
export function isStoreName(name: string): boolean {
  return typeof name === 'string' && VALID_NAME.test(name) && !name.includes('..');
}

/** Throws 'bad-name' unless `name` is a safe store name (no '/', '\\', leading '.', '..'). */
export function checkStoreName(name: string): string {
  if (!isStoreName(name)) {
    throw new HushClientError(
      'bad-name',
      `storage: bad name ${JSON.stringify(String(name).slice(0, 40))}: use 1..120 of A-Z a-z 0-9 . _ - (not starting with '.', no '..')`,
    );
  }
  return name;
}

/** A ProfileStore in memory; copies bytes in and out so callers cannot change stored data by accident. */
export class MemoryStore implements ProfileStore {
  readonly #items = new Map<string, Uint8Array>();

  async read(name: string): Promise<Uint8Array | undefined> {
    const data = this.#items.get(checkStoreName(name));
    return data?.slice();
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError('storage: data must be a Uint8Array');
    this.#items.set(checkStoreName(name), data.slice());
  }

  async remove(name: string): Promise<void> {
    this.#items.delete(checkStoreName(name));
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#items.keys()].filter((n) => n.startsWith(prefix)).sort();
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Reads and parses a JSON blob; undefined when absent; throws 'bad-record' when it is not JSON. */
export async function readJson(store: ProfileStore, name: string): Promise<unknown> {
  const data = await store.read(name);
  if (data === undefined) return undefined;
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch (error) {
    throw new HushClientError('bad-record', `storage: ${name} is not valid JSON`, { cause: error });
  }
}

/** Writes a value as a JSON blob (atomically, as every ProfileStore write). */
export async function writeJson(store: ProfileStore, name: string, value: unknown): Promise<void> {
  await store.write(name, encoder.encode(JSON.stringify(value)));
}
