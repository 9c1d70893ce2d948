// Reading and atomically rewriting a password file on disk.
// A rewrite goes to a temporary file in the same directory, which gets the old file's owner, group and
// mode (minus any world bits) before it is fsynced and renamed over the old one: the broker, or a reader
// on SIGHUP, sees either the whole old file or the whole new one, never a missing or half-written file.
// That is where we differ from mosquitto_passwd 2.0.11, which truncates and rewrites the file in place
// (copy_contents() in apps/mosquitto_passwd/mosquitto_passwd.c) and creates new files with the umask.

import type { Stats } from 'node:fs';
import { lstat, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatPasswordFile, parsePasswordFile, PasswordFileError, type PasswordTable } from './file.ts';

/** Mode of a file we create: the password hashes are for the broker's user alone. */
const NEW_FILE_MODE = 0o600;
/** Owner and group bits we keep on rewrite; world bits and setuid/setgid/sticky always go. */
const KEPT_MODE_BITS = 0o770;

/** Reads and parses a password file; throws PasswordFileError naming the file (and line) on any problem. */
export async function loadPasswordFile(file: string): Promise<PasswordTable> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if (isMissing(error)) throw new PasswordFileError(file, undefined, 'does not exist', 'ENOENT');
    throw new PasswordFileError(file, undefined, `cannot read it: ${describe(error)}`, errnoCode(error));
  }
  return parsePasswordFile(decodeUtf8(bytes, file), file);
}

/** Atomically replaces (or with create: true, may create) a password file; keeps owner, group and mode minus world bits; a new file is 0600. */
export async function savePasswordFile(
  file: string,
  table: PasswordTable,
  opts: { create?: boolean } = {},
): Promise<void> {
  // Format first: an entry Mosquitto could not read stops us before anything on disk changes.
  const text = formatPasswordFile(table);
  const { target, existing } = await findTarget(file, opts.create === true);
  const dir = path.dirname(target);
  const temp = path.join(
    dir,
    `.${path.basename(target)}.${Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex')}.tmp`,
  );

  const handle = await open(temp, 'wx', NEW_FILE_MODE).catch((error: unknown) => {
    throw new PasswordFileError(
      file,
      undefined,
      `cannot create a temporary file in ${dir}: ${describe(error)}`,
    );
  });
  try {
    await handle.writeFile(text, 'utf8');
    if (existing !== undefined) {
      const mine = await handle.stat();
      // chown before chmod: chown may clear mode bits. Skipped when already right, so a non-root owner
      // rewriting their own file does not need the privilege to chown.
      if (mine.uid !== existing.uid || mine.gid !== existing.gid) {
        await handle.chown(existing.uid, existing.gid).catch((error: unknown) => {
          throw new PasswordFileError(
            file,
            undefined,
            `cannot keep its owner ${existing.uid} and group ${existing.gid} (${describe(error)}); run as root or as its owner`,
          );
        });
      }
      await handle.chmod(existing.mode & KEPT_MODE_BITS);
    } else {
      // open()'s mode is filtered by the umask; say exactly what we mean.
      await handle.chmod(NEW_FILE_MODE);
    }
    await handle.sync();
    await handle.close();
    await rename(temp, target);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    if (error instanceof PasswordFileError) throw error;
    throw new PasswordFileError(file, undefined, `cannot write it: ${describe(error)}`);
  }
  await syncDirectory(dir);
}

/** Resolves symlinks (so we replace the real file, not the link) and stats what is there. */
async function findTarget(
  file: string,
  create: boolean,
): Promise<{ target: string; existing: Stats | undefined }> {
  try {
    const target = await realpath(file);
    const existing = await stat(target);
    if (!existing.isFile()) throw new PasswordFileError(file, undefined, 'is not a regular file');
    return { target, existing };
  } catch (error) {
    if (error instanceof PasswordFileError) throw error;
    if (!isMissing(error)) throw new PasswordFileError(file, undefined, `cannot open it: ${describe(error)}`);
  }
  // Nothing there. A dangling symlink would be replaced by our rename rather than followed; refuse it.
  const link = await lstat(file).catch(() => undefined);
  if (link?.isSymbolicLink())
    throw new PasswordFileError(file, undefined, 'is a symbolic link to a file that does not exist');
  if (!create) throw new PasswordFileError(file, undefined, 'does not exist', 'ENOENT');
  return { target: path.resolve(file), existing: undefined };
}

/** Makes the rename itself durable: without it a crash can bring the old directory entry back. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the file itself is already synced.
  } finally {
    await handle.close();
  }
}

/** Decodes strict UTF-8, naming the first line that is not (Mosquitto compares usernames as raw bytes). */
function decodeUtf8(bytes: Buffer, source: string): string {
  // ignoreBOM keeps a byte-order mark in the text, so the parser can report it instead of hiding it.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return decoder.decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      const slice = bytes.subarray(start, end < 0 ? bytes.length : end);
      try {
        decoder.decode(slice);
      } catch {
        throw new PasswordFileError(source, line, 'is not valid UTF-8');
      }
      if (end < 0) throw new PasswordFileError(source, undefined, 'is not valid UTF-8');
      start = end + 1;
    }
  }
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function isMissing(error: unknown): boolean {
  return errnoCode(error) === 'ENOENT';
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file or directory';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return `permission denied (${e.code})`;
  return e?.message ?? String(error);
}
