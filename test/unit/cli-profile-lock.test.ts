import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LOCK_FILE,
  ProfileLockedError,
  acquireProfileLock,
  processIsAlive,
} from '../../src/cli/profile/lock.ts';

const LOCK_MODULE = fileURLToPath(new URL('../../src/cli/profile/lock.ts', import.meta.url));

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  expect(processIsAlive(child.pid!)).toBe(false);
  return child.pid!;
}

/**
 * A separate node process that waits for `<barrier>/go`, tries to take the lock and prints the outcome;
 * a winner holds the lock until `<barrier>/done` exists.
 */
interface Racer {
  ready: Promise<void>;
  outcome: Promise<string>;
  exited: Promise<void>;
}
function racer(dir: string, barrier: string): Racer {
  const script = `
    import { existsSync } from 'node:fs';
    import { acquireProfileLock } from ${JSON.stringify(LOCK_MODULE)};
    const until = async (f) => { while (!existsSync(f)) await new Promise((r) => setTimeout(r, 5)); };
    process.stdout.write('ready\\n');
    await until(${JSON.stringify(path.join(barrier, 'go'))});
    try {
      const lock = await acquireProfileLock(${JSON.stringify(dir)});
      process.stdout.write('won\\n');
      await until(${JSON.stringify(path.join(barrier, 'done'))});
      await lock.release();
    } catch (error) {
      const what = error.name === 'ProfileLockedError' ? 'held:' + error.pid : 'error:' + error.message;
      process.stdout.write(what + '\\n');
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let onReady = () => {};
  let onOutcome = (_: string) => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const outcome = new Promise<string>((resolve) => (onOutcome = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n').filter(Boolean);
    if (lines.includes('ready')) onReady();
    const last = lines.find((l) => l !== 'ready');
    if (last !== undefined) onOutcome(last);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => onOutcome(`exited without an outcome: ${out}`));
  return { ready, outcome, exited };
}

describe('profile lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the holder pid into a private lock file and removes it on release', async () => {
    const lock = await acquireProfileLock(dir);
    const file = path.join(dir, LOCK_FILE);
    expect(await readFile(file, 'utf8')).toBe(`${process.pid}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a second taker while a live process holds the profile, naming that pid', async () => {
    const lock = await acquireProfileLock(dir, { pid: 4242, isAlive: () => true });
    const second = acquireProfileLock(dir, { pid: 4343, isAlive: () => true });
    await expect(second).rejects.toBeInstanceOf(ProfileLockedError);
    await expect(second).rejects.toMatchObject({ pid: 4242 });
    await lock.release();
    const third = await acquireProfileLock(dir, { pid: 4343, isAlive: () => true });
    await third.release();
  });

  it('refuses the same process taking its own profile twice', async () => {
    const lock = await acquireProfileLock(dir);
    await expect(acquireProfileLock(dir)).rejects.toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('takes over a stale lock left by a process that died', async () => {
    const dead = await deadPid();
    await writeFile(path.join(dir, LOCK_FILE), `${dead}\n`);
    const lock = await acquireProfileLock(dir);
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
  });

  it('takes over a lock file holding garbage, and leaves no temporary or guard files behind', async () => {
    await writeFile(path.join(dir, LOCK_FILE), 'not a pid');
    const lock = await acquireProfileLock(dir);
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    await lock.release();
  });

  it('does not let a former holder remove the lock of the process that took it over', async () => {
    const alive = new Set([1001, 1002]);
    const isAlive = (pid: number) => alive.has(pid);
    const first = await acquireProfileLock(dir, { pid: 1001, isAlive });
    alive.delete(1001); // the first holder is considered dead (e.g. suspended and its pid reused)
    const second = await acquireProfileLock(dir, { pid: 1002, isAlive });
    await first.release();
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe('1002\n');
    await second.release();
  });

  it('lets exactly one of many concurrent takers win, with and without a stale lock present', async () => {
    for (const stale of [false, true]) {
      if (stale) await writeFile(path.join(dir, LOCK_FILE), '999999999\n');
      const pids = Array.from({ length: 24 }, (_, i) => 20_000 + i);
      const isAlive = (pid: number) => pids.includes(pid);
      const outcomes = await Promise.allSettled(pids.map((pid) => acquireProfileLock(dir, { pid, isAlive })));
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      const winner = (winners[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireProfileLock>>>)
        .value;
      for (const o of outcomes) {
        if (o.status === 'rejected') expect(o.reason).toMatchObject({ pid: winner.pid });
      }
      expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe(`${winner.pid}\n`);
      await winner.release();
      expect(await readdir(dir)).toEqual([]);
    }
  });

  it('lets exactly one of several separate processes racing for a stale lock win', async () => {
    await writeFile(path.join(dir, LOCK_FILE), `${await deadPid()}\n`);
    const barrier = await mkdtemp(path.join(tmpdir(), 'hush-lock-barrier-'));
    try {
      const racers = Array.from({ length: 6 }, () => racer(dir, barrier));
      await Promise.all(racers.map((r) => r.ready));
      await writeFile(path.join(barrier, 'go'), '');
      const results = await Promise.all(racers.map((r) => r.outcome));
      await writeFile(path.join(barrier, 'done'), '');
      await Promise.all(racers.map((r) => r.exited));
      expect(results.filter((r) => r === 'won')).toHaveLength(1);
      const refused = results.filter((r) => r.startsWith('held:'));
      expect(refused).toHaveLength(5);
      expect(new Set(refused).size).toBe(1);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(barrier, { recursive: true, force: true });
    }
  }, 20_000);
});
