import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HushWarning, ProfileStore, ReceivedText } from '../../src/client/api.ts';
import { loadDevice, useProvisionedDevice } from '../../src/client/device.ts';
import { HushClient } from '../../src/client/hush-client.ts';
import { FileStore } from '../../src/client/node/file-store.ts';
import { MemoryStore, readJson } from '../../src/client/storage.ts';
import { fromB64u } from '../../src/core/bytes.ts';
import { deserializeChat, sealMessage } from '../../src/core/chat.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { record, randomId, until, useSdkBroker } from '../helpers/sdk-broker.ts';
import { sleep } from '../helpers/mqtt.ts';

const sdk = useSdkBroker('hush-sdk-');
const { provision, openClient, rawPublisher } = sdk;

async function newDevice(
  options: { name?: string; store?: ProfileStore; server?: string; wrongSecret?: boolean } = {},
): Promise<{ client: HushClient; store: ProfileStore }> {
  const { clientId, secret } = await provision();
  const store = options.store ?? new MemoryStore();
  await useProvisionedDevice({
    brokerUrl: sdk.url,
    clientId,
    deviceSecret: options.wrongSecret ? randomId(32) : secret,
    server: options.server ?? 'http://hush.test',
    ...(options.name !== undefined ? { displayName: options.name } : {}),
    store,
    provider,
  });
  return { client: await openClient(store), store };
}

/** A 1:1 chat between two connected devices. */
async function pair(): Promise<{
  alice: HushClient;
  bob: HushClient;
  chatId: string;
  aliceStore: ProfileStore;
  bobStore: ProfileStore;
}> {
  const a = await newDevice({ name: 'alice' });
  const b = await newDevice({ name: 'bob' });
  await Promise.all([a.client.connect(), b.client.connect()]);
  const { link, chatId } = await a.client.createInvite();
  expect(await b.client.acceptInvite(link, { timeoutMs: 5000 })).toBe(chatId);
  return { alice: a.client, bob: b.client, chatId, aliceStore: a.store, bobStore: b.store };
}

describe('HushClient against the embedded broker', () => {
  it('two devices create, invite, accept and chat both ways, with delivered and read receipts', async () => {
    const { alice, bob, chatId } = await pair();
    await until('alice sees bob as a member', () => alice.chats()[0]?.members.length === 2);
    expect(alice.chats()[0]!.members.find((m) => m.clientId === bob.clientId)?.displayName).toBe('bob');
    const bobGot = record(bob, 'message');
    const aliceGot = record(alice, 'message');
    const aliceReceipts = record(alice, 'receipt');
    const { id } = await alice.sendText(chatId, 'hi bob');
    await until('bob receives', () => bobGot.length === 1);
    expect(bobGot[0]).toMatchObject({
      chatId,
      from: alice.clientId,
      text: 'hi bob',
      id,
      protection: 'verified',
    });
    await until('delivered', () => alice.history(chatId).find((m) => m.id === id)?.state === 'delivered');
    await bob.markRead(chatId, [id]);
    await until('read', () => alice.history(chatId).find((m) => m.id === id)?.state === 'read');
    expect(aliceReceipts.map((r) => r.status)).toEqual(['delivered', 'read']);
    expect(bob.chats()[0]!.unread).toBe(0);
    await bob.sendText(chatId, 'hi alice');
    await until('alice receives', () => aliceGot.length === 1);
    expect(aliceGot[0]!.text).toBe('hi alice');
    // Notices (here: "bob joined") are in the history too; the texts are what this test is about.
    const texts = alice.history(chatId).filter((m) => m.kind !== 'notice');
    expect(texts.map((m) => m.text)).toEqual(['hi bob', 'hi alice']);
    const typing = record(bob, 'typing');
    expect(await alice.setTyping(chatId, true)).toBe(true);
    await until('typing arrives', () => typing.length === 1);
    expect(typing[0]).toEqual({ chatId, from: alice.clientId, active: true });
  });

  it('an offline recipient gets every queued message exactly once and in order when it comes back', async () => {
    const { alice, bob, chatId, bobStore } = await pair();
    await bob.close();
    for (let i = 0; i < 10; i++) await alice.sendText(chatId, `queued ${i}`);
    await until('all sent', () => alice.history(chatId).every((m) => m.state !== 'sending'));
    const bob2 = await openClient(bobStore);
    const got = record(bob2, 'message');
    const warnings = record(bob2, 'warning');
    await bob2.connect();
    await until('all 10 arrive', () => got.length === 10);
    await sleep(300);
    expect(got.map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `queued ${i}`));
    expect(warnings).toEqual([]);
  });

  it('a burst of sends publishes each copy once: no redelivered copies reach the recipient', async () => {
    // Regression: a copy counted as no longer in flight before its ack was recorded, so the flush triggered by the
    // next send published it again and the recipient saw replays.
    const { alice, bob, chatId } = await pair();
    const warnings = record(bob, 'warning');
    const got = record(bob, 'message');
    const sent: string[] = [];
    // One after another, as a user types: each send's flush runs while earlier copies' acks are being recorded.
    for (let i = 0; i < 300; i++) sent.push((await alice.sendText(chatId, `burst ${i}`)).id);
    await until('bob receives the burst', () => got.length === sent.length, 20_000);
    await until('every copy acknowledged', () => alice.pendingOutgoing(chatId) === 0, 20_000);
    // A marker after the burst: anything still in flight arrives before it.
    await alice.sendText(chatId, 'marker');
    await until('marker arrives', () => got.some((m) => m.text === 'marker'), 20_000);
    expect(warnings.filter((w) => w.code === 'replay')).toEqual([]);
    expect(new Set(got.map((m) => m.id)).size).toBe(got.length);
  });

  it('a message written while offline is sent once, after a restart on the same FileStore', async () => {
    const fileStore = new FileStore(path.join(sdk.dir, `profile-${randomId(6)}`));
    const a = await newDevice({ store: fileStore });
    const b = await newDevice();
    await Promise.all([a.client.connect(), b.client.connect()]);
    const { link, chatId } = await a.client.createInvite();
    await b.client.acceptInvite(link, { timeoutMs: 5000 });
    await until('alice knows bob', () => a.client.chats()[0]?.members.length === 2);
    const got = record(b.client, 'message');
    const warnings = record(b.client, 'warning');
    await a.client.close();

    // Written offline: stored in the outbox, nothing published.
    const offline = await openClient(fileStore);
    const { id } = await offline.sendText(chatId, 'written offline');
    expect(offline.history(chatId).at(-1)).toMatchObject({ id, state: 'sending' });
    await offline.close();
    await sleep(200);
    expect(got).toEqual([]);

    // "Process restart": a new client on the same directory connects and flushes the outbox.
    const restarted = await openClient(new FileStore(fileStore.dir));
    await restarted.connect();
    await until('bob receives it', () => got.length === 1);
    await until('sent', () => restarted.history(chatId).at(-1)?.state !== 'sending');
    await restarted.close();

    // Once more: nothing is left to send, so nothing is sent again.
    const again = await openClient(new FileStore(fileStore.dir));
    await again.connect();
    await sleep(500);
    expect(got.map((m) => m.text)).toEqual(['written offline']);
    expect(warnings).toEqual([]);
  });

  it('replayed, tampered and forged messages are rejected as warnings; the client keeps working', async () => {
    const { alice, bob, chatId, aliceStore } = await pair();
    await alice.close();
    // Take the wire bytes from alice's outbox while she is offline.
    const offline = await openClient(aliceStore);
    await offline.sendText(chatId, 'original');
    const chatRecord = (await readJson(aliceStore, `chat.${chatId}.json`)) as {
      outbox: Array<{ targets: Array<{ wire: string }> }>;
    };
    const wire = fromB64u(chatRecord.outbox.at(-1)!.targets[0]!.wire, 'wire');
    const got = record(bob, 'message');
    const warnings = record(bob, 'warning');
    await offline.connect();
    await until('original arrives', () => got.length === 1);

    const attacker = await rawPublisher();
    const topic = `chats/${bob.clientId}/messages`;
    await attacker.client.publishAsync(topic, Buffer.from(wire), { qos: 1 });
    const tampered = wire.slice();
    tampered[tampered.length - 20]! ^= 1;
    await attacker.client.publishAsync(topic, Buffer.from(tampered), { qos: 1 });
    await attacker.client.publishAsync(topic, Buffer.from([0x07, ...new Uint8Array(300)]), { qos: 1 });
    await until('three warnings', () => warnings.length >= 3);
    expect(warnings.map((w) => w.code)).toEqual(['replay', 'tampered', 'unknown-version']);
    expect(warnings[0]!.chatId).toBe(chatId);

    // A forged sender: a valid envelope under the chat key naming bob himself, that bob never sent.
    const aliceState = await deserializeChat(
      provider,
      ((await readJson(aliceStore, `chat.${chatId}.json`)) as { state: unknown }).state,
    );
    const aliceDevice = await loadDevice(aliceStore, provider);
    const forger = { ...aliceDevice.identity, clientId: bob.clientId };
    const forged = await sealMessage(
      provider,
      aliceState,
      forger,
      { kind: 'text', text: 'forged' },
      Date.now(),
    );
    await attacker.client.publishAsync(topic, Buffer.from(forged.wire), { qos: 1 });
    await until('fourth warning', () => warnings.length >= 4);
    expect(warnings[3]!.code).toBe('unverified-sender');

    await offline.sendText(chatId, 'still fine');
    await until('next message', () => got.length === 2);
    expect(got.map((m) => m.text)).toEqual(['original', 'still fine']);
  });

  it('a redelivered copy after a restart is dropped: the dedupe state is stored before the ack', async () => {
    const { alice, bob, chatId, aliceStore, bobStore } = await pair();
    await alice.close();
    const offline = await openClient(aliceStore);
    await offline.sendText(chatId, 'once');
    const chatRecord = (await readJson(aliceStore, `chat.${chatId}.json`)) as {
      outbox: Array<{ targets: Array<{ wire: string }> }>;
    };
    const wire = fromB64u(chatRecord.outbox.at(-1)!.targets[0]!.wire, 'wire');
    const got = record(bob, 'message');
    await offline.connect();
    await until('arrives', () => got.length === 1);
    await bob.close();
    // The same bytes again while bob is offline (as a broker redelivery would), then bob restarts.
    const attacker = await rawPublisher();
    await attacker.client.publishAsync(`chats/${bob.clientId}/messages`, Buffer.from(wire), { qos: 1 });
    const bob2 = await openClient(bobStore);
    const got2 = record(bob2, 'message');
    const warnings = record(bob2, 'warning');
    await bob2.connect();
    await until('the copy is handled', () => warnings.length === 1);
    expect(warnings[0]!.code).toBe('replay');
    expect(got2).toEqual([]);
    expect(bob2.history(chatId).map((m) => m.text)).toEqual(['once']);
  });

  it('a group of five: messages reach all; a removed member receives nothing readable afterwards', async () => {
    const [a, b, c, d, e] = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => newDevice({ name })));
    const everyone = [a!, b!, c!, d!, e!];
    await Promise.all(everyone.map((x) => x.client.connect()));
    const chatId = await a!.client.createChat({ name: 'five' });
    const { link } = await a!.client.createInvite(chatId, { uses: 4 });
    for (const joiner of [b!, c!, d!, e!]) await joiner.client.acceptInvite(link, { timeoutMs: 8000 });
    await until('everyone sees five members', () =>
      everyone.every((x) => x.client.chats()[0]?.members.length === 5),
    );
    const got = everyone.map((x) => record(x.client, 'message'));
    await a!.client.sendText(chatId, 'hello all');
    await until('all four others receive', () => got.slice(1).every((g) => g.length === 1));
    await d!.client.sendText(chatId, 'from d');
    await until('the other four get d', () =>
      [0, 1, 2, 4].every((k) => got[k]!.length === (k === 0 ? 1 : 2)),
    );
    const gotB = got[1]!;
    const gotC = got[2]!;
    const warningsC = record(c!.client, 'warning');
    await a!.client.removeMember(chatId, c!.client.clientId);
    await until('the others see four members', () =>
      [a!, b!, d!, e!].every((x) => x.client.chats()[0]?.members.length === 4),
    );
    await a!.client.sendText(chatId, 'without c');
    await b!.client.sendText(chatId, 'b too');
    await until('b receives the new-epoch message', () => gotB.length === 3);
    await until('e receives both new-epoch messages', () => got[4]!.length === 4);
    await sleep(500);
    expect(gotC.map((m: ReceivedText) => m.text)).toEqual(['hello all', 'from d']);
    expect(a!.client.chats()[0]!.epoch).toBeGreaterThan(c!.client.chats()[0]!.epoch);

    // Even handed the new ciphertext, c cannot open it: it does not have the key.
    const aStore = a!.store;
    await a!.client.close();
    const aOffline = await openClient(aStore);
    await aOffline.sendText(chatId, 'secret');
    const rec = (await readJson(aStore, `chat.${chatId}.json`)) as {
      outbox: Array<{ targets: Array<{ wire: string }> }>;
    };
    const wire = fromB64u(rec.outbox.at(-1)!.targets[0]!.wire, 'wire');
    const attacker = await rawPublisher();
    await attacker.client.publishAsync(`chats/${c!.client.clientId}/messages`, Buffer.from(wire), { qos: 1 });
    await until('c warns', () => warningsC.some((w: HushWarning) => w.code === 'unknown-key'));
    expect(gotC).toHaveLength(2);
  });

  it('a wrong device secret fails with auth-failed and does not retry', async () => {
    const { client } = await newDevice({ wrongSecret: true });
    const states = record(client, 'connection');
    await expect(client.connect()).rejects.toMatchObject({ code: 'auth-failed' });
    await sleep(800);
    expect(states.map((s) => s.state)).toEqual(['connecting', 'auth-failed']);
    expect(client.connectionState).toBe('auth-failed');
    await expect(client.connect()).rejects.toMatchObject({ code: 'auth-failed' });
  });

  it('a second client on the same profile: one reports replaced/second-connection and the kicking stops', async () => {
    const { client: first, store } = await newDevice();
    await first.connect();
    const second = await openClient(store);
    const warnings = [...[first, second].map((c) => record(c, 'warning'))];
    await second.connect();
    await until(
      'one gives up',
      () => first.connectionState === 'replaced' || second.connectionState === 'replaced',
      20_000,
    );
    const [loser, winner] = first.connectionState === 'replaced' ? [first, second] : [second, first];
    expect(warnings.flat().some((w) => w.code === 'second-connection')).toBe(true);
    await until('the other is online', () => winner.connectionState === 'online', 5000);
    const later = record(winner, 'connection');
    await sleep(1500);
    expect(later).toEqual([]);
    expect(loser.connectionState).toBe('replaced');
  });

  it('an invite for another server is refused with a clear message', async () => {
    const a = await newDevice({ server: 'http://other.example:8080' });
    const b = await newDevice({ server: 'http://hush.test' });
    const { link } = await a.client.createInvite();
    await expect(b.client.acceptInvite(link)).rejects.toThrow(
      'invite: this invite is for http://other.example:8080, but this device is registered with http://hush.test',
    );
  });

  it('a join request waits for an offline inviter and completes when it comes online', async () => {
    const a = await newDevice();
    const b = await newDevice();
    await a.client.connect();
    const { link, chatId } = await a.client.createInvite();
    await a.client.close();
    await b.client.connect();
    const joined = b.client.acceptInvite(link);
    await sleep(300);
    const inviter = await openClient(a.store);
    await inviter.connect();
    expect(await joined).toBe(chatId);
  });

  it('a session the broker lost shows up as a queue-gap warning, never as silence', async () => {
    const { client } = await newDevice();
    await client.connect();
    const warnings = record(client, 'warning');
    const states = record(client, 'connection');
    await sdk.broker.removeSession(client.clientId);
    await until('reconnected', () => states.some((s) => s.state === 'online'));
    expect(warnings.map((w) => w.code)).toEqual(['queue-gap']);
  });
});
