import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, settle, type TestClient } from '../helpers/mqtt.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const started: HushBrokerInstance[] = [];
const clients: TestClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.end();
  for (const instance of started.splice(0)) await instance.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/**
 * Several senders publishing to one connected persistent session at the same moment. Aedes numbers each
 * PUBLISH when it arrives, stores it (asynchronously) and only then hands it to the subscribers, so two
 * publishes can reach a subscriber in the other order; its own per-client filter then dropped every message
 * numbered below the last one delivered, as a "duplicate", and deleted the stored copy: a live recipient lost
 * messages for good (CI saw it as a chat message that never arrived).
 */
describe('Hush broker: messages from concurrent senders to one live persistent session', () => {
  for (const store of ['memory', 'LevelDB'] as const) {
    it(`all arrive, exactly once each (${store} sessions)`, { timeout: 60_000 }, async () => {
      const options: Parameters<typeof startHushBroker>[0] = { acl: SEED_ACL };
      if (store === 'LevelDB') {
        const dir = await mkdtemp(path.join(tmpdir(), 'hush-data-'));
        dirs.push(dir);
        options.dataDir = dir;
      }
      const broker = await startHushBroker(options);
      started.push(broker);
      const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
      const reader = await connectClient(url, { clientId: 'reader', clean: false });
      clients.push(reader);
      await reader.client.subscribeAsync('chats/reader/messages', { qos: 1 });

      const senders = 6;
      const each = 150;
      const writers: TestClient[] = [];
      for (let s = 0; s < senders; s++) {
        const writer = await connectClient(url, { clientId: `writer${s}` });
        clients.push(writer);
        writers.push(writer);
      }
      // Every sender's messages in flight at once, interleaved with the others'.
      await Promise.all(
        writers.map((writer, s) =>
          Promise.all(
            Array.from({ length: each }, (_, i) =>
              writer.client.publishAsync('chats/reader/messages', `s${s}-${i}`, { qos: 1 }),
            ),
          ),
        ),
      );
      await settle(reader, senders * each, 20_000);

      const got = reader.received.map((r) => r.payload);
      const missing: string[] = [];
      for (let s = 0; s < senders; s++)
        for (let i = 0; i < each; i++) if (!got.includes(`s${s}-${i}`)) missing.push(`s${s}-${i}`);
      expect(missing, `${missing.length} of ${senders * each} never arrived`).toEqual([]);
      expect(got.length).toBe(senders * each);
    });
  }

  it("a message matching several of a live client's filters is sent to it once", async () => {
    const broker = await startHushBroker({ acl: 'topic readwrite chats/#\n' });
    started.push(broker);
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const reader = await connectClient(url, { clientId: 'reader', clean: false });
    clients.push(reader);
    await reader.client.subscribeAsync(['chats/reader/messages', 'chats/+/messages', 'chats/#'], { qos: 1 });
    const writer = await connectClient(url, { clientId: 'writer' });
    clients.push(writer);
    for (let i = 0; i < 20; i++)
      await writer.client.publishAsync('chats/reader/messages', `m${i}`, { qos: 1 });
    await settle(reader, 20);
    expect(reader.received.map((r) => r.payload)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});
