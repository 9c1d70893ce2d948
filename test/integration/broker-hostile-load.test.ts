/**
 * The outside review's resource attacks, replayed against the embedded broker: a reader that stops reading its
 * socket while others publish large messages into its inbox, QoS 2 publishes never released across reconnects,
 * and a broker past its memory limit. Each must stay bounded while the broker keeps serving everyone else.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import mqttPacket from 'mqtt-packet';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt.ts';
import { connectPacket, rawConnect } from '../helpers/raw-mqtt.ts';

const started: HushBrokerInstance[] = [];
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.end();
  for (const instance of started.splice(0)) await instance.stop();
});

async function broker(extraArgs: string[] = []): Promise<HushBrokerInstance> {
  const instance = await startHushBroker({ allowAnonymous: true, websockets: true, extraArgs });
  started.push(instance);
  return instance;
}

/** Resident memory of a process in MiB (/proc/PID/status). */
async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

/** A reader over MQTT/TCP that subscribes to its inbox with a persistent session, then stops reading. */
async function stalledTcpReader(port: number, clientId: string): Promise<{ end(): void }> {
  const raw = await rawConnect(port);
  raw.send(connectPacket({ clientId, clean: false }));
  await raw.next('connack');
  raw.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [{ topic: `chats/${clientId}/messages`, qos: 1 }],
  });
  await raw.next('suback');
  raw.socket.pause();
  return {
    end: () => raw.end(),
  };
}

/** The same over MQTT over WebSocket: the browser-facing path. */
async function stalledWsReader(port: number, clientId: string): Promise<{ end(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const got: string[] = [];
  parser.on('packet', (p) => got.push(p.cmd));
  ws.on('message', (data: Buffer) => parser.parse(data));
  ws.send(mqttPacket.generate(connectPacket({ clientId, clean: false }) as never));
  ws.send(
    mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: `chats/${clientId}/messages`, qos: 1 }],
    } as never),
  );
  const deadline = Date.now() + 5000;
  while (!got.includes('suback') && Date.now() < deadline) await sleep(20);
  expect(got).toContain('suback');
  // Stop reading: the underlying TCP socket no longer drains, so the broker's writes pile up.
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  return { end: () => ws.terminate() };
}

describe('Hush broker under hostile load', () => {
  it('a reader that stops reading is disconnected at its byte bound, memory stays bounded, others are served', async () => {
    const instance = await broker();
    const url = `mqtt://127.0.0.1:${instance.mqttPort}`;
    const tcpVictim = await stalledTcpReader(instance.mqttPort, 'slowtcp');
    const wsVictim = await stalledWsReader(instance.wsPort!, 'slowws');
    const canary = await connectClient(url, { clientId: 'canary' });
    clients.push(canary);
    await canary.client.subscribeAsync('chats/canary/messages', { qos: 1 });
    const publishers = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const p = await connectClient(url, { clientId: `pub${i}` });
        clients.push(p);
        return p;
      }),
    );
    await sleep(500);
    const baseline = await rssMb(instance.pid);
    let peak = baseline;
    const payload = Buffer.alloc(200 * 1024, 7);
    // 3 publishers × 150 messages of 200 KB per second, for 20 s (the review's load, under the publish limit).
    const seconds = 20;
    let published = 0;
    let canarySent = 0;
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      const tick = Date.now();
      for (const [i, p] of publishers.entries()) {
        for (let k = 0; k < 15; k++) {
          const topic = k % 2 === 0 ? 'chats/slowtcp/messages' : 'chats/slowws/messages';
          p.client.publish(topic, payload, { qos: 1 }, () => undefined);
          published++;
        }
        if (i === 0) {
          canary.client.publish('chats/canary/messages', `c${canarySent++}`, { qos: 1 });
        }
      }
      peak = Math.max(peak, await rssMb(instance.pid));
      await sleep(Math.max(0, 100 - (Date.now() - tick)));
    }
    // The broker must still hand the canary everything, promptly after the load.
    const deadline = Date.now() + 10_000;
    while (canary.received.length < canarySent && Date.now() < deadline) await sleep(50);
    peak = Math.max(peak, await rssMb(instance.pid));
    expect(published).toBeGreaterThan(1000);
    expect(canary.received.map((m) => m.payload)).toEqual(
      Array.from({ length: canarySent }, (_, i) => `c${i}`),
    );
    expect(
      peak - baseline,
      `broker RSS grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB`,
    ).toBeLessThan(300);
    // (A paused socket never reads its EOF, so the broker's word is the evidence that it closed them.)
    await instance.waitForLog(/"clientId":"slowtcp"[^\n]*stopped reading/);
    await instance.waitForLog(/"clientId":"slowws"[^\n]*stopped reading/);

    // The victim, reading again, gets what was kept for it and is told how many were not.
    const back = await connectClient(url, { clientId: 'slowtcp', clean: false });
    clients.push(back);
    const until = Date.now() + 15_000;
    while (!back.received.some((m) => m.topic === '$hush/queue/dropped') && Date.now() < until)
      await sleep(50);
    const notice = back.received.find((m) => m.topic === '$hush/queue/dropped');
    expect(notice, 'dropped-messages notice').toBeDefined();
    expect((JSON.parse(notice!.payload) as { dropped: number }).dropped).toBeGreaterThan(0);
    tcpVictim.end();
    wsVictim.end();
  }, 90_000);

  it('bounds QoS 2 messages awaiting PUBREL per client id, across reconnects', async () => {
    const instance = await broker(['--data-dir', await tempDir()]);
    const body = Buffer.alloc(100 * 1024, 1);
    const round = async (firstId: number) => {
      const raw = await rawConnect(instance.mqttPort);
      raw.send(connectPacket({ clientId: 'halfopen', clean: false }));
      await raw.next('connack');
      let pubrecs = 0;
      for (let id = firstId; id < firstId + 100; id++) {
        raw.send({ cmd: 'publish', topic: 'chats/halfopen/x', payload: body, qos: 2, messageId: id });
      }
      await raw.closed(10_000).catch(() => undefined);
      pubrecs = raw.packets.filter((p) => p.cmd === 'pubrec').length;
      raw.end();
      return pubrecs;
    };
    // The default bound: 64 messages or 4 MiB (40 of these) awaiting PUBREL; the 41st closes the connection
    // (with LevelDB the 41st can arrive before any of the 40 is stored: then no PUBREC leaves before it closes).
    const first = await round(1);
    expect(first).toBeLessThanOrEqual(40);
    const second = await round(1000);
    expect(second, 'a reconnect does not reset the bound').toBe(0);
    expect(instance.log()).toMatch(/too many QoS 2 messages awaiting PUBREL/);
    // Releasing one makes room for one more.
    const raw = await rawConnect(instance.mqttPort);
    raw.send(connectPacket({ clientId: 'halfopen', clean: false }));
    await raw.next('connack');
    raw.send({ cmd: 'pubrel', messageId: 1 });
    await raw.next('pubcomp');
    raw.send({ cmd: 'publish', topic: 'chats/halfopen/x', payload: body, qos: 2, messageId: 2000 });
    expect((await raw.next('pubrec')).messageId).toBe(2000);
    raw.end();
  }, 60_000);

  it('refuses new connections while over its memory limit, and says so', async () => {
    // A limit below what the process needs to run: the guard trips on its first reading.
    const instance = await broker(['--max-memory-mb', '20']);
    await instance.waitForLog(/memory limit reached/);
    const raw = await rawConnect(instance.mqttPort);
    raw.send(connectPacket({ clientId: 'late' }));
    const connack = await raw.next('connack');
    expect(connack.returnCode).toBe(3);
    raw.end();
  });
});

async function tempDir(): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  return mkdtemp(path.join(tmpdir(), 'hush-hostile-'));
}
