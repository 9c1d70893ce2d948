import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHush } from '../helpers/hush-broker.ts';
import { connectClient, sleep, tryConnect, settle } from '../helpers/mqtt.ts';
import { registerDevice, startHushServer, type HushServer } from './server-harness.ts';

describe('hush start (what `npm start` runs)', () => {
  let dir: string;
  let server: HushServer;
  let webPort: number;
  let mqttPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-start-'));
    server = await startHushServer({ dataDir: path.join(dir, 'data') });
    ({ webPort, mqttPort } = server);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a private data directory with the Hush aclfile and an empty password file', async () => {
    const data = path.join(dir, 'data');
    expect((await stat(data)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(data, 'passwd'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(data, 'aclfile'), 'utf8')).toContain('pattern read chats/%c/messages');
  });

  it('prints the URL to open', async () => {
    for (let i = 0; i < 20 && !server.output().includes('Ctrl-C'); i++) await sleep(50);
    expect(server.output()).toContain(`hush ready http://127.0.0.1:${webPort}/ mqtt=${mqttPort}`);
    expect(server.output()).toContain(`Open http://127.0.0.1:${webPort}/ in a browser`);
  });

  it('serves a page with a strict Content-Security-Policy', async () => {
    const response = await fetch(`http://127.0.0.1:${webPort}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(response.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect((await fetch(`http://127.0.0.1:${webPort}/nope`)).status).toBe(404);
  });

  it('accepts a user added with hush passwd after SIGHUP, over /mqtt on the web port, and refuses retained messages', async () => {
    const url = `ws://127.0.0.1:${webPort}/mqtt`;
    expect(await tryConnect(url, { username: 'alice', password: 'pw-alice-123' })).toBe('refused:5');
    const added = await runHush(['passwd', '-b', path.join(dir, 'data', 'passwd'), 'alice', 'pw-alice-123']);
    expect(added.code).toBe(0);
    process.kill(server.pid, 'SIGHUP');
    await sleep(500);
    const alice = await connectClient(url, { username: 'alice', password: 'pw-alice-123' });
    await alice.client.subscribeAsync('chats/alice/messages', { qos: 1 });
    await alice.client.publishAsync('chats/alice/messages', 'note to self', { qos: 1 });
    await settle(alice, 1);
    expect(alice.received.map((m) => m.payload)).toEqual(['note to self']);
    const closed = new Promise<void>((resolve) => alice.client.once('close', () => resolve()));
    alice.client.publish('chats/alice/messages', 'planted', { qos: 1, retain: true });
    await closed;
    await alice.end();
    expect(
      await tryConnect(`mqtt://127.0.0.1:${mqttPort}`, { username: 'alice', password: 'pw-alice-123' }),
    ).toBe('ok');
  });

  it('keeps a user added with hush passwd when devices register afterwards', async () => {
    const device = await registerDevice(server.url);
    const passwd = await readFile(path.join(dir, 'data', 'passwd'), 'utf8');
    expect(passwd).toMatch(/^alice:/m);
    expect(passwd).toContain(`${device.clientId}:`);
    const url = `ws://127.0.0.1:${webPort}/mqtt`;
    expect(await tryConnect(url, { username: 'alice', password: 'pw-alice-123' })).toBe('ok');
    expect(await tryConnect(url, { username: device.clientId, password: device.secret })).toBe('ok');
  });
});

describe('hush start across a restart', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-restart-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stops cleanly on Ctrl-C and comes back with its devices and their queued messages', async () => {
    const dataDir = path.join(dir, 'data');
    const first = await startHushServer({ dataDir });
    const receiver = await registerDevice(first.url);
    const sender = await registerDevice(first.url);
    const ws = `ws://127.0.0.1:${first.webPort}/mqtt`;
    const alice = await connectClient(ws, { username: sender.clientId, password: sender.secret });
    for (const text of ['one', 'two', 'three']) {
      await alice.client.publishAsync(receiver.inbox, text, { qos: 1 });
    }
    await alice.end();
    expect(await first.stop('SIGINT')).toBe(0);
    expect(first.output()).toContain('hush stopped');

    const second = await startHushServer({ dataDir });
    try {
      const health = (await (await fetch(`${second.url}/healthz`)).json()) as { devices: number };
      expect(health.devices).toBe(2);
      const bob = await connectClient(`ws://127.0.0.1:${second.webPort}/mqtt`, {
        username: receiver.clientId,
        password: receiver.secret,
        clientId: receiver.clientId,
        clean: false,
      });
      for (let i = 0; i < 40 && bob.received.length < 3; i++) await sleep(50);
      await sleep(100);
      await bob.end();
      expect(bob.received.map((m) => m.payload)).toEqual(['one', 'two', 'three']);
      expect(
        await tryConnect(`mqtt://127.0.0.1:${second.mqttPort}`, {
          username: sender.clientId,
          password: sender.secret,
        }),
      ).toBe('ok');
    } finally {
      expect(await second.stop('SIGINT')).toBe(0);
    }
  });
});
