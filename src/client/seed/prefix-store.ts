/**
 * A ProfileStore seen through a name prefix: `read('device.json')` reads `<prefix>device.json` of the inner store.
 * The seed client (seed-client.ts) keeps one HushClient per chat identity, each over its own prefix of one profile.
 */

import type { ProfileStore } from '../api.ts';
import { checkStoreName } from '../storage.ts';

export class PrefixStore implements ProfileStore {
  readonly #inner: ProfileStore;
  readonly prefix: string;

  /** `prefix` must itself be a valid store name start (e.g. 'id3.'); names below it are checked by the inner store. */
  constructor(inner: ProfileStore, prefix: string) {
    checkStoreName(prefix);
    this.#inner = inner;
    this.prefix = prefix;
  }

  read(name: string): Promise<Uint8Array | undefined> {
    return this.#inner.read(this.prefix + checkStoreName(name));
  }

  write(name: string, data: Uint8Array): Promise<void> {
    return this.#inner.write(this.prefix + checkStoreName(name), data);
  }

  remove(name: string): Promise<void> {
    return this.#inner.remove(this.prefix + checkStoreName(name));
  }

  async list(prefix: string): Promise<string[]> {
    const names = await this.#inner.list(this.prefix + prefix);
    return names.filter((n) => n.startsWith(this.prefix)).map((n) => n.slice(this.prefix.length));
  }
}
