// Two terminal profiles chatting through a real `hush start`, driven only through the `hush` command line
// (DESIGN.md, "Scripting the chat"): device new, invite create/accept, send, listen — plus the "one device = one
// MQTT connection" hand-over, offline delivery, and a mosquitto_sub eavesdropper that must see nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { askProfileHolder } from '../../src/cli/profile/ipc.ts';
import { HUSH_BIN, runHush } from '../helpers/hush-broker.ts';
import { freePort } from '../helpers/ports.ts';
import { background, type Background } from '../helpers/background.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Commands a test left in the background; afterEach stops them, so a failed test cannot hold profiles. */
const started: { args: string[]; process: Background }[] = [];
const hushInBackground = (args: string[]) => {
  const child = background(process.execPath, [HUSH_BIN, ...args]);
  started.push({ args, process: child });
  return child;
};

/** Lines of a command's stdout, without the empty last one. */
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** Parsed `listen --json` output. */
interface Line {
  chat: string;
  from: string;
  text: string;
  id: string;
  ts: number;
}
const jsonLines = (text: string): Line[] => lines(text).map((l) => JSON.parse(l) as Line);

/** Waits until a process holds the profile and reports its connection online through the profile socket. */
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

describe('terminal profiles chatting through hush start', () => {
  let dir: string;
  let server: Background;
  let url: string;
  let mqttPort: number;
  const profile = (name: string) => path.join(dir, name);
  const ids: Record<string, string> = {};
  let chatId: string;
  let link: string;

  /** `hush listen` arguments for a profile that waits for `count` messages, at most `timeoutS` seconds. */
  const listenArgs = (name: string, count: number, timeoutS: number, { json = true } = {}) => [
    'listen',
    '--profile',
    profile(name),
    ...(json ? ['--json'] : []),
    ...['--count', String(count), '--timeout', String(timeoutS)],
  ];

  /** `hush device new` for a profile; remembers its client id. */
  async function newDevice(name: string): Promise<string> {
    const result = await runHush([
      'device',
      'new',
      '--profile',
      profile(name),
      '--server',
      url,
      '--name',
      name,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [clientId, inbox] = lines(result.stdout);
    expect(clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(inbox).toBe(`chats/${clientId}/messages`);
    ids[name] = clientId!;
    return clientId!;
  }

  /** How often the broker logged a connection of this client id so far (HUSH_LOG_LEVEL=debug). */
  const connectionsOf = (clientId: string) =>
    server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"client connected"') && l.includes(clientId)).length;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-cli-'));
    const port = await freePort();
    mqttPort = await freePort();
    server = background(
      process.execPath,
      [
        HUSH_BIN,
        'start',
        '--port',
        String(port),
        '--mqtt-port',
        String(mqttPort),
        '--data-dir',
        path.join(dir, 'data'),
      ],
      { HUSH_LOG_LEVEL: 'debug' },
    );
    const deadline = Date.now() + 20_000;
    while (!server.stdout().includes('hush ready')) {
      if (!server.running() || Date.now() > deadline)
        throw new Error(`hush start not ready:\n${server.stdout()}\n${server.stderr()}`);
      await sleep(50);
    }
    url = `http://127.0.0.1:${port}`;
  });

  afterEach(async (context) => {
    const failed = context.task.result?.state === 'fail';
    const left = started.splice(0);
    if (failed) {
      // What the listeners and the broker said: a flaky failure in CI is otherwise a bare timeout.
      for (const { args, process: child } of left)
        console.error(`hush ${args.join(' ')} (running: ${child.running()}):\n${child.stderr()}`);
      console.error(`broker log, last 80 lines:\n${server.stderr().split('\n').slice(-80).join('\n')}`);
    }
    await Promise.all(left.map(({ process: child }) => child.stop()));
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers a device per profile, shows it without connecting, and refuses a second device in a profile', async () => {
    const alice = await newDevice('alice');
    const bob = await newDevice('bob');
    expect(alice).not.toBe(bob);

    const shown = await runHush(['device', 'show', '--profile', profile('alice'), '--json']);
    expect(shown.code).toBe(0);
    const record = JSON.parse(shown.stdout) as Record<string, unknown>;
    expect(record).toMatchObject({ clientId: alice, inbox: `chats/${alice}/messages`, name: 'alice' });
    expect(record.brokerUrls).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(ws|mqtt):\/\/127\.0\.0\.1/)]),
    );
    expect(record).not.toHaveProperty('password');

    const secret = await runHush(['device', 'show', '--profile', profile('alice'), '--json', '--secret']);
    expect(JSON.parse(secret.stdout)).toMatchObject({ username: alice, password: expect.any(String) });
    const human = await runHush(['device', 'show', '--profile', profile('alice')]);
    expect(human.stdout).toContain(`client id: ${alice}`);
    expect(human.stdout).toContain(`inbox:     chats/${alice}/messages`);

    const again = await runHush(['device', 'new', '--profile', profile('alice'), '--server', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has a device/);
    expect(again.stdout).toBe('');
    const still = await runHush(['device', 'show', '--profile', profile('alice'), '--json']);
    expect(JSON.parse(still.stdout)).toMatchObject({ clientId: alice });

    const missing = await runHush(['device', 'show', '--profile', profile('nobody')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/hush device new --profile/);
  });

  it('invites bob; bob accepts while alice listens and gets the chat id as the last line', async () => {
    const created = await runHush(['invite', 'create', '--profile', profile('alice'), '--json']);
    expect(created.code).toBe(0);
    ({ link, chatId } = JSON.parse(lines(created.stdout).at(-1)!) as { link: string; chatId: string });
    expect(link).toMatch(new RegExp(`^${url.replace(/\./g, '\\.')}/#invite=`));

    const aliceListen = hushInBackground(['listen', '--profile', profile('alice'), '--json']);
    try {
      await waitUntilHeld(profile('alice'));
      const accepted = await runHush([
        'invite',
        'accept',
        link,
        '--profile',
        profile('bob'),
        '--timeout',
        '20',
      ]);
      expect(accepted.stderr).toBe('');
      expect(accepted.code).toBe(0);
      expect(lines(accepted.stdout).at(-1)).toBe(chatId);
    } finally {
      expect(await aliceListen.stop()).toBe(0);
    }
    expect(aliceListen.stdout()).toBe('');
  }, 60_000);

  it('delivers alice → bob in order and exactly once, with alice’s sends handed over to her running listen', async () => {
    const aliceListen = hushInBackground(['listen', '--profile', profile('alice'), '--json']);
    const bobListen = hushInBackground(listenArgs('bob', 2, 40));
    try {
      const holder = await waitUntilHeld(profile('alice'));
      expect(holder).toBe(aliceListen.pid);
      await waitUntilHeld(profile('bob'));
      const connectionsBefore = connectionsOf(ids.alice!);

      const first = await runHush(['send', '--profile', profile('alice'), '--chat', chatId, 'hello bob']);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const second = await runHush([
        'send',
        '--profile',
        profile('alice'),
        '--chat',
        chatId,
        'second message',
      ]);
      expect(second.code).toBe(0);
      expect(lines(first.stdout)).toHaveLength(1);

      expect(await bobListen.exited).toBe(0);
      const got = jsonLines(bobListen.stdout());
      expect(got.map((m) => m.text)).toEqual(['hello bob', 'second message']);
      expect(got.every((m) => m.chat === chatId && m.from === ids.alice)).toBe(true);
      expect(got.map((m) => m.id)).toEqual([lines(first.stdout)[0], lines(second.stdout)[0]]);
      expect(got.every((m) => typeof m.ts === 'number')).toBe(true);

      // One device, one connection: the sends did not connect as alice, and the listener was never replaced.
      expect(connectionsOf(ids.alice!)).toBe(connectionsBefore);
      expect(aliceListen.running()).toBe(true);
      const status = await askProfileHolder(profile('alice'), { op: 'status' });
      expect(status).toMatchObject({ ok: true, pid: aliceListen.pid, connection: 'online' });
      expect(aliceListen.stderr()).not.toMatch(/replaced|second-connection/);
    } finally {
      expect(await aliceListen.stop()).toBe(0);
      await bobListen.stop();
    }

    // Exactly once: nothing is delivered a second time.
    const after = await runHush(['listen', '--profile', profile('bob'), '--json', '--timeout', '2']);
    expect(after.code).toBe(0);
    expect(after.stdout).toBe('');
  }, 60_000);

  it('delivers bob → alice the same way, printing `[chat] from: text` without --json', async () => {
    const aliceListen = hushInBackground(listenArgs('alice', 2, 40, { json: false }));
    try {
      await waitUntilHeld(profile('alice'));
      // Nobody holds bob's profile: each send takes it, connects, waits for the broker's ack and lets go.
      expect((await runHush(['send', '--profile', profile('bob'), '--chat', chatId, 'hi alice'])).code).toBe(
        0,
      );
      expect(
        (await runHush(['send', '--profile', profile('bob'), '--chat', chatId, 'evil \u001b[2J text'])).code,
      ).toBe(0);
      expect(await aliceListen.exited).toBe(0);
    } finally {
      await aliceListen.stop();
    }
    const printed = lines(aliceListen.stdout());
    expect(printed).toHaveLength(2);
    expect(printed[0]).toMatch(/^\[.+\] .+: hi alice$/);
    expect(printed[0]).toContain('bob');
    // A sender cannot drive the terminal: control characters are shown escaped.
    expect(printed[1]).toContain('evil \\u001b[2J text');
    expect(aliceListen.stdout()).not.toContain('\u001b');
  }, 60_000);

  it('keeps messages for an offline recipient and delivers exactly those, in order, when it listens', async () => {
    const texts = ['offline one', 'offline two', 'offline three'];
    for (const text of texts) {
      const sent = await runHush(['send', '--profile', profile('alice'), '--chat', chatId, text]);
      expect(sent.code).toBe(0);
    }
    const bob = await runHush(listenArgs('bob', 3, 20));
    expect(bob.code).toBe(0);
    expect(jsonLines(bob.stdout).map((m) => m.text)).toEqual(texts);
    const again = await runHush(['listen', '--profile', profile('bob'), '--json', '--timeout', '2']);
    expect(again.stdout).toBe('');
  }, 60_000);

  it('keeps a message that arrived during a short command for the next listen (nothing is lost to a send)', async () => {
    expect(
      (await runHush(['send', '--profile', profile('alice'), '--chat', chatId, 'while you were busy'])).code,
    ).toBe(0);
    // bob's send connects as bob and so receives (and acknowledges) the queued message.
    expect((await runHush(['send', '--profile', profile('bob'), '--chat', chatId, 'busy reply'])).code).toBe(
      0,
    );
    const bob = await runHush(listenArgs('bob', 1, 10));
    expect(bob.code).toBe(0);
    expect(jsonLines(bob.stdout).map((m) => m.text)).toEqual(['while you were busy']);
    const alice = await runHush(listenArgs('alice', 1, 10));
    expect(jsonLines(alice.stdout).map((m) => m.text)).toEqual(['busy reply']);
  }, 60_000);

  it('lets concurrent sends on one idle profile share a single connection, all acknowledged', async () => {
    const bobListen = hushInBackground(listenArgs('bob', 4, 40));
    try {
      await waitUntilHeld(profile('bob'));
      const texts = ['c1', 'c2', 'c3', 'c4'];
      const results = await Promise.all(
        texts.map((text) => runHush(['send', '--profile', profile('alice'), '--chat', chatId, text])),
      );
      for (const result of results) {
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
      }
      expect(await bobListen.exited).toBe(0);
      expect(
        jsonLines(bobListen.stdout())
          .map((m) => m.text)
          .sort(),
      ).toEqual(texts);
    } finally {
      await bobListen.stop();
    }
  }, 60_000);

  it('shows a mosquitto_sub eavesdropper nothing: refused without credentials, silent with another device’s', async () => {
    const anonymous = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const sub = background('mosquitto_sub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(mqttPort),
        '-t',
        '#',
        '-v',
        '-W',
        '5',
      ]);
      void sub.exited.then((code) => resolve({ code, out: sub.stdout() + sub.stderr() }));
    });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.out).toMatch(/not authori[sz]ed|refused/i);

    const carol = await newDevice('carol');
    const creds = JSON.parse(
      (await runHush(['device', 'show', '--profile', profile('carol'), '--json', '--secret'])).stdout,
    ) as { username: string; password: string };
    // stdbuf: mosquitto_sub block-buffers stdout into a pipe; line buffering lets the test see its SUBACK.
    const eavesdropper = background('stdbuf', [
      ...['-oL', 'mosquitto_sub'],
      ...['-h', '127.0.0.1', '-p', String(mqttPort), '-i', carol, '-u', creds.username, '-P', creds.password],
      ...['-t', '#', '-t', `chats/${ids.bob}/messages`, '-t', `chats/${ids.alice}/messages`, '-v', '-d'],
    ]);
    try {
      const deadline = Date.now() + 10_000;
      while (!/SUBACK/.test(eavesdropper.stdout())) {
        if (!eavesdropper.running() || Date.now() > deadline)
          throw new Error(
            `eavesdropper did not subscribe:\n${eavesdropper.stdout()}${eavesdropper.stderr()}`,
          );
        await sleep(50);
      }
      const bobListen = hushInBackground(listenArgs('bob', 1, 40));
      await waitUntilHeld(profile('bob'));
      expect(
        (await runHush(['send', '--profile', profile('alice'), '--chat', chatId, 'top secret plan'])).code,
      ).toBe(0);
      expect(await bobListen.exited).toBe(0);
      expect(jsonLines(bobListen.stdout()).map((m) => m.text)).toEqual(['top secret plan']);
      await sleep(500);
      expect(eavesdropper.running()).toBe(true);
    } finally {
      await eavesdropper.stop();
    }
    // -d logs the client's own packets; a delivery would be "received PUBLISH" and a "topic payload" line (-v).
    expect(eavesdropper.stdout()).not.toMatch(/received PUBLISH/);
    expect(eavesdropper.stdout()).not.toMatch(/^chats\//m);
    expect(eavesdropper.stdout()).not.toContain('top secret plan');
  }, 60_000);

  it('fails with clear messages: accept timeout, unknown chat, count not reached, profile already held', async () => {
    await newDevice('dave');
    const created = await runHush(['invite', 'create', '--profile', profile('alice')]);
    const daveLink = lines(created.stdout).at(-1)!;
    expect(daveLink).toMatch(/#invite=/);
    const accept = await runHush([
      'invite',
      'accept',
      daveLink,
      '--profile',
      profile('dave'),
      '--timeout',
      '2',
    ]);
    expect(accept.code).toBe(1);
    expect(accept.stdout).toBe('');
    expect(accept.stderr).toMatch(/did not let us in within 2 s/);

    const unknown = await runHush([
      'send',
      '--profile',
      profile('bob'),
      '--chat',
      'AAAAAAAAAAAAAAAAAAAAAA',
      'x',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^hush: .*chat/m);

    const short = await runHush(['listen', '--profile', profile('bob'), '--count', '1', '--timeout', '1']);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/timed out after 1 s with 0 of 1 messages/);

    const holder = hushInBackground(['listen', '--profile', profile('bob')]);
    try {
      await waitUntilHeld(profile('bob'));
      const second = await runHush(['listen', '--profile', profile('bob'), '--timeout', '1']);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`already held by process ${holder.pid}`));
    } finally {
      expect(await holder.stop()).toBe(0);
    }
  }, 60_000);
});
