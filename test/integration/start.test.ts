import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUSH_BIN, runHush } from '../helpers/hush-broker.ts';
import { connectClient, sleep, tryConnect } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';

describe('hush start (what `npm start` runs)', () => {
  let dir: string;
  let webPort: number;
  let mqttPort: number;
  let child: ReturnType<typeof spawn>;
  let output = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-start-'));
    [webPort, mqttPort] = [await freePort(), await freePort()];
    child = spawn(
      process.execPath,
      [
        HUSH_BIN,
        'start',
        '--port',
        String(webPort),
        '--mqtt-port',
        String(mqttPort),
        '--data-dir',
        path.join(dir, 'data'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready:\n${output}`)), 20_000);
      child.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
        if (output.includes('hush ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    });
  });
  afterAll(async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      process.kill(child.pid, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a private data directory with the Hush aclfile and an empty password file', async () => {
    const data = path.join(dir, 'data');
    expect((await stat(data)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(data, 'passwd'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(data, 'aclfile'), 'utf8')).toContain('pattern read chats/%c/messages');
  });

  it('serves a page with a strict Content-Security-Policy', async () => {
    const response = await fetch(`http://127.0.0.1:${webPort}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(response.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    expect((await fetch(`http://127.0.0.1:${webPort}/nope`)).status).toBe(404);
  });

  it('accepts a user added with hush passwd after SIGHUP, over /mqtt on the web port, and refuses retained messages', async () => {
    const url = `ws://127.0.0.1:${webPort}/mqtt`;
    expect(await tryConnect(url, { username: 'alice', password: 'pw-alice-123' })).toBe('refused:5');
    const added = await runHush(['passwd', '-b', path.join(dir, 'data', 'passwd'), 'alice', 'pw-alice-123']);
    expect(added.code).toBe(0);
    process.kill(child.pid!, 'SIGHUP');
    await sleep(500);
    const alice = await connectClient(url, { username: 'alice', password: 'pw-alice-123' });
    await alice.client.subscribeAsync('chats/alice/messages', { qos: 1 });
    await alice.client.publishAsync('chats/alice/messages', 'note to self', { qos: 1 });
    await sleep(200);
    expect(alice.received.map((m) => m.payload)).toEqual(['note to self']);
    const closed = new Promise<void>((resolve) => alice.client.once('close', () => resolve()));
    alice.client.publish('chats/alice/messages', 'planted', { qos: 1, retain: true });
    await closed;
    await alice.end();
    expect(
      await tryConnect(`mqtt://127.0.0.1:${mqttPort}`, { username: 'alice', password: 'pw-alice-123' }),
    ).toBe('ok');
  });
});
