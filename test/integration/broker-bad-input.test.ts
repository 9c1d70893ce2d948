import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep, tryConnect, settle } from '../helpers/mqtt.ts';
import { connectPacket, rawConnect } from '../helpers/raw-mqtt.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

describe('Hush broker under bad input: refused, logged, other clients unaffected, queues intact', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: SEED_ACL,
      websockets: true,
      extraArgs: ['--max-packet-bytes', '65536', '--connect-timeout', '1000', '--max-topic-levels', '8'],
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    // A victim with messages waiting: none of the attacks below may lose them.
    const victim = await connectClient(url, { clientId: 'patient', clean: false });
    await victim.client.subscribeAsync('chats/patient/messages', { qos: 1 });
    await victim.end();
    const sender = await connectClient(url, { clientId: 'early' });
    await sender.client.publishAsync('chats/patient/messages', 'before the storm', { qos: 1 });
    await sender.end();
  });
  afterAll(() => broker?.stop());

  it('closes a connection that sends garbage instead of CONNECT', async () => {
    const raw = await rawConnect(broker.mqttPort);
    raw.sendBytes(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.closed();
  });

  it('closes a connection whose Remaining Length has more than four bytes', async () => {
    const raw = await rawConnect(broker.mqttPort);
    raw.sendBytes(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    await raw.closed();
    await broker.waitForLog(/Remaining Length longer than 4 bytes/);
  });

  it('closes a connection announcing a packet over the size limit before buffering it', async () => {
    const raw = await rawConnect(broker.mqttPort);
    raw.send(connectPacket({ clientId: 'bigsender' }));
    await raw.next('connack');
    // Only the header of a 10 MB PUBLISH: the broker must not wait for the body.
    raw.sendBytes(Buffer.from([0x30, 0x80, 0xad, 0xe2, 0x04]));
    await raw.closed();
    await broker.waitForLog(/exceeds the limit of 65536 bytes/);
  });

  it('drops an oversized PUBLISH from MQTT.js and keeps serving others', async () => {
    const big = await connectClient(url, { clientId: 'bigpayload' });
    const closed = new Promise<void>((resolve) => big.client.once('close', () => resolve()));
    big.client.publish('chats/patient/messages', Buffer.alloc(70_000, 1), { qos: 0 });
    await closed;
    await big.end();
    expect(await tryConnect(url, { clientId: 'stillserved' })).toBe('ok');
  });

  it('closes a CONNECT that never finishes after the connect timeout', async () => {
    const raw = await rawConnect(broker.mqttPort);
    raw.sendBytes(Buffer.from([0x10, 20, 0, 4, 0x4d, 0x51])); // half a CONNECT, then silence
    const started = Date.now();
    await raw.closed(8000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('closes a connection that is silent after opening', async () => {
    const raw = await rawConnect(broker.mqttPort);
    await raw.closed(8000);
  });

  it('refuses a PUBLISH whose topic is deeper than the limit', async () => {
    const deep = await connectClient(url, { clientId: 'deepdiver' });
    const closed = new Promise<void>((resolve) => deep.client.once('close', () => resolve()));
    deep.client.publish('a/b/c/d/e/f/g/h/i/j', 'x', { qos: 0 });
    await closed;
    await deep.end();
  });

  it('closes a WebSocket that sends text frames and one that sends garbage bytes', async () => {
    for (const frame of ['hello', Buffer.from([0x00, 0x01, 0x02, 0x03])]) {
      const ws = new WebSocket(`ws://127.0.0.1:${broker.wsPort}/mqtt`, 'mqtt');
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.send(frame);
      await closed;
    }
  });

  it('refuses a WebSocket message larger than the packet limit', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${broker.wsPort}/mqtt`, 'mqtt');
    await new Promise((resolve) => ws.once('open', resolve));
    const code = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    ws.send(Buffer.alloc(100_000));
    expect(await code).toBe(1009);
  });

  it('still delivers the queued message to its owner after all of the above', async () => {
    const victim = await connectClient(url, { clientId: 'patient', clean: false });
    await settle(victim, 1);
    expect(victim.received.map((m) => m.payload)).toEqual(['before the storm']);
    await victim.end();
  });
});

describe('Hush broker rate and connection limits', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: SEED_ACL,
      extraArgs: ['--max-connections', '4', '--publish-rate', '20'],
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('refuses connections over --max-connections with "server unavailable" (3)', async () => {
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await connectClient(url, { clientId: `holder${i}` }));
    expect(await tryConnect(url, { clientId: 'onetoomany' })).toBe('refused:3');
    for (const c of held) await c.end();
  });

  it('disconnects a client that publishes faster than --publish-rate', async () => {
    const flooder = await connectClient(url, { clientId: 'flooder' });
    const closed = new Promise<void>((resolve) => flooder.client.once('close', () => resolve()));
    for (let i = 0; i < 2000 && flooder.client.connected; i++)
      flooder.client.publish('chats/x/messages', 'flood');
    await closed;
    await flooder.end();
    await broker.waitForLog(/publish rate limit exceeded/);
  });
});

describe('Hush broker connect rate per address', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({ acl: SEED_ACL, extraArgs: ['--connect-rate', '5'] });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('refuses a burst of connects from one address, then accepts again once the rate allows', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 60 && !outcomes.includes('refused:3'); i++) {
      outcomes.push(await tryConnect(url, { clientId: `burst${i}` }));
    }
    expect(outcomes).toContain('refused:3');
    await broker.waitForLog(/too many connects from 127.0.0.1/);
    await sleep(1500);
    expect(await tryConnect(url, { clientId: 'patientlater' })).toBe('ok');
  });
});
