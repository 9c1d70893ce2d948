// Seed mode on a real Mosquitto started from `hush deploy mosquitto --anonymous`: the seed client (src/client/seed,
// one random client id per chat) runs the chat scenario over wss:// trusting the generated CA — both ways with
// receipts, an offline recipient's queue, a removal in a group of three after which the removed member reads
// nothing, not even by taking over the old ids — and both audits report exactly the documented takeover limitation
// (docs/DEPLOY.md, "Anonymous mode and limits"), nothing else. `hush start --mosquitto-dir` refuses the deployment.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/index.ts';
import { lintMosquittoConf } from '../../src/audit/lint/index.ts';
import type { ReceivedText } from '../../src/client/api.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { SeedClient, createSeedDevice } from '../../src/client/seed/index.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { runHush } from '../helpers/hush-broker.ts';
import { runMosquittoConf, type MosquittoProcess } from '../helpers/mosquitto.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';

const HANDOVER_MS = 1500;

describe('seed mode on a Mosquitto from hush deploy mosquitto --anonymous, over wss://', () => {
  let temp: string;
  let dir: string;
  let wss: string;
  let mqttPort: number;
  let ca: Buffer;
  let mosquitto: MosquittoProcess;
  const open: SeedClient[] = [];
  const raw: TestClient[] = [];

  beforeAll(async () => {
    temp = await mkdtemp(path.join(tmpdir(), 'hush-mosq-seed-'));
    await chmod(temp, 0o755); // user mosquitto must enter it
    dir = path.join(temp, 'deploy');
    mqttPort = await freePort();
    const wsPort = await freePort();
    wss = `wss://localhost:${wsPort}/mqtt`;
    const deployed = await runHush([
      'deploy',
      'mosquitto',
      '--out',
      dir,
      '--anonymous',
      '--mqtt-port',
      String(mqttPort),
      '--ws-port',
      String(wsPort),
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    ca = await readFile(path.join(dir, 'tls/ca.crt'));
    mosquitto = await runMosquittoConf(path.join(dir, 'mosquitto.conf'), [mqttPort, wsPort]);
  }, 60_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(raw.splice(0).map((c) => c.end()));
  });

  afterAll(async () => {
    await mosquitto?.stop();
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  const connection = () => ({ backoff: { baseMs: 100, capMs: 1000 }, mqttOptions: { ca } });

  async function reopen(store: MemoryStore): Promise<SeedClient> {
    const client = await SeedClient.open({
      store,
      provider,
      handoverMs: HANDOVER_MS,
      connection: connection(),
    });
    open.push(client);
    return client;
  }

  async function device(displayName: string): Promise<{ client: SeedClient; store: MemoryStore }> {
    const store = new MemoryStore();
    await createSeedDevice({ brokerUrl: wss, store, provider, displayName });
    const client = await reopen(store);
    await client.connect();
    return { client, store };
  }

  function inbox(client: SeedClient): ReceivedText[] {
    const got: ReceivedText[] = [];
    client.on('message', (m) => got.push(m));
    return got;
  }

  async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  it('hush start --mosquitto-dir refuses it: an anonymous deployment has no accounts to register', async () => {
    const refused = await runHush(['start', '--mosquitto-dir', dir, '--broker-url', wss, '--port', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is an anonymous deployment');
  });

  it('two devices chat both ways with receipts; each chat has its own ids', async () => {
    const { client: alice } = await device('alice');
    const { client: bob } = await device('bob');
    const atAlice = inbox(alice);
    const atBob = inbox(bob);
    const invite = await alice.createInvite();
    const chat = invite.chatId;
    expect(await bob.acceptInvite(invite.link, { timeoutMs: 10_000 })).toBe(chat);
    const aliceId = alice.chatIdentity(chat).clientId;
    expect(aliceId).not.toBe(invite.inbox);

    const { id } = await alice.sendText(chat, 'hi bob');
    await until('bob receives', () => atBob.length === 1);
    expect(atBob[0]).toMatchObject({ chatId: chat, text: 'hi bob', id, from: aliceId });
    await until('delivered', () => alice.history(chat).find((m) => m.id === id)?.state === 'delivered');
    await bob.markRead(chat, [id]);
    await until('read', () => alice.history(chat).find((m) => m.id === id)?.state === 'read');
    await bob.sendText(chat, 'hi alice');
    await until('alice receives', () => atAlice.length === 1);
    expect(atAlice[0]!.text).toBe('hi alice');

    // A second chat of alice's uses another id, unknown to bob.
    const { client: carol } = await device('carol');
    const second = await alice.createInvite();
    await carol.acceptInvite(second.link, { timeoutMs: 10_000 });
    const aliceSecond = alice.chatIdentity(second.chatId).clientId;
    expect(new Set([aliceId, aliceSecond, invite.inbox, second.inbox]).size).toBe(4);
    expect(bob.chats().flatMap((c) => c.members.map((m) => m.clientId))).not.toContain(aliceSecond);
  }, 60_000);

  it('an offline recipient gets the queued messages, in order, when it comes back', async () => {
    const { client: alice } = await device('alice');
    const bob = await device('bob');
    const invite = await alice.createInvite();
    await bob.client.acceptInvite(invite.link, { timeoutMs: 10_000 });
    await until('alice sees bob', () => alice.chats()[0]?.members.length === 2);
    await bob.client.close();
    for (let i = 0; i < 5; i++) await alice.sendText(invite.chatId, `queued ${i}`);
    await until('all sent', () => alice.history(invite.chatId).every((m) => m.state !== 'sending'));
    const again = await reopen(bob.store);
    const got = inbox(again);
    await again.connect();
    await until('all 5 arrive', () => got.length === 5);
    expect(got.map((m) => m.text)).toEqual(Array.from({ length: 5 }, (_, i) => `queued ${i}`));
  }, 60_000);

  it('a group of three: after a removal the removed member reads nothing, even taking over the old ids', async () => {
    const { client: alice } = await device('alice');
    const { client: bob } = await device('bob');
    const { client: mallory } = await device('mallory');
    const atBob = inbox(bob);
    const atMallory = inbox(mallory);
    const invite = await alice.createInvite(undefined, { uses: 2 });
    const chat = invite.chatId;
    for (const c of [bob, mallory]) await c.acceptInvite(invite.link, { timeoutMs: 10_000 });
    await until('everyone sees three members', () =>
      [alice, bob, mallory].every((c) => c.chats()[0]?.members.length === 3),
    );
    await alice.sendText(chat, 'hello group');
    await until('both receive', () => atBob.length === 1 && atMallory.length === 1);

    const malloryId = mallory.chatIdentity(chat).clientId;
    const oldIds = mallory
      .chats()[0]!
      .members.map((m) => m.clientId)
      .filter((id) => id !== malloryId);
    await alice.removeMember(chat, malloryId);
    await until('alice and bob moved to new ids', () => {
      const now = [alice, bob].map((c) => c.chatIdentity(chat).clientId);
      return (
        now.every((id) => !oldIds.includes(id)) &&
        [alice, bob].every((c) => c.chats()[0]?.members.length === 2)
      );
    });
    await Promise.all([alice, bob].map((c) => c.settled()));
    await until('handover over', () => [alice, bob].every((c) => c.retiringIdentities().length === 0));

    // Seed mode lets mallory connect with the old ids; nothing reaches them any more.
    for (const id of oldIds) {
      const thief = await connectClient(wss, { clientId: id, clean: false, ca });
      raw.push(thief);
      await thief.client.subscribeAsync(`chats/${id}/messages`, { qos: 1 });
    }
    await alice.sendText(chat, 'after the removal');
    await until('bob receives it', () => atBob.some((m) => m.text === 'after the removal'));
    await sleep(300);
    for (const thief of raw) expect(thief.received).toEqual([]);
    expect(atMallory.map((m) => m.text)).toEqual(['hello group']);
  }, 90_000);

  it('the audits report exactly the documented takeover limitation and nothing else', async () => {
    const live = await runHush(
      ['audit', wss, '--ca', path.join(dir, 'tls/ca.crt'), '--no-resource-checks', '--json'],
      {
        timeoutMs: 120_000,
      },
    );
    expect(live.code, live.stderr).toBe(1);
    const report = JSON.parse(live.stdout) as AuditReport;
    const bad = report.findings.filter((f) => f.verdict === 'leak' || f.verdict === 'weakness');
    expect(bad.map((f) => f.id).sort(), JSON.stringify(bad, null, 1)).toEqual([
      'takeover-clean',
      'takeover-persistent',
    ]);
    expect(report.findings.find((f) => f.id === 'wildcard-all')?.verdict).toBe('pass');
    expect(report.summary.inconclusive).toBe(0);

    const lint = await lintMosquittoConf(path.join(dir, 'mosquitto.conf'));
    const dangerous = lint.filter((f) => ['critical', 'high', 'medium'].includes(f.severity));
    // One per listener: neither binds client ids to accounts.
    const conf = (await readFile(path.join(dir, 'mosquitto.conf'), 'utf8')).split('\n');
    const listenerLines = conf.flatMap((l, i) => (l.startsWith('listener ') ? [i + 1] : []));
    expect(listenerLines).toHaveLength(2);
    expect(dangerous.map((f) => `${f.id}:${f.severity}:${f.line}`)).toEqual(
      listenerLines.map((line) => `client-id-not-bound:high:${line}`),
    );
  }, 150_000);
});
