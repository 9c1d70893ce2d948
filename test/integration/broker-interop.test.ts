import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep, tryConnect, settle } from '../helpers/mqtt.ts';
import { createTestTls, type TestTls } from '../helpers/tls.ts';

const run = promisify(execFile);
const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

/** Runs mosquitto_sub in the background until it has received `count` messages. */
function mosquittoSub(args: string[]): Promise<string> {
  return run('mosquitto_sub', args, { timeout: 10_000 }).then((r) => r.stdout);
}

describe('clients nobody here wrote work with Hush broker', () => {
  let broker: HushBrokerInstance;
  beforeAll(async () => {
    broker = await startHushBroker({ acl: SEED_ACL, websockets: true });
  });
  afterAll(() => broker?.stop());

  it('mosquitto_sub reads its own inbox and mosquitto_pub without -i gets a generated id', async () => {
    const received = mosquittoSub([
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.mqttPort),
      '-i',
      'inboxowner',
      '-t',
      'chats/inboxowner/messages',
      '-q',
      '1',
      '-C',
      '1',
      '-W',
      '8',
    ]);
    await sleep(500);
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.mqttPort),
      '-t',
      'chats/inboxowner/messages',
      '-m',
      'from mosquitto_pub',
      '-q',
      '1',
    ]);
    expect((await received).trim()).toBe('from mosquitto_pub');
  });

  it('MQTT.js over WebSocket at /mqtt exchanges messages with a TCP client', async () => {
    const ws = await connectClient(`ws://127.0.0.1:${broker.wsPort}/mqtt`, { clientId: 'wsreader' });
    await ws.client.subscribeAsync('chats/wsreader/messages', { qos: 1 });
    const tcp = await connectClient(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'tcpwriter' });
    await tcp.client.publishAsync('chats/wsreader/messages', 'over the bridge', { qos: 1 });
    await settle(ws, 1);
    expect(ws.received.map((m) => m.payload)).toEqual(['over the bridge']);
    await Promise.all([ws.end(), tcp.end()]);
  });

  it('a wildcard subscriber over WebSocket receives nothing', async () => {
    const attacker = await connectClient(`ws://127.0.0.1:${broker.wsPort}/mqtt`, { clientId: 'wsattacker' });
    await attacker.client.subscribeAsync(['#', 'chats/#', '+/+/+'], { qos: 1 });
    const tcp = await connectClient(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'tcpwriter2' });
    await tcp.client.publishAsync('chats/someoneelse/messages', 'secret', { qos: 1 });
    await sleep(300);
    expect(attacker.received).toEqual([]);
    await Promise.all([attacker.end(), tcp.end()]);
  });
});

describe('Hush broker over TLS (mqtts and wss)', () => {
  let broker: HushBrokerInstance;
  let tls: TestTls;
  beforeAll(async () => {
    tls = await createTestTls();
    broker = await startHushBroker({
      acl: SEED_ACL,
      websockets: true,
      tls: { cert: tls.certFile, key: tls.keyFile },
    });
  });
  afterAll(() => broker?.stop());

  it('accepts mqtts and wss clients that trust the CA and they exchange messages', async () => {
    const reader = await connectClient(`wss://127.0.0.1:${broker.wsPort}/mqtt`, {
      clientId: 'tlsreader',
      ca: tls.ca,
    });
    await reader.client.subscribeAsync('chats/tlsreader/messages', { qos: 1 });
    const writer = await connectClient(`mqtts://127.0.0.1:${broker.mqttPort}`, {
      clientId: 'tlswriter',
      ca: tls.ca,
    });
    await writer.client.publishAsync('chats/tlsreader/messages', 'sealed in transit', { qos: 1 });
    await settle(reader, 1);
    expect(reader.received.map((m) => m.payload)).toEqual(['sealed in transit']);
    await Promise.all([reader.end(), writer.end()]);
  });

  it('a client that does not trust the certificate fails the handshake; mosquitto_pub works with --cafile', async () => {
    expect(await tryConnect(`mqtts://127.0.0.1:${broker.mqttPort}`, { clientId: 'untrusting' })).toMatch(
      /UNABLE_TO_VERIFY|certificate/i,
    );
    const plain = await tryConnect(`mqtt://127.0.0.1:${broker.mqttPort}`, {
      clientId: 'plaintext',
      connectTimeout: 1500,
    });
    expect(plain).not.toBe('ok');
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.mqttPort),
      '--cafile',
      tls.caFile,
      '-t',
      'chats/x/messages',
      '-m',
      'hi',
      '-q',
      '1',
    ]);
  });
});

describe('Hush broker with a password file written by mosquitto_passwd', () => {
  let broker: HushBrokerInstance;
  beforeAll(async () => {
    broker = await startHushBroker({ acl: SEED_ACL, passwordFile: '', allowAnonymous: false });
  });
  afterAll(() => broker?.stop());

  it('accepts the right password, refuses a wrong one and anonymous clients with "not authorised"', async () => {
    await run('mosquitto_passwd', ['-b', `${broker.dir}/passwd`, 'alice', 'correct horse']);
    await broker.reload();
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    expect(await tryConnect(url, { username: 'alice', password: 'correct horse' })).toBe('ok');
    expect(await tryConnect(url, { username: 'alice', password: 'wrong' })).toBe('refused:5');
    expect(await tryConnect(url, { username: 'mallory', password: 'x' })).toBe('refused:5');
    expect(await tryConnect(url, { clientId: 'anon' })).toBe('refused:5');
  });

  it('mosquitto_sub with credentials reads its inbox; the username is its client id whatever -i says', async () => {
    await run('mosquitto_passwd', ['-b', `${broker.dir}/passwd`, 'bob', 'pw-bob']);
    await broker.reload();
    const received = mosquittoSub([
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.mqttPort),
      '-u',
      'bob',
      '-P',
      'pw-bob',
      '-i',
      'somethingelse',
      '-t',
      'chats/bob/messages',
      '-q',
      '1',
      '-C',
      '1',
      '-W',
      '8',
    ]);
    await sleep(500);
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.mqttPort),
      '-u',
      'alice',
      '-P',
      'correct horse',
      '-t',
      'chats/bob/messages',
      '-m',
      'hello bob',
      '-q',
      '1',
    ]);
    expect((await received).trim()).toBe('hello bob');
  });
});
