// The limits `hush deploy mosquitto` writes, on the real /usr/sbin/mosquitto (2.0.11): a 1 MiB message is
// refused on the TCP listener (sender disconnected) and dropped on the WebSockets one (message_size_limit,
// since 2.0.11 ignores max_packet_size there); an offline device's queue stops at 1,000 messages and at
// 32 MiB; the audit's resource checks pass against it and its plain-port probe touches only named ports.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttackSuite, type Finding } from '../../src/audit/index.ts';
import { runHush } from '../helpers/hush-broker.ts';
import { runMosquittoConf, type MosquittoProcess } from '../helpers/mosquitto.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';

const ALICE = { username: 'alice-device-0001', password: 'alice-secret-pw' };
const BOB = { username: 'bob-device-0002', password: 'bob-secret-pw' };
const BOB_INBOX = `chats/${BOB.username}/messages`;
const KiB = 1024;
const MiB = 1024 * KiB;

/** Waits until `client` has received nothing new for quietMs (bounded by maxMs). */
async function untilQuiet(client: TestClient, quietMs = 700, maxMs = 20_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let seen = -1;
  while (seen !== client.received.length && Date.now() < deadline) {
    seen = client.received.length;
    await sleep(quietMs);
  }
}

describe('the limits of a generated Mosquitto deployment, on the real broker', () => {
  let temp: string;
  let dir: string;
  let mqtt: string;
  let wss: string;
  let ca: Buffer;
  let broker: MosquittoProcess | undefined;

  beforeAll(async () => {
    temp = await mkdtemp(path.join(tmpdir(), 'hush-deploy-limits-'));
    await chmod(temp, 0o755); // user mosquitto must enter it
    dir = path.join(temp, 'deploy');
    const mqttPort = await freePort();
    const wsPort = await freePort();
    const deployed = await runHush([
      'deploy',
      'mosquitto',
      '--out',
      dir,
      '--mqtt-port',
      String(mqttPort),
      '--ws-port',
      String(wsPort),
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    // The audit line it suggests probes the deployment's own plain port, not 1883.
    expect(deployed.stdout).toContain(`--plain-port ${mqttPort}`);
    ca = await readFile(path.join(dir, 'tls/ca.crt'));
    mqtt = `mqtt://127.0.0.1:${mqttPort}`;
    wss = `wss://localhost:${wsPort}/mqtt`;
    broker = await runMosquittoConf(path.join(dir, 'mosquitto.conf'), [mqttPort, wsPort]);
    for (const device of [ALICE, BOB]) {
      const added = await runHush([
        'passwd',
        '-b',
        path.join(dir, 'accounts/passwd'),
        device.username,
        device.password,
      ]);
      expect(added.code, added.stderr).toBe(0);
    }
    await broker.reload();
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  const connect = (url: string, device: typeof ALICE, clean = true) =>
    connectClient(url, { ...device, clientId: device.username, ca, clean, reconnectPeriod: 0 });

  it('writes every limit with a comment saying what it bounds, and Mosquitto loads it', async () => {
    const conf = await readFile(path.join(dir, 'mosquitto.conf'), 'utf8');
    for (const option of [
      'max_packet_size 262144',
      'message_size_limit 262144',
      'max_queued_messages 1000',
      'max_queued_bytes 33554432',
      'max_inflight_messages 20',
      'max_inflight_bytes 1048576',
    ]) {
      const lines = conf.split('\n');
      const at = lines.indexOf(option);
      expect(at, option).toBeGreaterThan(0);
      expect(lines[at - 1]!.startsWith('#') || lines[at - 2]!.startsWith('#'), option).toBe(true);
    }
    expect(conf.split('\n').filter((l) => l === 'max_connections 10000')).toHaveLength(2);
    expect(broker!.log()).not.toMatch(/Error|Unknown configuration/i);
  });

  it('disconnects a TCP client that sends a 1 MiB message, and delivers nothing', async () => {
    const bob = await connect(mqtt, BOB);
    const alice = await connect(mqtt, ALICE);
    try {
      await bob.client.subscribeAsync(BOB_INBOX, { qos: 1 });
      let closed = false;
      alice.client.on('close', () => (closed = true));
      alice.client.on('error', () => undefined);
      alice.client.publish(BOB_INBOX, Buffer.alloc(MiB, 120), { qos: 1 }, () => undefined);
      const deadline = Date.now() + 5000;
      while (!closed && Date.now() < deadline) await sleep(50);
      expect(closed).toBe(true);
      await sleep(300);
      expect(bob.received).toEqual([]);
    } finally {
      await Promise.all([alice.end(), bob.end()]);
    }
  });

  it('drops a 1 MiB message sent over wss:// (message_size_limit) but delivers the small one after it', async () => {
    const bob = await connect(mqtt, BOB);
    const alice = await connect(wss, ALICE);
    try {
      await bob.client.subscribeAsync(BOB_INBOX, { qos: 1 });
      await alice.client.publishAsync(BOB_INBOX, Buffer.alloc(MiB, 120), { qos: 1 });
      await alice.client.publishAsync(BOB_INBOX, 'small', { qos: 1 });
      const deadline = Date.now() + 5000;
      while (bob.received.length === 0 && Date.now() < deadline) await sleep(50);
      await sleep(300);
      expect(bob.received.map((m) => m.payload.length)).toEqual(['small'.length]);
    } finally {
      await Promise.all([alice.end(), bob.end()]);
    }
  });

  /** Queues `count` messages of `bytes` for Bob while he is offline, then counts what he gets back. */
  async function queueForOfflineBob(count: number, bytes: number): Promise<number[]> {
    const first = await connect(mqtt, BOB, false);
    await first.client.subscribeAsync(BOB_INBOX, { qos: 1 });
    await first.end();
    const alice = await connect(mqtt, ALICE);
    try {
      const payload = Buffer.alloc(bytes, 97);
      for (let i = 0; i < count; i += 100)
        await Promise.all(
          Array.from({ length: Math.min(100, count - i) }, () =>
            alice.client.publishAsync(BOB_INBOX, payload, { qos: 1 }),
          ),
        );
    } finally {
      await alice.end();
    }
    const back = await connect(mqtt, BOB, false);
    await untilQuiet(back);
    const sizes = back.received.map((m) => m.payload.length);
    await back.end();
    await (await connect(mqtt, BOB, true)).end(); // drops the session
    return sizes;
  }

  it('keeps at most 1,000 messages for an offline device (1,200 sent)', async () => {
    const kept = await queueForOfflineBob(1200, 100);
    expect(kept.length).toBe(1000);
  }, 60_000);

  it('keeps at most 32 MiB for an offline device (250 × 200 KiB = 50 MiB sent)', async () => {
    const kept = await queueForOfflineBob(250, 200 * KiB);
    const bytes = kept.reduce((a, b) => a + b, 0);
    // Mosquitto admits a message while the queue is under the bound, so it ends at most one message over.
    expect(bytes).toBeLessThanOrEqual(32 * MiB + 200 * KiB);
    expect(bytes).toBeGreaterThan(30 * MiB);
    expect(kept.length).toBeLessThan(250);
  }, 60_000);

  it("passes the audit's resource checks on its loopback listener, with accounts", async () => {
    const findings = await runAttackSuite(
      {
        url: mqtt,
        attacker: ALICE,
        victim: BOB,
        inboxPattern: 'chats/%c/messages',
        timeoutMs: 5000,
      },
      undefined,
      {
        only: ['resource-oversized-message', 'resource-offline-queue', 'resource-slow-reader'],
      },
    );
    const byId = Object.fromEntries(findings.map((f: Finding) => [f.id, f]));
    expect(
      findings.map((f) => [f.id, f.verdict]),
      JSON.stringify(findings, null, 1),
    ).toEqual([
      ['resource-oversized-message', 'pass'],
      ['resource-offline-queue', 'pass'],
      ['resource-slow-reader', 'pass'],
    ]);
    expect(byId['resource-oversized-message']!.observed).toContain('closed the sender');
    expect(byId['resource-offline-queue']!.observed).toMatch(/^1000 of 1200 /);
    expect(byId['resource-slow-reader']!.observed).toMatch(/dropped \d+/);
  }, 120_000);

  it('probes for a plain listener only on ports it is given', async () => {
    const target = {
      url: wss,
      attacker: ALICE,
      victim: BOB,
      inboxPattern: 'chats/%c/messages',
      ca,
      timeoutMs: 5000,
    };
    const [unnamed] = await runAttackSuite(target, undefined, { only: ['plaintext-listener'] });
    expect(unnamed!.verdict).toBe('info');
    expect(unnamed!.observed).toContain('not probed');
    const port = new URL(mqtt).port;
    const [named] = await runAttackSuite({ ...target, plainPorts: [Number(port)] }, undefined, {
      only: ['plaintext-listener'],
    });
    expect(named!.observed).toContain(`plain MQTT on loopback: mqtt://localhost:${port} (`);
  }, 60_000);
});
