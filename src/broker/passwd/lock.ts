// A lock around a password file's read-modify-write, shared by every Hush process that edits it: the
// registration server (`hush start --mosquitto-dir`) and `hush passwd`. Without it two writers that both
// read the old file and then rename their own version over it silently drop each other's users.
// proper-lockfile takes `<file>.lock` with mkdir (atomic, also across users of one group) and refreshes its
// mtime while held, so a lock left by a killed process is taken over once it is stale. `mosquitto_passwd`
// knows nothing of this lock: do not run it while a Hush server writes the same file.

import { realpath } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { PasswordFileError } from './file.ts';

/** A lock older than this (not refreshed by a live holder) is taken over. */
const STALE_MS = 10_000;
/** How long a writer waits for the lock before giving up with an error. */
const WAIT_MS = 30_000;

/** Runs `task` holding the password file's lock (`<file>.lock`, next to the real file); waits up to 30 s for it. */
export async function withPasswordFileLock<T>(file: string, task: () => Promise<T>): Promise<T> {
  // Lock the real file, so two paths to it (a symlink and its target) share one lock.
  const target = await realpath(file).catch(() => path.resolve(file));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      stale: STALE_MS,
      update: STALE_MS / 4,
      // Exponential backoff from 5 ms, capped at 200 ms: about WAIT_MS in all.
      retries: { retries: 160, factor: 1.5, minTimeout: 5, maxTimeout: 200 },
      // A holder stalled past `stale` lost the lock to another writer; its rename is still atomic, so the
      // worst case is the lost update the lock is there to make rare. Nothing better to do than carry on.
      onCompromised: () => undefined,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    // No directory, no file to protect: the task itself reports what is missing.
    if (e.code === 'ENOENT') return task();
    const why =
      e.code === 'ELOCKED'
        ? `another process has held its lock ${target}.lock for ${WAIT_MS / 1000} s; if no hush process is running, remove that directory`
        : `cannot take its lock ${target}.lock: ${e.code === 'EACCES' || e.code === 'EPERM' ? `permission denied (${e.code}); the directory must be writable` : e.message}`;
    throw new PasswordFileError(file, undefined, why, e.code);
  }
  try {
    return await task();
  } finally {
    await release().catch(() => undefined);
  }
}
