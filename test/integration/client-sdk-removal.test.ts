// A removed member learns it was removed (issue 6, PROTOCOL.md §2 'removed'), and nobody else can make it think so:
// real embedded broker, real clients, attacks delivered through the broker to the victim's inbox.

import { describe, expect, it } from 'vitest';
import { loadDevice, useProvisionedDevice } from '../../src/client/device.ts';
import { HushClient } from '../../src/client/hush-client.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { fromB64u, fromUtf8 } from '../../src/core/bytes.ts';
import { buildRemovalNotice, deserializeChat } from '../../src/core/chat.ts';
import { encodeContent, type RemovedContent } from '../../src/core/content.ts';
import { publicIdentity, type DeviceIdentity } from '../../src/core/identity.ts';
import { sealDirectEnvelope } from '../../src/core/sealed-box.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { record, randomId, until, useSdkBroker } from '../helpers/sdk-broker.ts';

const sdk = useSdkBroker('hush-sdk-removal-');
const { provision, openClient, rawPublisher } = sdk;

/** A real store that also keeps every chat record written, so a test can pick out a wire that was sent. */
class RecordingStore extends MemoryStore {
  readonly chatWrites: Array<{ name: string; json: unknown }> = [];
  override async write(name: string, data: Uint8Array): Promise<void> {
    await super.write(name, data);
    if (name.startsWith('chat.')) this.chatWrites.push({ name, json: JSON.parse(fromUtf8(data, 'record')) });
  }
}

interface Person {
  client: HushClient;
  store: RecordingStore;
  identity: DeviceIdentity;
}

async function newDevice(name: string): Promise<Person> {
  const { clientId, secret } = await provision();
  const store = new RecordingStore();
  await useProvisionedDevice({
    brokerUrl: sdk.url,
    clientId,
    deviceSecret: secret,
    server: 'http://hush.test',
    displayName: name,
    store,
    provider,
  });
  const { identity } = await loadDevice(store, provider);
  const client = await openClient(store);
  await client.connect();
  return { client, store, identity };
}

/** Publishes raw bytes to a device's inbox from a fresh, legitimate account (anyone may write to an inbox). */
async function deliver(to: HushClient, wire: Uint8Array): Promise<void> {
  const c = await rawPublisher();
  await c.client.publishAsync(`chats/${to.clientId}/messages`, Buffer.from(wire), { qos: 1 });
}

/** A 'removed' notice made by hand: any signer, any recipient, sealed to any key. */
async function forgeRemoval(options: {
  signer: DeviceIdentity;
  from?: string;
  sealTo: DeviceIdentity;
  to: string;
  chat: string;
  epoch: number;
}): Promise<Uint8Array> {
  const content: RemovedContent = {
    v: 1,
    kind: 'removed',
    chat: options.chat,
    epoch: options.epoch,
    from: options.from ?? options.signer.clientId,
    id: randomId(16),
    seq: 0,
    ts: Date.now(),
    to: options.to,
  };
  return sealDirectEnvelope(
    provider,
    publicIdentity(options.sealTo).agree,
    encodeContent(content),
    options.signer.signing,
  );
}

/** Alice (creator, admin), Bob and Carol in one group, everyone seeing three members and one message. */
async function groupOfThree(): Promise<{ alice: Person; bob: Person; carol: Person; chatId: string }> {
  const [alice, bob, carol] = await Promise.all(['Alice', 'Bob', 'Carol'].map((n) => newDevice(n)));
  const chatId = await alice!.client.createChat({ name: 'three' });
  const { link } = await alice!.client.createInvite(chatId, { uses: 2 });
  await bob!.client.acceptInvite(link, { timeoutMs: 8000 });
  await carol!.client.acceptInvite(link, { timeoutMs: 8000 });
  const everyone = [alice!, bob!, carol!];
  await until('everyone sees three members', () =>
    everyone.every((p) => p.client.chats()[0]?.members.length === 3),
  );
  const carolGot = record(carol!.client, 'message');
  await alice!.client.sendText(chatId, 'before the removal');
  await until('carol receives', () => carolGot.length === 1);
  return { alice: alice!, bob: bob!, carol: carol!, chatId };
}

const epochOf = (p: Person, chatId: string): number =>
  p.client.chats().find((c) => c.chatId === chatId)!.epoch;

/** Carol can still send in the chat and Bob gets it: she was not evicted. */
async function stillMember(carol: Person, bob: Person, chatId: string, text: string): Promise<void> {
  const summary = carol.client.chats().find((c) => c.chatId === chatId)!;
  expect(summary.removed).toBeUndefined();
  expect(summary.members.map((m) => m.clientId)).toContain(carol.client.clientId);
  const bobGot = record(bob.client, 'message');
  await carol.client.sendText(chatId, text);
  await until(`bob receives "${text}"`, () => bobGot.some((m) => m.text === text));
}

describe('a removed member learns it was removed', () => {
  it('a group of three with a member removed: the removed one sees it, can read but not send', async () => {
    const { alice, bob, carol, chatId } = await groupOfThree();
    const carolChat = record(carol.client, 'chat');
    const carolNotices = record(carol.client, 'notice');
    const carolWarnings = record(carol.client, 'warning');

    await alice.client.removeMember(chatId, carol.client.clientId);
    await until('carol is told', () => carolChat.some((e) => e.change === 'removed'));
    expect(carolChat.filter((e) => e.change === 'removed')).toEqual([{ chatId, change: 'removed' }]);
    await until('bob sees two members', () => bob.client.chats()[0]?.members.length === 2);

    const summary = carol.client.chats().find((c) => c.chatId === chatId)!;
    expect(summary.removed).toBe(true);
    expect(summary.me.admin).toBe(false);
    expect(summary.members.map((m) => m.clientId).sort()).toEqual(
      [alice.client.clientId, bob.client.clientId].sort(),
    );
    const notice = carolNotices.find((n) => n.notice?.code === 'member-removed');
    expect(notice?.text).toBe('You were removed from the chat by Alice.');
    expect(notice?.from).toBe(alice.client.clientId);
    expect(carolWarnings).toEqual([]);

    // The history stays readable, with the notice at its end.
    const history = carol.client.history(chatId);
    expect(history.map((m) => m.text)).toEqual([
      'before the removal',
      'You were removed from the chat by Alice.',
    ]);
    // Sending is refused with a clear error; reading and marking read still work.
    await expect(carol.client.sendText(chatId, 'am I still here?')).rejects.toMatchObject({
      code: 'not-allowed',
      message: expect.stringMatching(/Alice removed this device from chat .*nothing can be sent/),
    });
    await expect(carol.client.setTyping(chatId, true)).rejects.toMatchObject({ code: 'not-allowed' });
    await expect(carol.client.createInvite(chatId)).rejects.toMatchObject({ code: 'not-allowed' });
    await carol.client.markRead(chatId, [history[0]!.id]);
    expect(carol.client.chats()[0]!.unread).toBe(0);

    // It survives a restart of the removed device.
    await carol.client.close();
    const carolAgain = await openClient(carol.store);
    expect(carolAgain.chats().find((c) => c.chatId === chatId)?.removed).toBe(true);
    await expect(carolAgain.sendText(chatId, 'after restart')).rejects.toMatchObject({ code: 'not-allowed' });

    // Leaving a chat one was removed from only drops it from the list.
    await carolAgain.leaveChat(chatId);
    expect(carolAgain.chats()).toEqual([]);
    expect(carolAgain.history(chatId).at(-1)?.text).toBe('You were removed from the chat by Alice.');
  });

  it('a non-admin member cannot forge a removal (own signature or the admin’s name)', async () => {
    const { alice, bob, carol, chatId } = await groupOfThree();
    const warnings = record(carol.client, 'warning');
    const chatEvents = record(carol.client, 'chat');
    const epoch = epochOf(carol, chatId);

    // Bob, a member but no admin, signs a removal of Carol with his own key.
    await deliver(
      carol.client,
      await forgeRemoval({
        signer: bob.identity,
        sealTo: carol.identity,
        to: carol.client.clientId,
        chat: chatId,
        epoch: epoch + 1,
      }),
    );
    await until('carol warns', () => warnings.length === 1);
    expect(warnings[0]).toMatchObject({ code: 'unverified-sender', chatId, from: bob.client.clientId });
    expect(warnings[0]!.detail).toMatch(/not an admin/);

    // Bob puts Alice's id on it: the signature is not Alice's.
    await deliver(
      carol.client,
      await forgeRemoval({
        signer: bob.identity,
        from: alice.client.clientId,
        sealTo: carol.identity,
        to: carol.client.clientId,
        chat: chatId,
        epoch: epoch + 1,
      }),
    );
    await until('carol warns again', () => warnings.length === 2);
    expect(warnings[1]).toMatchObject({ code: 'unverified-sender', chatId, from: alice.client.clientId });
    expect(warnings[1]!.detail).toMatch(/signature/);

    expect(chatEvents.filter((e) => e.change === 'removed')).toEqual([]);
    const refused = carol.client.history(chatId).filter((m) => m.notice?.code === 'unverified-sender');
    expect(refused).toHaveLength(2);
    expect(carol.client.history(chatId).some((m) => m.notice?.code === 'member-removed')).toBe(false);
    await stillMember(carol, bob, chatId, 'still here');
  });

  it('an old removal notice, replayed or re-sent after the member was added again, evicts nobody', async () => {
    const { alice, bob, carol, chatId } = await groupOfThree();
    const carolChat = record(carol.client, 'chat');
    const stateBefore = alice.store.chatWrites.at(-1)!;
    expect(stateBefore.name).toBe(`chat.${chatId}.json`);

    await alice.client.removeMember(chatId, carol.client.clientId);
    await until('carol is told', () => carolChat.some((e) => e.change === 'removed'));
    // The exact wire Alice sent, from her outbox as it was written before publishing.
    type Rec = {
      state: unknown;
      outbox: Array<{ kind: string; targets: Array<{ to: string; wire: string }> }>;
    };
    const written = alice.store.chatWrites
      .map((w) => w.json as Rec)
      .flatMap((r) => r.outbox)
      .find((e) => e.kind === 'removed');
    expect(written?.targets[0]?.to).toBe(carol.client.clientId);
    const oldWire = fromB64u(written!.targets[0]!.wire, 'wire');
    const removalEpoch = epochOf(alice, chatId);

    // Alice adds Carol again: an invite, and the announcement brings her back in.
    const { link } = await alice.client.createInvite(chatId);
    expect(await carol.client.acceptInvite(link, { timeoutMs: 8000 })).toBe(chatId);
    await until('carol is back', () => carol.client.chats()[0]?.removed === undefined);
    expect(epochOf(carol, chatId)).toBe(removalEpoch + 1);
    await until('bob sees carol back', () => bob.client.chats()[0]?.members.length === 3);
    const warnings = record(carol.client, 'warning');

    // 1. The very same box again.
    await deliver(carol.client, oldWire);
    await until('carol warns of the replay', () => warnings.length === 1);
    expect(warnings[0]).toMatchObject({ code: 'replay' });

    // 2. An authentic notice from Alice for that old epoch, with a fresh id (as if the dedupe had forgotten it).
    const aliceDevice = await loadDevice(alice.store, provider);
    const stateAtRemoval = await deserializeChat(
      provider,
      (
        alice.store.chatWrites.find((w) => (w.json as Rec).outbox.some((e) => e.kind === 'removed'))!
          .json as Rec
      ).state,
    );
    expect(stateAtRemoval.current.number).toBe(removalEpoch);
    const resent = await buildRemovalNotice(
      provider,
      stateAtRemoval,
      aliceDevice.identity,
      publicIdentity(carol.identity),
      Date.now(),
    );
    await deliver(carol.client, resent.wire);
    await until('carol warns of the stale notice', () => warnings.length === 2);
    expect(warnings[1]).toMatchObject({ code: 'replay', chatId });
    expect(warnings[1]!.detail).toMatch(/not newer/);

    expect(carolChat.filter((e) => e.change === 'removed')).toHaveLength(1);
    await stillMember(carol, bob, chatId, 'back and staying');
  });

  it('a removal addressed to someone else, or for another chat, evicts nobody', async () => {
    const { alice, bob, carol, chatId } = await groupOfThree();
    const warnings = record(carol.client, 'warning');
    const epoch = epochOf(carol, chatId);

    // Signed by the admin, sealed to Carol, but naming Bob as its recipient.
    await deliver(
      carol.client,
      await forgeRemoval({
        signer: alice.identity,
        sealTo: carol.identity,
        to: bob.client.clientId,
        chat: chatId,
        epoch: epoch + 1,
      }),
    );
    await until('carol warns', () => warnings.length === 1);
    expect(warnings[0]).toMatchObject({ code: 'tampered' });
    expect(warnings[0]!.detail).toMatch(/addressed to another device/);

    // Signed by the admin, for Carol, but about a chat Carol is not in.
    await deliver(
      carol.client,
      await forgeRemoval({
        signer: alice.identity,
        sealTo: carol.identity,
        to: carol.client.clientId,
        chat: randomId(16),
        epoch: epoch + 1,
      }),
    );
    await until('carol warns again', () => warnings.length === 2);
    expect(warnings[1]).toMatchObject({ code: 'unverified-sender' });

    expect(carol.client.history(chatId).some((m) => m.notice?.code === 'member-removed')).toBe(false);
    await stillMember(carol, bob, chatId, 'nobody removed me');
  });
});
