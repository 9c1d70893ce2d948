/**
 * The profile lock: "one device = one MQTT connection" (DESIGN.md). A process that connects for a profile
 * first owns `<profile>/hush.lock`, a file holding its pid. The file is created complete and atomically
 * (written under a private name, then hard-linked into place, which fails if the name exists), so a reader
 * never sees an empty or half-written lock. A lock whose pid is dead is stale: it is removed under a short
 * takeover guard (`hush.lock.takeover`, same scheme) after checking again that it is still the same stale
 * file, so two takers can never remove each other's fresh lock; then everyone races on link() and one wins.
 */
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const LOCK_FILE = 'hush.lock';
const GUARD_SUFFIX = '.takeover';

/** Thrown when a live process holds the profile. */
export class ProfileLockedError extends Error {
  constructor(
    readonly lockFile: string,
    readonly pid: number,
  ) {
    super(`profile lock: ${lockFile} is held by running process ${pid}`);
    this.name = 'ProfileLockedError';
  }
}

/** A held lock; release() removes it (only if it is still ours). */
export interface ProfileLock {
  readonly file: string;
  readonly pid: number;
  release(): Promise<void>;
}

export interface LockOptions {
  /** The pid written into the lock (default process.pid); tests pass others. */
  pid?: number;
  /** Whether a pid is a running process (default: signal 0). */
  isAlive?: (pid: number) => boolean;
}

/** True if a process with this pid exists (EPERM: exists but is not ours). */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock file says: its pid (NaN if unreadable garbage) and its inode, or undefined if there is none. */
async function readLock(file: string): Promise<{ pid: number; ino: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    const match = /^(\d+)\n?$/.exec(text);
    return { pid: match ? Number(match[1]) : Number.NaN, ino: info.ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Creates `file` holding `pid` if no such file exists; false if it does. Atomic (write + link). */
async function createExclusive(file: string, pid: number): Promise<boolean> {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  const temp = `${file}.${pid}.${Buffer.from(bytes).toString('hex')}.tmp`;
  await writeFile(temp, `${pid}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A random whole number below `below` (< 256), so waiting takers do not retry in lockstep. */
function jitter(below: number): number {
  const byte = new Uint8Array(1);
  crypto.getRandomValues(byte);
  return byte[0]! % below;
}

/**
 * Removes the lock at `file` if it is still the stale one we saw (same inode, same dead pid), under the
 * takeover guard. Returns when the caller should try to create the lock again.
 */
async function removeStale(
  file: string,
  seen: { pid: number; ino: number },
  pid: number,
  isAlive: (pid: number) => boolean,
): Promise<void> {
  const guard = file + GUARD_SUFFIX;
  if (!(await createExclusive(guard, pid))) {
    // Another taker holds the guard for a moment; a guard left by a dead process is itself stale.
    const holder = await readLock(guard);
    if (holder && !isAlive(holder.pid)) {
      await unlink(guard).catch(() => undefined);
    } else {
      await pause(5 + jitter(10));
    }
    return;
  }
  try {
    const now = await readLock(file);
    if (now && now.ino === seen.ino && (now.pid === seen.pid || Number.isNaN(now.pid))) {
      await unlink(file).catch(() => undefined);
    }
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/**
 * Takes the profile lock in `dir`, taking over a stale one; throws ProfileLockedError if a live process
 * holds it. Never blocks waiting for a live holder.
 */
export async function acquireProfileLock(dir: string, options: LockOptions = {}): Promise<ProfileLock> {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsAlive;
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (await createExclusive(file, pid)) {
      const mine = await readLock(file);
      return {
        file,
        pid,
        async release() {
          const now = await readLock(file);
          if (now && mine && now.ino === mine.ino && now.pid === pid)
            await unlink(file).catch(() => undefined);
        },
      };
    }
    const holder = await readLock(file);
    if (holder === undefined) continue; // released between our two steps: try again
    if (!Number.isNaN(holder.pid) && holder.pid !== pid && isAlive(holder.pid)) {
      throw new ProfileLockedError(file, holder.pid);
    }
    if (holder.pid === pid) throw new ProfileLockedError(file, pid);
    await removeStale(file, holder, pid, isAlive);
  }
  throw new Error(`profile lock: could not take ${file} (kept changing under us)`);
}
