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
    it(
      `all arrive, exactly once each and in each sender's order (${store} sessions)`,
      { timeout: 60_000 },
      async () => {
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
        // MQTT 3.1.1 §4.6: each sender's messages arrive in the order it sent them.
        for (let s = 0; s < senders; s++) {
          const order = got.filter((p) => p.startsWith(`s${s}-`));
          expect(order, `sender ${s}`).toEqual(Array.from({ length: each }, (_, i) => `s${s}-${i}`));
        }
      },
    );
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

  it(
    'while sessions reconnect and new ones subscribe, every message to a subscribed inbox arrives',
    { timeout: 60_000 },
    async () => {
      // The subscription matches Aedes makes per PUBLISH are cached until subscriptions change
      // (topic-match-cache.ts): this churns them between bursts of publishes and checks nothing goes astray.
      const dir = await mkdtemp(path.join(tmpdir(), 'hush-data-'));
      dirs.push(dir);
      const broker = await startHushBroker({ acl: SEED_ACL, dataDir: dir });
      started.push(broker);
      const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
      const readers = new Map<string, TestClient>();
      const expected = new Map<string, string[]>();
      // Each reader's connections. Their `received` lists fill from the first packet on: the queued
      // messages arrive right behind the CONNACK, before a handler added after `connect` would see them.
      const connections = new Map<string, TestClient[]>();
      const got = (id: string) => connections.get(id)!.flatMap((c) => c.received.map((r) => r.payload));
      const join = async (id: string) => {
        const reader = await connectClient(url, { clientId: id, clean: false });
        clients.push(reader);
        connections.get(id)!.push(reader);
        await reader.client.subscribeAsync(`chats/${id}/messages`, { qos: 1 });
        readers.set(id, reader);
      };
      const writers: TestClient[] = [];
      for (let s = 0; s < 3; s++) {
        const writer = await connectClient(url, { clientId: `writer${s}` });
        clients.push(writer);
        writers.push(writer);
      }
      const publishTo = (ids: string[], round: number) =>
        Promise.all(
          ids.flatMap((id) =>
            writers.map((writer, s) => {
              const text = `r${round}-w${s}-${id}`;
              expected.get(id)!.push(text);
              return writer.client.publishAsync(`chats/${id}/messages`, text, { qos: 1 });
            }),
          ),
        );
      for (let round = 0; round < 25; round++) {
        const established = [...readers.keys()];
        const newcomer = `reader${round}`;
        connections.set(newcomer, []);
        expected.set(newcomer, []);
        const churn: Promise<void>[] = [join(newcomer)];
        if (round > 2) {
          // An older reader drops and comes back on its persistent session while messages to it are in
          // flight: each one reaches it live or from its queue.
          const back = `reader${round - 3}`;
          churn.push(
            readers
              .get(back)!
              .end()
              .then(() => join(back)),
          );
        }
        await Promise.all([...churn, publishTo(established, round)]);
        // The newcomer's messages go out once its SUBACK is in.
        await publishTo([newcomer], round);
      }
      const deadline = Date.now() + 15_000;
      const missing = () => [...expected].flatMap(([id, texts]) => texts.filter((t) => !got(id).includes(t)));
      while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(missing()).toEqual([]);
    },
  );
});
