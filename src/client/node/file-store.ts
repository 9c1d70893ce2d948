/**
 * A ProfileStore on the file system (Node only): one file per name in the profile directory.
 *
 * The directory is created 0700 and every file 0600 (they hold private keys and chat keys). A write goes to a
 * temporary file in the same directory, is fsynced, renamed over the target and the directory is fsynced, so a
 * reader or a crash sees the old or the new bytes, never a mix or nothing. Names are checked (storage.ts) so no
 * name can leave the directory; temporary files start with '.' and are never listed.
 */

import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ProfileStore } from '../api.ts';
import { checkStoreName, isStoreName } from '../storage.ts';

const hex = (n: number): string => {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
};

/** Files in a profile directory that belong to the running process, not to the store. */
const PROCESS_FILES = new Set(['hush.lock', 'hush.sock']);

export class FileStore implements ProfileStore {
  readonly dir: string;
  #ready: Promise<void> | undefined;

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('file-store: dir must be a path');
    this.dir = path.resolve(dir);
  }

  /** Creates the directory (0700) if needed and tightens its mode if it exists. */
  #ensureDir(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const info = await stat(this.dir);
      if (!info.isDirectory()) throw new Error(`file-store: ${this.dir} is not a directory`);
      if ((info.mode & 0o077) !== 0) await chmod(this.dir, 0o700);
    })();
    return this.#ready;
  }

  #path(name: string): string {
    return path.join(this.dir, checkStoreName(name));
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const file = this.#path(name);
    await this.#ensureDir();
    try {
      return new Uint8Array(await readFile(file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const file = this.#path(name);
    if (!(data instanceof Uint8Array)) throw new TypeError('file-store: data must be a Uint8Array');
    await this.#ensureDir();
    const tmp = path.join(this.dir, `.${name}.${hex(8)}.tmp`);
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await rename(tmp, file);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    await this.#syncDir();
  }

  async remove(name: string): Promise<void> {
    const file = this.#path(name);
    await this.#ensureDir();
    await rm(file, { force: true });
    await this.#syncDir();
  }

  async list(prefix: string): Promise<string[]> {
    await this.#ensureDir();
    const names = await readdir(this.dir);
    // The profile directory also holds the CLI's lock and socket (src/cli/profile): they are not records.
    return names.filter((n) => isStoreName(n) && !PROCESS_FILES.has(n) && n.startsWith(prefix)).sort();
  }

  async #syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
