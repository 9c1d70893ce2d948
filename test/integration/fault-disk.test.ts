import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHAT_ACL } from '../../scripts/fault-harness.ts';
import { startHushBroker, runHush, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';

const started: HushBrokerInstance[] = [];
const dirs: string[] = [];

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function broker(options: Parameters<typeof startHushBroker>[0]): Promise<HushBrokerInstance> {
  const instance = await startHushBroker({ acl: CHAT_ACL, env: { HUSH_LOG_LEVEL: 'info' }, ...options });
  started.push(instance);
  return instance;
}

/** A persistent session subscribed to its inbox, then gone: the broker must store what is sent to it. */
async function leaveInbox(url: string, clientId: string): Promise<void> {
  const reader = await connectClient(url, { clientId, clean: false });
  await reader.client.subscribeAsync(`chats/${clientId}/messages`, { qos: 1 });
  await reader.end();
}

/** Reconnects the sleeper and returns what the broker kept for it. */
async function drainInbox(url: string, clientId: string, quietMs = 1500): Promise<string[]> {
  const reader = await connectClient(url, { clientId, clean: false });
  let last = -1;
  while (reader.received.length !== last) {
    last = reader.received.length;
    await sleep(quietMs);
  }
  await reader.end();
  return reader.received.map((m) => m.payload);
}

afterEach(async () => {
  for (const instance of started.splice(0)) await instance.stop();
});

afterAll(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('hush broker with its data directory on a full filesystem', () => {
  let mountPoint = '';

  beforeAll(async () => {
    mountPoint = await mkdtemp(path.join(tmpdir(), 'hush-fault-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(
        `fault-disk needs a small filesystem: 'mount -t tmpfs -o size=4m tmpfs ${mountPoint}' failed (run the tests as root, or in a container with CAP_SYS_ADMIN): ${(error as Error).message}`,
      );
    }
  });

  afterAll(async () => {
    for (const instance of started.splice(0)) await instance.stop();
    if (mountPoint === '') return;
    try {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    } catch {
      // Something still holds a file there (a broker that would not die): detach it anyway.
      execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    }
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('logs a clear error, keeps serving, and acknowledges only what it stored', async () => {
    const dataDir = path.join(mountPoint, 'data');
    const first = await broker({ dataDir, extraArgs: ['--publish-rate', '0'] });
    const url = `mqtt://127.0.0.1:${first.mqttPort}`;
    await leaveInbox(url, 'sleeper');
    // Stored while there is room: these must come back whatever happens next.
    const before = await connectClient(url, { clientId: 'early' });
    for (let i = 0; i < 20; i++)
      await before.client.publishAsync('chats/sleeper/messages', `early${i} .`, { qos: 1 });
    await before.end();

    // Fill what is left of the filesystem.
    const filler = path.join(mountPoint, 'filler');
    const handle = await open(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 7);
    try {
      for (;;) await handle.write(block);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      await handle.close();
    }

    const writer = await connectClient(url, { clientId: 'writer' });
    const acked: string[] = [];
    const payloads = Array.from({ length: 200 }, (_, i) => `m${i} ${'x'.repeat(2000)}`);
    for (const payload of payloads)
      writer.client.publish('chats/sleeper/messages', payload, { qos: 1 }, (error) => {
        if (!error) acked.push(payload.slice(0, payload.indexOf(' ')));
      });
    // PUBACKs come within milliseconds when stores succeed; a withheld one never comes.
    await sleep(4000);
    await writer.end();

    // Not crashed: the process is alive and still accepts connections.
    const alive = (() => {
      try {
        process.kill(first.pid, 0);
        return true;
      } catch {
        return false;
      }
    })();
    expect(alive, `the broker died:\n${first.log().slice(-2500)}`).toBe(true);
    const probe = await connectClient(url, { clientId: 'probe' });
    await probe.end();
    // A clear error naming the cause, at warn level or above (an operator's log filter keeps it).
    const diskErrors = first
      .log()
      .split('\n')
      .filter(
        (line) => /"level":(40|50|60)/.test(line) && /ENOSPC|no space left|disk (is )?full/i.test(line),
      );
    expect(diskErrors.length, first.log().slice(-1500)).toBeGreaterThan(0);

    // Space back, restart on the same data: every acknowledged message must be there.
    await rm(filler);
    await first.stop();
    const second = await broker({ dataDir, mqttPort: first.mqttPort });
    const kept = (await drainInbox(`mqtt://127.0.0.1:${second.mqttPort}`, 'sleeper')).map((p) =>
      p.slice(0, p.indexOf(' ')),
    );
    const early = Array.from({ length: 20 }, (_, i) => `early${i}`);
    expect(kept.slice(0, 20)).toEqual(early);
    const lost = acked.filter((id) => !kept.includes(id));
    const problems = first
      .log()
      .split('\n')
      .filter((line) => /"level":(40|50|60)/.test(line))
      .map((line) => line.slice(0, 300));
    console.log(
      `fault-disk full: ${JSON.stringify({ published: payloads.length, acked: acked.length, kept: kept.length, ackedButLost: lost.length, firstLost: lost.slice(0, 5), brokerProblems: problems.slice(0, 5) })}`,
    );
    expect(lost).toEqual([]);
  }, 60_000);
});

/** A data directory holding one queued message for 'sleeper' (so an empty start would be visible). */
async function populatedDataDir(): Promise<string> {
  const dataDir = path.join(await tempDir('hush-fault-corrupt-'), 'data');
  const instance = await broker({ dataDir });
  const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
  await leaveInbox(url, 'sleeper');
  const writer = await connectClient(url, { clientId: 'writer' });
  await writer.client.publishAsync('chats/sleeper/messages', 'kept', { qos: 1 });
  await writer.end();
  await instance.stop();
  started.splice(started.indexOf(instance), 1);
  return dataDir;
}

/** The LevelDB files of a data directory, by kind. */
async function levelFiles(dataDir: string): Promise<{ dir: string; names: string[] }> {
  const dir = path.join(dataDir, 'broker.db');
  return { dir, names: (await readdir(dir)).sort() };
}

const corruptions: Array<[string, (dataDir: string) => Promise<string>]> = [
  [
    'garbage written over every LevelDB file',
    async (dataDir) => {
      const { dir, names } = await levelFiles(dataDir);
      for (const name of names.filter((n) => n !== 'LOCK'))
        await writeFile(path.join(dir, name), Buffer.alloc(4096, 0x5a));
      return dir;
    },
  ],
  [
    'CURRENT and MANIFEST truncated to nothing',
    async (dataDir) => {
      const { dir, names } = await levelFiles(dataDir);
      for (const name of names.filter((n) => n === 'CURRENT' || n.startsWith('MANIFEST-')))
        await truncate(path.join(dir, name), 0);
      return dir;
    },
  ],
  [
    'a file where the LevelDB directory should be',
    async (dataDir) => {
      const dir = path.join(dataDir, 'broker.db');
      await rm(dir, { recursive: true });
      await writeFile(dir, 'not a directory\n');
      return dir;
    },
  ],
  [
    'a file where the data directory should be',
    async (dataDir) => {
      await rm(dataDir, { recursive: true });
      await mkdir(path.dirname(dataDir), { recursive: true });
      await writeFile(dataDir, 'not a directory\n');
      return dataDir;
    },
  ],
];

describe('hush broker --data-dir on a corrupted data directory', () => {
  for (const [what, corrupt] of corruptions) {
    it(`refuses to start, naming the path and what to do: ${what}`, async () => {
      const dataDir = await populatedDataDir();
      const damaged = await corrupt(dataDir);
      const port = await freePort();
      const run = await runHush(
        [
          'broker',
          '--host',
          '127.0.0.1',
          '--mqtt-port',
          String(port),
          '--no-ws-listener',
          '--allow-anonymous',
          '--data-dir',
          dataDir,
        ],
        { timeoutMs: 8000 },
      );
      const output = run.stdout + run.stderr;
      if (run.code === null) {
        // It started: then the queued message must still be there, never a silent empty state.
        expect.fail(`the broker started on a damaged data directory (${what}):\n${output.slice(-2000)}`);
      }
      expect(run.code, output).not.toBe(0);
      expect(output).not.toMatch(/hush broker ready/);
      expect(output).toContain(damaged.startsWith(dataDir) ? dataDir : damaged);
      // What to do: restore it from a backup, or move it aside to start empty.
      expect(output).toMatch(/backup|move it|remove it|rename|restore/i);
    }, 30_000);
  }
});
