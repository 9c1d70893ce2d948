// `hush passwd` run as a real child process against real files: mosquitto_passwd's -b/-c/-D behaviour,
// plus what Hush adds: owner, group and mode kept, never world-readable, a corrupt file left untouched,
// and an atomic replace that readers never see half-done.
import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashPassword,
  loadPasswordFile,
  parsePasswordFile,
  savePasswordFile,
  verifyPassword,
} from '../../src/broker/passwd/index.ts';

const HUSH = path.resolve(import.meta.dirname, '../../bin/hush.js');
/** Debian's `nogroup`: a group the test files surely do not already have. */
const NOGROUP = 65534;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/hush.js passwd …args` and reports its exit code and output instead of throwing. */
function hushPasswd(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HUSH, 'passwd', ...args], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<void> {
  const outcome = await hushPasswd(...args);
  expect(outcome.stderr).toBe('');
  expect(outcome.code).toBe(0);
}

const modeOf = async (file: string) => (await stat(file)).mode & 0o7777;

let dir: string;
let counter = 0;
const fresh = (name: string) => path.join(dir, `${name}-${++counter}`);
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hush-passwd-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hush passwd, like mosquitto_passwd', () => {
  it('-c creates a new file holding just this user, readable by its owner only (0600)', async () => {
    const file = fresh('new');
    await ok('-c', '-b', file, 'alice', 'secret');
    expect(await modeOf(file)).toBe(0o600);
    const table = await loadPasswordFile(file);
    expect([...table.entries.keys()]).toEqual(['alice']);
    expect(await verifyPassword('secret', table.entries.get('alice') ?? '')).toBe(true);
  });

  it('-c overwrites an existing file with just this user', async () => {
    const file = fresh('overwrite');
    await ok('-c', '-b', file, 'alice', 'one');
    await ok('-b', file, 'bob', 'two');
    await ok('-c', '-b', file, 'carol', 'three');
    expect([...(await loadPasswordFile(file)).entries.keys()]).toEqual(['carol']);
  });

  it('-b adds a new user at the end and updates an existing one in place', async () => {
    const file = fresh('update');
    await ok('-c', '-b', file, 'alice', 'one');
    await ok('-b', file, 'bob', 'two');
    const before = await loadPasswordFile(file);
    await ok('-b', file, 'alice', 'uno');
    const after = await loadPasswordFile(file);
    expect([...after.entries.keys()]).toEqual(['alice', 'bob']);
    expect(after.entries.get('bob')).toBe(before.entries.get('bob'));
    expect(await verifyPassword('uno', after.entries.get('alice') ?? '')).toBe(true);
    expect(await verifyPassword('one', after.entries.get('alice') ?? '')).toBe(false);
  });

  it('-b without -c refuses a missing file, as mosquitto_passwd does, and creates nothing', async () => {
    const file = fresh('missing');
    const outcome = await hushPasswd('-b', file, 'alice', 'secret');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(`hush: password file ${file}: does not exist (use -c to create it)\n`);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });

  it('-D deletes a user, and fails on an unknown one leaving the file as it was', async () => {
    const file = fresh('delete');
    await ok('-c', '-b', file, 'alice', 'one');
    await ok('-b', file, 'bob', 'two');
    await ok('-D', file, 'alice');
    expect([...(await loadPasswordFile(file)).entries.keys()]).toEqual(['bob']);
    const bytes = await readFile(file);
    const outcome = await hushPasswd('-D', file, 'zed');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(`hush: user zed not found in password file ${file}\n`);
    expect(await readFile(file)).toEqual(bytes);
  });

  it('refuses the flag combinations and usernames mosquitto_passwd refuses, with status 1', async () => {
    const file = fresh('flags');
    const cases: [string[], RegExp][] = [
      [['-c', '-D', file, 'alice'], /-c and -D cannot be used together/],
      [['-b', '-D', file, 'alice'], /-b and -D cannot be used together/],
      [['-c', '-b', file, 'a:b', 'pw'], /username must not contain the ':' character/],
      [['-c', '-b', file, 'a\tb', 'pw'], /username must not contain control characters/],
      [['-c', '-b', file, '#root', 'pw'], /username must not start with '#'/],
      [['-c', '-b', file, 'alice'], /-c needs FILE, USERNAME and PASSWORD/],
      [['-c', '-b', file, 'alice', 'x'.repeat(65536)], /password must be less than 65536 bytes/],
      [['-I', '0', '-c', '-b', file, 'alice', 'pw'], /number of iterations must be from 1/],
      [[file, 'alice'], /pass it with -b/],
    ];
    for (const [args, message] of cases) {
      const outcome = await hushPasswd(...args);
      expect(outcome.code, args.join(' ')).toBe(1);
      expect(outcome.stderr, args.join(' ')).toMatch(/^hush: /);
      expect(outcome.stderr, args.join(' ')).toMatch(message);
    }
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });
});

describe('hush passwd keeps a password file private and intact', () => {
  it('keeps a 0640 file 0640 with its owner and group (root:nogroup here) when rewriting it', async () => {
    const file = fresh('group');
    await ok('-c', '-b', file, 'alice', 'one');
    await chown(file, 0, NOGROUP);
    await chmod(file, 0o640);
    await ok('-b', file, 'bob', 'two');
    const after = await stat(file);
    expect(after.mode & 0o7777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([0, NOGROUP]);
    // -c over an existing file keeps them too.
    await ok('-c', '-b', file, 'carol', 'three');
    const recreated = await stat(file);
    expect(recreated.mode & 0o7777).toBe(0o640);
    expect(recreated.gid).toBe(NOGROUP);
  });

  it('takes the world bits off a world-readable file: 0644 becomes 0640, 0666 becomes 0660', async () => {
    const file = fresh('world');
    await ok('-c', '-b', file, 'alice', 'one');
    await chmod(file, 0o644);
    await ok('-b', file, 'bob', 'two');
    expect(await modeOf(file)).toBe(0o640);
    await chmod(file, 0o666);
    await ok('-D', file, 'bob');
    expect(await modeOf(file)).toBe(0o660);
  });

  it('refuses a corrupt file, naming file and line, and leaves it byte-identical', async () => {
    const file = fresh('corrupt');
    await ok('-c', '-b', file, 'alice', 'one');
    await ok('-b', file, 'bob', 'two');
    // mosquitto_passwd 2.0.11 prints "Corrupt password file at line 2", exits 0 and drops line 2 onwards.
    const corrupt = (await readFile(file, 'utf8')).replace('\nbob:', '\nbob;');
    await writeFile(file, corrupt);
    await chmod(file, 0o640);
    const before = await readFile(file);
    const outcome = await hushPasswd('-b', file, 'carol', 'three');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(
      new RegExp(`^hush: password file ${file} line 2: no ':' .*left unchanged\\n$`),
    );
    expect(await readFile(file)).toEqual(before);
    expect(await modeOf(file)).toBe(0o640);
    expect((await readdir(dir)).filter((name) => name.includes('.tmp'))).toEqual([]);
  });

  it('rewrites the file a symlink points to, keeping the link', async () => {
    const real = fresh('target');
    const link = fresh('link');
    await ok('-c', '-b', real, 'alice', 'one');
    await symlink(real, link);
    await ok('-b', link, 'bob', 'two');
    expect((await stat(link)).isFile()).toBe(true);
    expect([...(await loadPasswordFile(real)).entries.keys()]).toEqual(['alice', 'bob']);
    expect((await readdir(dir)).includes(path.basename(link))).toBe(true);
  });
});

describe('savePasswordFile replaces the file atomically', () => {
  it('never lets a concurrent reader see a missing, empty or partial file', async () => {
    const file = fresh('atomic');
    const hash = await hashPassword('pw', 1);
    const tableOf = (n: number) => ({
      source: file,
      entries: new Map(Array.from({ length: n }, (_, i) => [`user${i}`, hash])),
    });
    await savePasswordFile(file, tableOf(200), { create: true });

    let writing = true;
    const seen: number[] = [];
    const reader = (async () => {
      while (writing) {
        const text = await readFile(file, 'utf8'); // throws (fails the test) if the file is ever missing
        seen.push(parsePasswordFile(text, file).entries.size);
      }
    })();
    const inodes: [number, number][] = [];
    for (let i = 0; i < 40; i++) {
      const before = (await stat(file)).ino;
      await savePasswordFile(file, tableOf(i % 2 === 0 ? 1 : 400));
      inodes.push([before, (await stat(file)).ino]);
    }
    writing = false;
    await reader;

    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((size) => size === 1 || size === 200 || size === 400)).toBe(true);
    // A new inode each time: the file was replaced by rename, not truncated and rewritten in place.
    expect(inodes.every(([before, after]) => before !== after)).toBe(true);
  });

  it('with create unset, refuses to create a file that does not exist', async () => {
    const file = fresh('nocreate');
    await expect(savePasswordFile(file, { source: file, entries: new Map() })).rejects.toThrow(
      /does not exist/,
    );
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });

  it('refuses an unwritable entry before touching the file', async () => {
    const file = fresh('invalid');
    await ok('-c', '-b', file, 'alice', 'one');
    const before = await readFile(file);
    const bad = { source: file, entries: new Map([['alice', 'plain-text']]) };
    await expect(savePasswordFile(file, bad)).rejects.toThrow(/cannot write user "alice"/);
    expect(await readFile(file)).toEqual(before);
  });

  it('names the line of a file that is not UTF-8', async () => {
    const file = fresh('latin1');
    const hash = await hashPassword('pw', 1);
    await writeFile(
      file,
      Buffer.concat([Buffer.from(`alice:${hash}\nZo`), Buffer.from([0xeb]), Buffer.from(`:${hash}\n`)]),
    );
    await expect(loadPasswordFile(file)).rejects.toThrow(`password file ${file} line 2: is not valid UTF-8`);
  });
});
