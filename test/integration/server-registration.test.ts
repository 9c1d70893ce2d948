/**
 * The device registration API of a real `hush start` process: create-only registration, devices that can
 * connect (and have an inbox that keeps messages) as soon as the 201 arrives, 100 parallel registrations,
 * impostors refused, bad bodies refused, revocation, health.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePasswordFile } from '../../src/broker/passwd/index.ts';
import { connectClient, sleep, tryConnect } from '../helpers/mqtt.ts';
import {
  newSecret,
  postJson,
  registerDevice,
  revokeDevice,
  startHushServer,
  type HushServer,
} from './server-harness.ts';

const CLIENT_ID = /^[A-Za-z0-9_-]{22}$/;

describe('device registration API (hush start)', () => {
  let dir: string;
  let server: HushServer;
  let devicesUrl: string;
  let wsUrl: string;
  let tcpUrl: string;

  const passwordEntries = async () =>
    parsePasswordFile(await readFile(path.join(dir, 'data', 'passwd'), 'utf8'), 'passwd').entries;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-server-'));
    // No registration or connect rate limit here: this suite registers and connects 100 devices at once.
    server = await startHushServer({
      dataDir: path.join(dir, 'data'),
      args: ['--registration-rate', '0', '--connect-rate', '0'],
    });
    devicesUrl = `${server.url}/api/v1/devices`;
    wsUrl = `ws://127.0.0.1:${server.webPort}/mqtt`;
    tcpUrl = `mqtt://127.0.0.1:${server.mqttPort}`;
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 201 with a server-chosen client id, its inbox and the broker URLs', async () => {
    const secret = newSecret();
    const response = await postJson(devicesUrl, { secret, name: 'laptop' });
    expect(response.status).toBe(201);
    const clientId = response.body.clientId as string;
    expect(clientId).toMatch(CLIENT_ID);
    expect(response.body).toEqual({
      clientId,
      inbox: `chats/${clientId}/messages`,
      brokerUrl: `ws://127.0.0.1:${server.webPort}/mqtt`,
      mqttUrl: `mqtt://127.0.0.1:${server.mqttPort}`,
    });
    expect(response.headers.get('location')).toBe(`/api/v1/devices/${clientId}`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const stored = (await passwordEntries()).get(clientId);
    expect(stored).toMatch(/^\$7\$/);
    expect(stored).not.toContain(secret);
  });

  it('a registered device connects over /mqtt with its id and secret within a second of the 201', async () => {
    const device = await registerDevice(server.url);
    const started = Date.now();
    const client = await connectClient(device.brokerUrl, {
      username: device.clientId,
      password: device.secret,
      clientId: device.clientId,
      clean: false,
    });
    expect(Date.now() - started).toBeLessThan(1000);
    await client.end();
    expect(await tryConnect(device.mqttUrl!, { username: device.clientId, password: device.secret })).toBe(
      'ok',
    );
  });

  it('a message sent to a new device before it ever connects is delivered when it first connects', async () => {
    const [receiver, sender] = [await registerDevice(server.url), await registerDevice(server.url)];
    const alice = await connectClient(wsUrl, { username: sender.clientId, password: sender.secret });
    await alice.client.publishAsync(receiver.inbox, 'sent before you existed', { qos: 1 });
    await alice.end();
    // No SUBSCRIBE: the session the server provisioned at registration already holds the inbox.
    const bob = await connectClient(wsUrl, {
      username: receiver.clientId,
      password: receiver.secret,
      clientId: receiver.clientId,
      clean: false,
    });
    for (let i = 0; i < 40 && bob.received.length === 0; i++) await sleep(50);
    await bob.end();
    expect(bob.received.map((m) => [m.topic, m.payload])).toEqual([
      [receiver.inbox, 'sent before you existed'],
    ]);
  });

  it('100 parallel registrations all succeed with distinct ids, none lost, and all 100 devices connect', async () => {
    const before = (await passwordEntries()).size;
    const devices = await Promise.all(Array.from({ length: 100 }, () => registerDevice(server.url)));
    const ids = new Set(devices.map((d) => d.clientId));
    expect(ids.size).toBe(100);
    const entries = await passwordEntries();
    expect(entries.size).toBe(before + 100);
    for (const id of ids) expect(entries.has(id)).toBe(true);
    const outcomes = await Promise.all(
      devices.map((d) =>
        tryConnect(tcpUrl, { username: d.clientId, password: d.secret, clientId: d.clientId, clean: false }),
      ),
    );
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  });

  it("a client with the victim's client id but without its secret is refused and reads nothing", async () => {
    const victim = await registerDevice(server.url);
    const attacker = await registerDevice(server.url);
    expect(
      await tryConnect(wsUrl, {
        username: victim.clientId,
        password: newSecret(),
        clientId: victim.clientId,
      }),
    ).toBe('refused:5');
    expect(await tryConnect(wsUrl, { clientId: victim.clientId, clean: false })).toBe('refused:5');
    expect(
      await tryConnect(wsUrl, {
        username: victim.clientId,
        password: attacker.secret,
        clientId: victim.clientId,
        clean: false,
      }),
    ).toBe('refused:5');
    // With its own credentials but the victim's client id, the attacker gets its own session, not the victim's.
    const spy = await connectClient(wsUrl, {
      username: attacker.clientId,
      password: attacker.secret,
      clientId: victim.clientId,
      clean: false,
    });
    await spy.client.subscribeAsync(victim.inbox, { qos: 1 }).catch(() => undefined);
    const friend = await registerDevice(server.url);
    const sender = await connectClient(tcpUrl, { username: friend.clientId, password: friend.secret });
    await sender.client.publishAsync(victim.inbox, 'for the victim only', { qos: 1 });
    await sleep(300);
    await sender.end();
    await spy.end();
    expect(spy.received).toEqual([]);
  });

  it('a registration cannot choose or overwrite a client id', async () => {
    const victim = await registerDevice(server.url);
    const hashBefore = (await passwordEntries()).get(victim.clientId);
    const attempt = await postJson(devicesUrl, { secret: newSecret(), clientId: victim.clientId });
    expect(attempt.status).toBe(400);
    expect(attempt.body.error).toMatch(/clientId is chosen by the server/);
    for (const key of ['username', 'id']) {
      const other = await postJson(devicesUrl, { secret: newSecret(), [key]: victim.clientId });
      expect(other.status).toBe(400);
    }
    // Re-sending the victim's own secret only creates another, different device.
    const again = await registerDevice(server.url, {});
    expect(again.clientId).not.toBe(victim.clientId);
    expect((await passwordEntries()).get(victim.clientId)).toBe(hashBefore);
    expect(await tryConnect(wsUrl, { username: victim.clientId, password: victim.secret })).toBe('ok');
  });

  it('refuses oversized, non-JSON, wrongly typed and malformed bodies with a JSON error', async () => {
    const cases: Array<[string, () => Promise<{ status: number; body: Record<string, unknown> }>, number]> = [
      ['5 KiB body', () => postJson(devicesUrl, { secret: newSecret(), name: 'x'.repeat(5000) }), 413],
      ['text/plain', () => postJson(devicesUrl, { secret: newSecret() }, { contentType: 'text/plain' }), 415],
      [
        'form encoding',
        () =>
          postJson(devicesUrl, 'secret=abc', {
            contentType: 'application/x-www-form-urlencoded',
            raw: true,
          }),
        415,
      ],
      ['invalid JSON', () => postJson(devicesUrl, '{"secret": ', { raw: true }), 400],
      ['empty body', () => postJson(devicesUrl, '', { raw: true }), 400],
      ['an array', () => postJson(devicesUrl, [newSecret()]), 400],
      ['no secret', () => postJson(devicesUrl, { name: 'x' }), 400],
      ['a 16-byte secret', () => postJson(devicesUrl, { secret: newSecret().slice(0, 22) }), 400],
      ['a 33-byte secret', () => postJson(devicesUrl, { secret: newSecret() + 'AA' }), 400],
      ['standard base64', () => postJson(devicesUrl, { secret: 'A'.repeat(42) + '+' }), 400],
      ['non-canonical b64u', () => postJson(devicesUrl, { secret: 'A'.repeat(42) + 'B' }), 400],
      ['a numeric secret', () => postJson(devicesUrl, { secret: 12345 }), 400],
      [
        'a 101-character name',
        () => postJson(devicesUrl, { secret: newSecret(), name: 'n'.repeat(101) }),
        400,
      ],
      ['a control character', () => postJson(devicesUrl, { secret: newSecret(), name: 'a\u0007b' }), 400],
      ['an unknown field', () => postJson(devicesUrl, { secret: newSecret(), admin: true }), 400],
    ];
    const before = (await passwordEntries()).size;
    for (const [what, send, status] of cases) {
      const response = await send();
      expect({ what, status: response.status }).toEqual({ what, status });
      expect(typeof response.body.error, what).toBe('string');
    }
    const get = await fetch(devicesUrl);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await fetch(`${server.url}/api/v1/nothing`)).status).toBe(404);
    expect((await passwordEntries()).size).toBe(before);
  });

  it('revocation closes the device connection, removes its credentials and refuses later connects', async () => {
    const device = await registerDevice(server.url);
    const other = await registerDevice(server.url);
    const connection = await connectClient(wsUrl, {
      username: device.clientId,
      password: device.secret,
      clientId: device.clientId,
      clean: false,
    });
    const closed = new Promise<void>((resolve) => connection.client.once('close', () => resolve()));
    // Wrong secret, another device's secret, an unknown id, a mismatched id: all 401, nothing changes.
    expect(await revokeDevice(server.url, device.clientId, newSecret())).toBe(401);
    expect(await revokeDevice(server.url, device.clientId, other.secret)).toBe(401);
    expect(await revokeDevice(server.url, 'AAAAAAAAAAAAAAAAAAAAAA', device.secret)).toBe(401);
    const mismatched = await fetch(`${server.url}/api/v1/devices/${other.clientId}`, {
      method: 'DELETE',
      headers: {
        authorization: `Basic ${Buffer.from(`${device.clientId}:${device.secret}`).toString('base64')}`,
      },
    });
    expect(mismatched.status).toBe(401);
    expect(
      (await fetch(`${server.url}/api/v1/devices/${device.clientId}`, { method: 'DELETE' })).status,
    ).toBe(401);
    expect(connection.client.connected).toBe(true);

    expect(await revokeDevice(server.url, device.clientId, device.secret)).toBe(204);
    await closed;
    await connection.end();
    expect((await passwordEntries()).has(device.clientId)).toBe(false);
    expect((await passwordEntries()).has(other.clientId)).toBe(true);
    expect(await tryConnect(wsUrl, { username: device.clientId, password: device.secret })).toBe('refused:5');
    expect(await tryConnect(tcpUrl, { username: device.clientId, password: device.secret })).toBe(
      'refused:5',
    );
    expect(await revokeDevice(server.url, device.clientId, device.secret)).toBe(401);
    expect(await tryConnect(wsUrl, { username: other.clientId, password: other.secret })).toBe('ok');
  });

  it('GET /healthz reports the registered devices and open connections', async () => {
    const device = await registerDevice(server.url);
    const connection = await connectClient(wsUrl, { username: device.clientId, password: device.secret });
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const health = (await response.json()) as Record<string, unknown>;
    await connection.end();
    expect(health).toEqual({
      status: 'ok',
      devices: (await passwordEntries()).size,
      connections: expect.any(Number),
    });
    expect(health.connections).toBeGreaterThanOrEqual(1);
  });

  it('every response carries the security headers', async () => {
    const responses = [
      await fetch(`${server.url}/`),
      await fetch(`${server.url}/healthz`),
      await fetch(`${server.url}/nope`),
      await fetch(devicesUrl, { method: 'POST', body: 'x' }),
      await fetch(`${server.url}/api/v1/devices/x`, { method: 'DELETE' }),
    ];
    for (const response of responses) {
      expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });
});
