// Two terminal profiles in seed mode (docs/PROTOCOL.md §11) through a REAL Mosquitto that has only the seed's
// setup: anonymous access and `pattern read chats/%c/messages` + `pattern write chats/+/messages`, no registration
// server. Driven only through the `hush` command line: device new --seed, invite create/accept, send, listen —
// while an anonymous `mosquitto_sub -t '#'` eavesdropper must print nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askProfileHolder } from '../../src/cli/profile/ipc.ts';
import { HUSH_BIN, runHush } from '../helpers/hush-broker.ts';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';
import { background, type Background } from '../helpers/background.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
interface Line {
  chat: string;
  from: string;
  text: string;
  id: string;
  ts: number;
}
const jsonLines = (text: string): Line[] => lines(text).map((l) => JSON.parse(l) as Line);

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits until a process holds the profile and reports it online through the profile socket. */
async function waitUntilHeld(profile: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await askProfileHolder(profile, { op: 'status' }, { timeoutMs: 2000 }).catch(
      () => undefined,
    );
    if (status?.ok && status.connection === 'online') return status.pid;
    if (Date.now() > deadline) throw new Error(`nobody holds ${profile} online after ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('terminal profiles in seed mode through a real Mosquitto with only the seed ACL', () => {
  let dir: string;
  let mosquitto: MosquittoInstance;
  let broker: string;
  let eavesdropper: Background;
  const profile = (name: string) => path.join(dir, name);
  let chatId: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-seed-cli-'));
    mosquitto = await startMosquitto({ acl: SEED_ACL });
    broker = `mqtt://127.0.0.1:${mosquitto.mqttPort}`;
    // Anonymous, subscribed to everything before any exchange; stdbuf so anything it got would show at once.
    eavesdropper = background('stdbuf', [
      ...['-oL', 'mosquitto_sub'],
      ...['-h', '127.0.0.1', '-p', String(mosquitto.mqttPort), '-t', '#', '-v'],
    ]);
    await until('the eavesdropper’s SUBACK', () => /Sending SUBACK/.test(mosquitto.log()), 10_000);
  });

  afterAll(async () => {
    await eavesdropper?.stop();
    await mosquitto?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates seed profiles with --broker --seed and refuses an unclear mode', async () => {
    for (const name of ['alice', 'bob']) {
      const result = await runHush([
        ...['device', 'new', '--profile', profile(name)],
        ...['--broker', broker, '--seed', '--name', name],
      ]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(lines(result.stdout)).toEqual(['mode: seed', `broker: ${broker}`]);
    }
    const again = await runHush([
      'device',
      'new',
      '--profile',
      profile('alice'),
      '--broker',
      broker,
      '--seed',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has a device/);

    const neither = await runHush(['device', 'new', '--profile', profile('x')]);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toMatch(/--server URL.*--broker URL --seed/);
    const both = await runHush([
      ...['device', 'new', '--profile', profile('x'), '--server', 'http://127.0.0.1:1'],
      ...['--broker', broker, '--seed'],
    ]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/not both/);
    const noSeed = await runHush(['device', 'new', '--profile', profile('x'), '--broker', broker]);
    expect(noSeed.code).toBe(1);
    expect(noSeed.stderr).toMatch(/add --seed/);
    const noBroker = await runHush(['device', 'new', '--profile', profile('x'), '--seed']);
    expect(noBroker.code).toBe(1);
    expect(noBroker.stderr).toMatch(/--seed needs --broker/);

    const shown = await runHush(['device', 'show', '--profile', profile('alice')]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('mode:      seed');
    expect(shown.stdout).not.toMatch(/^client id:/m);
    expect(shown.stdout).toMatch(/^chats: +none yet/m);
  });

  it('invites, accepts while the inviter listens, and chats both ways; each message arrives once', async () => {
    const aliceListen = background(process.execPath, [
      ...[HUSH_BIN, 'listen', '--profile', profile('alice'), '--json'],
    ]);
    let bobListen: Background | undefined;
    try {
      const alicePid = await waitUntilHeld(profile('alice'));
      expect(alicePid).toBe(aliceListen.pid);

      // Handed over to alice's listener: one process (one set of connections) per profile.
      const created = await runHush(['invite', 'create', '--profile', profile('alice'), '--json']);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      let link: string;
      ({ link, chatId } = JSON.parse(lines(created.stdout).at(-1)!) as { link: string; chatId: string });
      expect(link).toMatch(/#invite=/);

      const accepted = await runHush(
        ['invite', 'accept', link, '--profile', profile('bob'), '--timeout', '30'],
        { timeoutMs: 45_000 },
      );
      expect(accepted.stderr).toBe('');
      expect(accepted.code).toBe(0);
      expect(lines(accepted.stdout).at(-1)).toBe(chatId);

      bobListen = background(process.execPath, [HUSH_BIN, 'listen', '--profile', profile('bob'), '--json']);
      expect(await waitUntilHeld(profile('bob'))).toBe(bobListen.pid);

      const sends: Array<[string, string]> = [
        ['alice', 'hello bob'],
        ['bob', 'hi alice'],
        ['alice', 'second from alice'],
        ['bob', 'second from bob'],
      ];
      for (const [who, text] of sends) {
        const sent = await runHush(['send', '--profile', profile(who), '--chat', chatId, text]);
        expect(sent.stderr).toBe('');
        expect(sent.code).toBe(0);
        expect(lines(sent.stdout)).toHaveLength(1);
      }
      const bobLines = () => jsonLines(bobListen!.stdout());
      const aliceLines = () => jsonLines(aliceListen.stdout());
      await until('bob’s two messages', () => bobLines().length >= 2);
      await until('alice’s two messages', () => aliceLines().length >= 2);
      await sleep(1000); // anything duplicated would show up by now

      // Each chat identity of the two profiles, as `device show` reports it (no single device id).
      const show = async (name: string) =>
        JSON.parse((await runHush(['device', 'show', '--profile', profile(name), '--json'])).stdout) as {
          mode: string;
          clientId?: string;
          chats: Array<{ chatId: string; clientId: string; inbox: string }>;
        };
      const aliceShown = await show('alice');
      const bobShown = await show('bob');
      for (const shown of [aliceShown, bobShown]) {
        expect(shown.mode).toBe('seed');
        expect(shown).not.toHaveProperty('clientId');
        expect(shown.chats).toHaveLength(1);
        expect(shown.chats[0]!.chatId).toBe(chatId);
        expect(shown.chats[0]!.clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(shown.chats[0]!.inbox).toBe(`chats/${shown.chats[0]!.clientId}/messages`);
      }
      const aliceId = aliceShown.chats[0]!.clientId;
      const bobId = bobShown.chats[0]!.clientId;
      expect(aliceId).not.toBe(bobId);
      const human = await runHush(['device', 'show', '--profile', profile('alice')]);
      expect(human.stdout).toContain('mode:      seed');
      expect(human.stdout).toContain(`chat:      ${chatId}`);
      expect(human.stdout).toContain(`  client id: ${aliceId}`);
      expect(human.stdout).toContain(`  inbox:     chats/${aliceId}/messages`);
      expect(human.stdout).toMatch(new RegExp(`held by: +process ${aliceListen.pid} \\(online\\)`));

      expect(bobLines().map((l) => [l.chat, l.from, l.text])).toEqual([
        [chatId, aliceId, 'hello bob'],
        [chatId, aliceId, 'second from alice'],
      ]);
      expect(aliceLines().map((l) => [l.chat, l.from, l.text])).toEqual([
        [chatId, bobId, 'hi alice'],
        [chatId, bobId, 'second from bob'],
      ]);
      for (const l of [...bobLines(), ...aliceLines()]) {
        expect(typeof l.id).toBe('string');
        expect(typeof l.ts).toBe('number');
      }
    } finally {
      expect(await aliceListen.stop()).toBe(0);
      if (bobListen) expect(await bobListen.stop()).toBe(0);
    }
    expect(aliceListen.stderr()).not.toMatch(/warning/);
  }, 120_000);

  it('shows the anonymous mosquitto_sub -t # eavesdropper nothing', () => {
    expect(eavesdropper.running()).toBe(true);
    expect(eavesdropper.stdout()).toBe('');
    expect(eavesdropper.stderr()).toBe('');
  });
});
