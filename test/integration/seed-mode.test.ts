// Seed mode (docs/PROTOCOL.md §11) through a real Mosquitto 2.0 with exactly the seed's ACL, anonymous, and through
// Hush's own broker configured the same way: one identity per chat, throwaway invite inboxes retired after use,
// ids replaced after a removal, a `mosquitto_sub -t '#'` eavesdropper that sees nothing, and `hush audit` naming
// the takeover weakness that seed mode leaves open.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runAttackSuite } from '../../src/audit/index.ts';
import { startBroker } from '../../src/broker/index.ts';
import type { ReceivedText } from '../../src/client/api.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { SeedClient, createSeedDevice } from '../../src/client/seed/index.ts';
import { parseInviteLink } from '../../src/core/invite.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt.ts';
import { reapAtExit } from '../helpers/reaper.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const HANDOVER_MS = 1500;

interface TestBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const BROKERS: Record<string, () => Promise<TestBroker>> = {
  'a real Mosquitto 2.0 with the seed ACL': async () => {
    const m = await startMosquitto({ acl: SEED_ACL, allowAnonymous: true });
    return { url: `mqtt://127.0.0.1:${m.mqttPort}`, port: m.mqttPort, stop: () => m.stop() };
  },
  'Hush’s broker with the seed ACL, anonymous': async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hush-seed-'));
    await writeFile(`${dir}/aclfile`, SEED_ACL);
    const broker = await startBroker(
      {
        mqttPort: 0,
        aclFile: `${dir}/aclfile`,
        allowAnonymous: true,
        limits: { connectsPerSecondPerAddress: 0 },
      },
      pino({ level: 'silent' }),
    );
    return {
      url: `mqtt://127.0.0.1:${broker.mqttPort}`,
      port: broker.mqttPort!,
      stop: async () => {
        await broker.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/** `mosquitto_sub -t '#' -v`, anonymous: everything it prints is a leak. */
function eavesdrop(port: number): { output: () => string; ready: Promise<void>; stop: () => Promise<void> } {
  // stdbuf: line-buffered stdout, so what it receives is seen at once (a pipe is block-buffered otherwise).
  const child: ChildProcess = spawn(
    'stdbuf',
    ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(port), '-t', '#', '-v', '-d'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const forget = reapAtExit(child.pid!);
  let out = '';
  let debug = '';
  const ready = new Promise<void>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        // -d prints protocol lines ("Client … received SUBACK"); the rest is delivered messages.
        if (/^Client |^Subscribed|^\s*$/.test(line)) {
          debug += line;
          if (/SUBACK/.test(line)) resolve();
        } else if (line.trim() !== '') out += `${line}\n`;
      }
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    output: () => out,
    ready,
    stop: async () => {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
      forget();
      void debug;
    },
  };
}

for (const [name, start] of Object.entries(BROKERS)) {
  describe(`seed mode through ${name}`, () => {
    let broker: TestBroker;
    let spy: ReturnType<typeof eavesdrop>;
    const open: SeedClient[] = [];
    const raw: TestClient[] = [];

    beforeAll(async () => {
      broker = await start();
      spy = eavesdrop(broker.port);
      await spy.ready;
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((c) => c.close()));
      await Promise.all(raw.splice(0).map((c) => c.end()));
    });
    afterAll(async () => {
      await spy?.stop();
      await broker?.stop();
    });

    async function device(displayName: string): Promise<SeedClient> {
      const store = new MemoryStore();
      await createSeedDevice({ brokerUrl: broker.url, store, provider, displayName });
      const client = await SeedClient.open({
        store,
        provider,
        handoverMs: HANDOVER_MS,
        connection: { backoff: { baseMs: 100, capMs: 1000 } },
      });
      open.push(client);
      await client.connect();
      return client;
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

    it('two devices chat both ways; ids per chat, throwaway invite inbox retired after use; # sees nothing', async () => {
      const alice = await device('alice');
      const bob = await device('bob');
      const carol = await device('carol');
      const atAlice = inbox(alice);
      const atBob = inbox(bob);
      const atCarol = inbox(carol);

      const invite = await alice.createInvite();
      const chatA = invite.chatId;
      expect(alice.inviteInboxes().map((i) => i.clientId)).toEqual([invite.inbox]);
      expect(await bob.acceptInvite(invite.link, { timeoutMs: 10_000 })).toBe(chatA);

      const aliceA = alice.chatIdentity(chatA).clientId;
      expect(aliceA).not.toBe(invite.inbox);
      expect(parseInviteLink(invite.link).inbox).toBe(invite.inbox);

      await bob.sendText(chatA, 'hi alice');
      await alice.sendText(chatA, 'hi bob');
      await until('both texts', () => atAlice.length === 1 && atBob.length === 1);
      expect(atAlice[0]!.text).toBe('hi alice');
      expect(atBob[0]!.text).toBe('hi bob');

      // The invite inbox is retired after its single use: a second join with the link gets no answer.
      await until('invite inbox retired', () => alice.inviteInboxes().length === 0);
      await expect(carol.acceptInvite(invite.link, { timeoutMs: 1500 })).rejects.toMatchObject({
        code: 'timeout',
      });

      // A second chat of alice's has another id; bob (chat A) knows only alice's chat-A id.
      const invite2 = await alice.createInvite();
      const chatB = await carol.acceptInvite(invite2.link, { timeoutMs: 10_000 });
      const aliceB = alice.chatIdentity(chatB).clientId;
      expect(new Set([aliceA, aliceB, invite.inbox, invite2.inbox]).size).toBe(4);
      const bobKnows = bob.chats().flatMap((c) => c.members.map((m) => m.clientId));
      expect(bobKnows).toContain(aliceA);
      expect(bobKnows).not.toContain(aliceB);

      // Bob uses what he knows: he reads alice's chat-A inbox (seed mode allows it) and subscribes to everything.
      const bobSpy = await connectClient(broker.url, { clientId: aliceA, clean: true });
      raw.push(bobSpy);
      await bobSpy.client.subscribeAsync(`chats/${aliceA}/messages`, { qos: 1 });
      await bobSpy.client.subscribeAsync('#', { qos: 1 });
      await carol.sendText(chatB, 'only for alice');
      await until('chat B text', () => atAlice.some((m) => m.text === 'only for alice'));
      await sleep(300);
      expect(bobSpy.received).toEqual([]);
      expect(atCarol).toEqual([]);
      expect(spy.output()).toBe('');
    }, 60_000);

    it('a removal replaces the ids: the removed member taking over the old ids gets nothing', async () => {
      const alice = await device('alice');
      const bob = await device('bob');
      const carol = await device('carol');
      const mallory = await device('mallory');
      const at = { bob: inbox(bob), carol: inbox(carol), alice: inbox(alice), mallory: inbox(mallory) };
      const warnings: string[] = [];
      for (const [n, c] of Object.entries({ alice, bob, carol }))
        c.on('warning', (w) =>
          warnings.push(`${w.code}: ${w.detail} @${n} from ${w.from} t=${Date.now() % 100000}`),
        );

      const invite = await alice.createInvite(undefined, { uses: 3 });
      const chat = invite.chatId;
      for (const c of [bob, carol, mallory])
        expect(await c.acceptInvite(invite.link, { timeoutMs: 10_000 })).toBe(chat);
      await until('everyone sees four members', () =>
        [alice, bob, carol, mallory].every((c) => c.chats()[0]?.members.length === 4),
      );
      await until('group invite inbox retired', () => alice.inviteInboxes().length === 0);
      await alice.sendText(chat, 'hello group');
      await until('group text', () => [at.bob, at.carol, at.mallory].every((l) => l.length === 1));

      // What mallory knows: the chat ids of everyone else.
      const oldIds = mallory.chats()[0]!.members.map((m) => m.clientId);
      const malloryId = mallory.chatIdentity(chat).clientId;
      const others = oldIds.filter((id) => id !== malloryId);
      expect(others).toHaveLength(3);

      await alice.removeMember(chat, malloryId);
      const current = () => [alice, bob, carol].map((c) => c.chatIdentity(chat).clientId);
      await until('every remaining member moved and sees the others’ new ids', () => {
        const ids = current();
        if (ids.some((id) => others.includes(id))) return false;
        return [alice, bob, carol].every((c) => {
          const members = c
            .chats()[0]
            ?.members.map((m) => m.clientId)
            .sort();
          return JSON.stringify(members) === JSON.stringify([...ids].sort());
        });
      });
      await Promise.all([alice, bob, carol].map((c) => c.settled()));
      await until('handover over', () =>
        [alice, bob, carol].every((c) => c.retiringIdentities().length === 0),
      );

      // Mallory takes over every old id (seed mode lets her) and listens.
      for (const id of others) {
        const thief = await connectClient(broker.url, { clientId: id, clean: false });
        raw.push(thief);
        await thief.client.subscribeAsync(`chats/${id}/messages`, { qos: 1 });
      }
      const before = { bob: at.bob.length, carol: at.carol.length, alice: at.alice.length };
      await alice.sendText(chat, 'after the removal');
      await bob.sendText(chat, 'bob too');
      await carol.sendText(chat, 'and carol');
      await until(
        'the group still chats',
        () =>
          at.bob.length === before.bob + 2 &&
          at.carol.length === before.carol + 2 &&
          at.alice.length === before.alice + 2,
      );
      await sleep(300);
      for (const thief of raw) expect(thief.received).toEqual([]);
      expect(at.mallory.map((m) => m.text)).toEqual(['hello group']);
      // Duplicates are dropped ('replay'); a copy of a message from an old id that arrives after its 'moved' was
      // applied is refused ('not-a-member'). Nothing else may go wrong.
      const unexpected = warnings.filter(
        (w) =>
          !w.startsWith('sequence') &&
          !w.startsWith('replay') &&
          !(w.startsWith('not-a-member') && others.some((id) => w.includes(id))),
      );
      expect(unexpected).toEqual([]);
      expect(spy.output()).toBe('');
    }, 90_000);

    it('hush audit names the takeover weakness of seed mode instead of hiding it', async () => {
      const findings = await runAttackSuite(
        { url: broker.url, attacker: {}, victim: {}, inboxPattern: 'chats/%c/messages' },
        undefined,
        { only: ['takeover-clean', 'takeover-persistent', 'wildcard-all'] },
      );
      const verdict = Object.fromEntries(findings.map((f) => [f.id, f.verdict]));
      expect(verdict['wildcard-all']).toBe('pass');
      expect(verdict['takeover-persistent']).toBe('leak');
      expect(findings.find((f) => f.id === 'takeover-persistent')!.fix).toContain('use_username_as_clientid');
    }, 60_000);
  });
}
