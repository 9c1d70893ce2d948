import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep, settle } from '../helpers/mqtt.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const started: HushBrokerInstance[] = [];
const dirs: string[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hush-data-'));
  dirs.push(dir);
  return dir;
}

async function broker(options: Parameters<typeof startHushBroker>[0]): Promise<HushBrokerInstance> {
  const instance = await startHushBroker({ acl: SEED_ACL, ...options });
  started.push(instance);
  return instance;
}

/** Connects a persistent-session reader, subscribes to its inbox and leaves. */
/** The chat messages a test client received, without the broker's dropped-messages notice. */
function inbox(client: { received: Array<{ topic: string; payload: string }> }): string[] {
  return client.received.filter((m) => m.topic !== '$hush/queue/dropped').map((m) => m.payload);
}

async function leaveInbox(url: string, clientId: string): Promise<void> {
  const reader = await connectClient(url, { clientId, clean: false });
  await reader.client.subscribeAsync(`chats/${clientId}/messages`, { qos: 1 });
  await reader.end();
}

async function send(url: string, topic: string, payloads: string[], retain = false): Promise<void> {
  const sender = await connectClient(url, { clientId: `sender${payloads.length}${Date.now() % 1000}` });
  for (const payload of payloads) await sender.client.publishAsync(topic, payload, { qos: 1, retain });
  await sender.end();
}

afterEach(async () => {
  for (const instance of started.splice(0)) await instance.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('Hush broker with --data-dir', () => {
  for (const stop of ['SIGTERM', 'SIGKILL'] as const) {
    it(`keeps queued messages, the session and retained messages across a restart (${stop})`, async () => {
      const dir = await dataDir();
      const first = await broker({ dataDir: dir });
      const url = `mqtt://127.0.0.1:${first.mqttPort}`;
      await leaveInbox(url, 'sleeper');
      await send(url, 'chats/sleeper/messages', ['one', 'two', 'three']);
      await send(url, 'chats/retained/messages', ['kept'], true);
      if (stop === 'SIGKILL') {
        // Aedes sends PUBACK before it stores the message (lib/handlers/publish.js), so a crash within
        // milliseconds of an acknowledgement can lose that one message; let the writes land first.
        await sleep(300);
        await first.kill();
      } else await first.stop();

      const second = await broker({ dataDir: dir, mqttPort: first.mqttPort });
      const url2 = `mqtt://127.0.0.1:${second.mqttPort}`;
      const sleeper = await connectClient(url2, { clientId: 'sleeper', clean: false });
      await settle(sleeper, 3);
      expect(sleeper.received.map((m) => m.payload)).toEqual(['one', 'two', 'three']);
      const late = await connectClient(url2, { clientId: 'retained' });
      await late.client.subscribeAsync('chats/retained/messages', { qos: 1 });
      await settle(late, 1);
      expect(late.received.map((m) => [m.payload, m.retain])).toEqual([['kept', true]]);
      await Promise.all([sleeper.end(), late.end()]);
    });
  }
});

describe('Hush broker offline queues and session expiry', () => {
  // Both session stores: in memory (hush broker) and LevelDB (hush start, or --data-dir).
  describe.each([
    ['in memory', async () => ({})],
    ['in LevelDB', async () => ({ dataDir: await dataDir() })],
  ])('with sessions %s', (_store, storeOptions) => {
    it('caps an offline queue, keeps the oldest messages and logs that newer ones were dropped', async () => {
      const instance = await broker({
        ...(await storeOptions()),
        extraArgs: ['--max-queued-messages', '5', '--max-queued-share', '1'],
      });
      const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
      await leaveInbox(url, 'capped');
      await send(
        url,
        'chats/capped/messages',
        Array.from({ length: 12 }, (_, i) => `m${i}`),
      );
      const capped = await connectClient(url, { clientId: 'capped', clean: false });
      await settle(capped, 6);
      expect(inbox(capped)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      // The owner is told on connect how many were not kept for it.
      const notice = capped.received
        .filter((m) => m.topic === '$hush/queue/dropped')
        .map((m) => JSON.parse(m.payload));
      expect(notice).toEqual([
        {
          v: 1,
          dropped: 7,
          droppedBytes: 7 * 'chats/capped/messages'.length + 5 * 2 + 2 * 3,
          since: expect.any(Number),
        },
      ]);
      await instance.waitForLog(/queue full/);
      // After the queue drained, new messages flow again.
      await send(url, 'chats/capped/messages', ['after']);
      await sleep(200);
      expect(capped.received.map((m) => m.payload)).toContain('after');
      await capped.end();
    });

    it('bounds one sender to its share of an offline queue, so others still get through', async () => {
      const instance = await broker({
        ...(await storeOptions()),
        extraArgs: ['--max-queued-messages', '10'],
      });
      const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
      await leaveInbox(url, 'victim');
      // One sender floods: only half of the queue (the default share) is kept for it.
      await send(
        url,
        'chats/victim/messages',
        Array.from({ length: 30 }, (_, i) => `junk${i}`),
      );
      // A friend writes afterwards: still room for them.
      await send(url, 'chats/victim/messages', ['friend1', 'friend2']);
      const victim = await connectClient(url, { clientId: 'victim', clean: false });
      await settle(victim, 8);
      const got = inbox(victim);
      expect(got.filter((p) => p.startsWith('junk'))).toEqual(['junk0', 'junk1', 'junk2', 'junk3', 'junk4']);
      expect(got.filter((p) => p.startsWith('friend'))).toEqual(['friend1', 'friend2']);
      const notices = victim.received.filter((m) => m.topic === '$hush/queue/dropped');
      expect(notices.map((m) => (JSON.parse(m.payload) as { dropped: number }).dropped)).toEqual([25]);
      await instance.waitForLog(/"reason":"sender-share"/);
      await victim.end();
    });

    it("gives an acknowledged message's queue place back: after live traffic the whole offline queue is free", async () => {
      const instance = await broker({
        ...(await storeOptions()),
        extraArgs: ['--max-queued-messages', '5', '--max-queued-share', '1'],
      });
      const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
      const live = await connectClient(url, { clientId: 'busy', clean: false });
      await live.client.subscribeAsync('chats/busy/messages', { qos: 1 });
      const many = Array.from({ length: 20 }, (_, i) => `live${i}`);
      await send(url, 'chats/busy/messages', many);
      await settle(live, 20);
      expect(inbox(live)).toEqual(many);
      // MQTT.js acknowledges as it receives; let the last PUBACKs reach the broker before leaving.
      await sleep(200);
      await live.end();
      // The cap counts every stored copy not yet acknowledged, so a burst to a connected client may touch it;
      // what matters is that the places come back once the copies are acknowledged.
      const logBefore = instance.log().length;
      const offline = ['o1', 'o2', 'o3', 'o4', 'o5'];
      await send(url, 'chats/busy/messages', offline);
      const back = await connectClient(url, { clientId: 'busy', clean: false });
      await settle(back, 5);
      expect(inbox(back)).toEqual(offline);
      expect(instance.log().slice(logBefore)).not.toMatch(/"clientId":"busy"[^\n]*queue full/);
      await back.end();
    });
  });

  it('does not store messages for a wildcard subscriber that may not read them', async () => {
    const instance = await broker({ extraArgs: ['--max-queued-messages', '3'] });
    const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
    const attacker = await connectClient(url, { clientId: 'hoarder', clean: false });
    await attacker.client.subscribeAsync('#', { qos: 1 });
    await attacker.end();
    await send(url, 'chats/victim/messages', ['a', 'b', 'c', 'd', 'e']);
    const back = await connectClient(url, { clientId: 'hoarder', clean: false });
    await sleep(300);
    expect(back.received).toEqual([]);
    expect(instance.log()).not.toMatch(/"clientId":"hoarder"[^\n]*offline queue full/);
    await back.end();
  });

  it('removes a persistent session that was not used for longer than --session-expiry', async () => {
    const instance = await broker({ extraArgs: ['--session-expiry', '1'] });
    const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
    await leaveInbox(url, 'forgetful');
    await send(url, 'chats/forgetful/messages', ['stale']);
    await sleep(2500);
    const back = await connectClient(url, { clientId: 'forgetful', clean: false });
    await sleep(300);
    expect(back.received).toEqual([]);
    await instance.waitForLog(/"clientId":"forgetful"[^\n]*persistent session expired/);
    await back.end();
  });
});
