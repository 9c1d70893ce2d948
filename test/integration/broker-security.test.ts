import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHush, startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep, tryConnect, settle } from '../helpers/mqtt.ts';
import { hashPassword } from '../../src/broker/passwd/index.ts';
import { connectPacket, rawConnect } from '../helpers/raw-mqtt.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

async function passwordFile(users: Record<string, string>): Promise<string> {
  let text = '';
  for (const [user, password] of Object.entries(users)) text += `${user}:${await hashPassword(password)}\n`;
  return text;
}

describe('Hush broker with a password file: the username is the client id', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: SEED_ACL,
      passwordFile: await passwordFile({ victim: 'victim-pw', mallory: 'mallory-pw', keeper: 'keeper-pw' }),
      allowAnonymous: false,
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('an impostor claiming the victim client id neither kicks the victim nor gets its queued messages', async () => {
    // The victim has a persistent session with a message waiting.
    const victim = await connectClient(url, {
      username: 'victim',
      password: 'victim-pw',
      clean: false,
      clientId: 'victim',
    });
    await victim.client.subscribeAsync('chats/victim/messages', { qos: 1 });
    await victim.end();
    const sender = await connectClient(url, { username: 'keeper', password: 'keeper-pw' });
    await sender.client.publishAsync('chats/victim/messages', 'queued for victim', { qos: 1 });

    const impostor = await connectClient(url, {
      username: 'mallory',
      password: 'mallory-pw',
      clientId: 'victim',
      clean: false,
    });
    await impostor.client.subscribeAsync(['chats/victim/messages', '#'], { qos: 1 });
    await sleep(300);
    expect(impostor.received).toEqual([]);

    const back = await connectClient(url, {
      username: 'victim',
      password: 'victim-pw',
      clean: false,
      clientId: 'victim',
    });
    await settle(back, 1);
    expect(back.received.map((m) => m.payload)).toEqual(['queued for victim']);
    expect(impostor.client.connected).toBe(true);
    await Promise.all([impostor.end(), back.end(), sender.end()]);
  });

  it('a connected user whose password changes is disconnected on SIGHUP, an unchanged one stays', async () => {
    const keeper = await connectClient(url, { username: 'keeper', password: 'keeper-pw' });
    const mallory = await connectClient(url, { username: 'mallory', password: 'mallory-pw' });
    let malloryClosed = false;
    mallory.client.on('close', () => (malloryClosed = true));
    await writeFile(
      `${broker.dir}/passwd`,
      await passwordFile({
        victim: 'victim-pw',
        mallory: 'changed',
        keeper: 'keeper-pw',
        newcomer: 'new-pw',
      }),
    );
    await broker.reload();
    expect(malloryClosed).toBe(true);
    expect(keeper.client.connected).toBe(true);
    expect(await tryConnect(url, { username: 'newcomer', password: 'new-pw' })).toBe('ok');
    expect(await tryConnect(url, { username: 'mallory', password: 'mallory-pw' })).toBe('refused:5');
    await Promise.all([keeper.end(), mallory.end()]);
  });

  it('a broken password file on SIGHUP is refused with file and line; the broker keeps the old one', async () => {
    await writeFile(
      `${broker.dir}/passwd`,
      `${await passwordFile({ keeper: 'keeper-pw' })}this line is broken\n`,
    );
    await broker.reload();
    await broker.waitForLog(/passwd line 2.*reload refused/);
    expect(await tryConnect(url, { username: 'newcomer', password: 'new-pw' })).toBe('ok');
  });
});

describe('Hush broker topic rules that are stricter than Mosquitto', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: `${SEED_ACL}user sysreader\ntopic read $SYS/#\n`,
      retainAvailable: false,
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('refuses ids with +, #, /, other characters or over 64 characters (return code 2)', async () => {
    for (const clientId of ['+', '#', 'a/b', 'a b', 'é', 'x'.repeat(65), 'x'.repeat(200)]) {
      expect(await tryConnect(url, { clientId }), clientId).toBe('refused:2');
    }
    expect(await tryConnect(url, { clientId: 'x'.repeat(64) })).toBe('ok');
  });

  it('gives an empty id with a clean session a generated one and refuses it without', async () => {
    expect(await tryConnect(url, { clientId: '', clean: true })).toBe('ok');
    const raw = await rawConnect(broker.mqttPort);
    // CONNECT, MQTT 3.1.1, clean session 0, empty client id: hand-made, since client libraries refuse to send it.
    raw.sendBytes(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0, 0, 30, 0, 0]));
    expect((await raw.next('connack')).returnCode).toBe(2);
    raw.end();
  });

  it('refuses $SYS and $share subscriptions unless the aclfile grants them', async () => {
    const outsider = await rawConnect(broker.mqttPort);
    outsider.send(connectPacket({ clientId: 'outsider' }));
    await outsider.next('connack');
    outsider.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: ['$SYS/#', '$share/g/#', 'chats/#'].map((topic) => ({ topic, qos: 1 })),
    });
    expect((await outsider.next('suback')).granted).toEqual([128, 128, 1]);
    outsider.end();
    const sysreader = await connectClient(url, { clientId: 'sysreader', username: 'sysreader' });
    const sys = await sysreader.client.subscribeAsync('$SYS/#', { qos: 0 });
    expect(sys.map((g) => g.qos)).toEqual([0]);
    await sysreader.end();
  });

  it('drops publishes to $SYS and $share and to topics the ACL denies, still acknowledging QoS 1', async () => {
    const reader = await connectClient(url, { clientId: 'reader' });
    await reader.client.subscribeAsync('chats/reader/messages', { qos: 1 });
    const writer = await connectClient(url, { clientId: 'writer' });
    await writer.client.publishAsync('$SYS/broker/fake', 'x', { qos: 1 });
    await writer.client.publishAsync('$share/g/chats/reader/messages', 'x', { qos: 1 });
    await writer.client.publishAsync('elsewhere', 'x', { qos: 1 });
    await writer.client.publishAsync('chats/reader/messages', 'allowed', { qos: 1 });
    await sleep(200);
    expect(writer.client.connected).toBe(true);
    expect(reader.received.map((m) => m.payload)).toEqual(['allowed']);
    await Promise.all([reader.end(), writer.end()]);
  });

  it('with retained messages refused, a client publishing one is disconnected and nothing is retained', async () => {
    const writer = await connectClient(url, { clientId: 'retainer' });
    const closed = new Promise<void>((resolve) => writer.client.once('close', () => resolve()));
    writer.client.publish('chats/late/messages', 'planted', { qos: 1, retain: true });
    await closed;
    const late = await connectClient(url, { clientId: 'late' });
    await late.client.subscribeAsync('chats/late/messages', { qos: 1 });
    await sleep(200);
    expect(late.received).toEqual([]);
    await broker.waitForLog(/retained messages are not accepted/);
    await Promise.all([late.end(), writer.end()]);
  });
});

describe('Hush broker start-up refusals', () => {
  it('an aclfile with an error names the file and line and the broker does not start', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/hush-acl-');
    await writeFile(`${dir}/aclfile`, 'pattern read chats/%c/messages\ntopc read foo\n');
    const result = await runHush([
      'broker',
      '--mqtt-port',
      '0',
      '--no-ws-listener',
      '--allow-anonymous',
      '--acl-file',
      `${dir}/aclfile`,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${dir}/aclfile`);
    expect(result.stderr).toMatch(/line 2/);
  });

  it('refuses to start an open broker without --password-file or --allow-anonymous', async () => {
    const result = await runHush(['broker', '--mqtt-port', '0', '--no-ws-listener']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--password-file.*--allow-anonymous/);
  });
});

describe('Hush broker checks READ on every delivery', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: `${SEED_ACL}pattern readwrite shared/%c\ntopic readwrite board/#\n`,
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('a retained message reaches only subscribers allowed to read its topic', async () => {
    const planter = await connectClient(url, { clientId: 'planter' });
    await planter.client.publishAsync('chats/owner/messages', 'retained secret', { qos: 1, retain: true });
    await planter.client.publishAsync('board/news', 'public notice', { qos: 1, retain: true });
    await planter.end();
    const outsider = await connectClient(url, { clientId: 'outsider2' });
    await outsider.client.subscribeAsync(['#', 'chats/+/messages'], { qos: 1 });
    const owner = await connectClient(url, { clientId: 'owner' });
    await owner.client.subscribeAsync('chats/owner/messages', { qos: 1 });
    await settle(outsider, 1);
    expect(outsider.received.map((m) => m.payload)).toEqual(['public notice']);
    expect(owner.received.map((m) => [m.payload, m.retain])).toEqual([['retained secret', true]]);
    await Promise.all([outsider.end(), owner.end()]);
  });

  it('messages queued for an offline client are checked again when it reconnects after an ACL change', async () => {
    const reader = await connectClient(url, { clientId: 'revoked', clean: false });
    await reader.client.subscribeAsync(['chats/revoked/messages', 'board/#'], { qos: 1 });
    await reader.end();
    const sender = await connectClient(url, { clientId: 'sender9' });
    await sender.client.publishAsync('chats/revoked/messages', 'inbox message', { qos: 1 });
    await sender.client.publishAsync('board/queued', 'board message', { qos: 1 });
    await sender.end();
    // The board is closed to everyone while the reader is away.
    await writeFile(`${broker.dir}/aclfile`, `${SEED_ACL}pattern readwrite shared/%c\ntopic deny board/#\n`);
    await broker.reload();
    const back = await connectClient(url, { clientId: 'revoked', clean: false });
    await settle(back, 1);
    expect(back.received.map((m) => m.payload)).toEqual(['inbox message']);
    await back.end();
  });
});

describe('Hush broker keeps `$` topics away from wildcard filters, as MQTT 3.1.1 §4.7.2 requires', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: 'pattern read $x/#\npattern read plain/#\ntopic readwrite #\ntopic readwrite $x/#\n',
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('a retained `$` message reaches a `$x/#` subscriber but not `#` or `+/b`', async () => {
    const admin = await connectClient(url, { clientId: 'admin' });
    await admin.client.publishAsync('$x/b', 'dollar retained', { qos: 1, retain: true });
    await admin.end();
    const wild = await connectClient(url, { clientId: 'wild' });
    await wild.client.subscribeAsync(['#', '+/b'], { qos: 1 });
    const exact = await connectClient(url, { clientId: 'exact' });
    await exact.client.subscribeAsync('$x/#', { qos: 1 });
    await sleep(300);
    expect(wild.received).toEqual([]);
    expect(exact.received.map((m) => m.payload)).toEqual(['dollar retained']);
    await Promise.all([wild.end(), exact.end()]);
  });

  it('a persistent session does not queue `$` messages under `#`, and stores one copy for overlapping filters', async () => {
    const sleeper = await connectClient(url, { clientId: 'sleeper2', clean: false });
    await sleeper.client.subscribeAsync(['#', '+/u', 'plain/#', 'plain/+'], { qos: 1 });
    await sleeper.end();
    const admin = await connectClient(url, { clientId: 'admin2' });
    await admin.client.publishAsync('$x/u', 'dollar queued', { qos: 1 });
    await admin.client.publishAsync('plain/u', 'plain queued', { qos: 1 });
    await admin.end();
    const back = await connectClient(url, { clientId: 'sleeper2', clean: false });
    await settle(back, 1);
    expect(back.received.map((m) => m.payload)).toEqual(['plain queued']);
    await back.end();
  });
});
