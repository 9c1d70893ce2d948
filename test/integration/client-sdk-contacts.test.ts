// Contacts, safety numbers, key changes, notices in the history, admin flags and display names (issue 6),
// with real HushClients over the embedded sdk.broker. The attacks (a forged key change by a malicious admin, a
// tampered ciphertext) are built with the core APIs and delivered through the broker like any message.
import { describe, expect, it } from 'vitest';
import type { ProfileStore, StoredMessage } from '../../src/client/api.ts';
import { loadDevice, useProvisionedDevice } from '../../src/client/device.ts';
import { HushClient } from '../../src/client/hush-client.ts';
import { MemoryStore, readJson } from '../../src/client/storage.ts';
import { fromB64u } from '../../src/core/bytes.ts';
import { buildEpochChange, deserializeChat } from '../../src/core/chat.ts';
import { encodeContent, type EpochContent } from '../../src/core/content.ts';
import {
  createDeviceIdentity,
  fingerprint,
  publicIdentity,
  publicIdentityToJson,
  safetyNumber,
} from '../../src/core/identity.ts';
import { sealDirectEnvelope } from '../../src/core/sealed-box.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { record, randomId, until, useSdkBroker } from '../helpers/sdk-broker.ts';

const sdk = useSdkBroker('hush-contacts-');
const { provision, openClient, rawPublisher } = sdk;

async function newDevice(name: string): Promise<{ client: HushClient; store: ProfileStore }> {
  const { clientId, secret } = await provision();
  const store = new MemoryStore();
  await useProvisionedDevice({
    brokerUrl: sdk.url,
    clientId,
    deviceSecret: secret,
    server: 'http://hush.test',
    displayName: name,
    store,
    provider,
  });
  const client = await openClient(store);
  await client.connect();
  return { client, store };
}

async function publishTo(clientId: string, wire: Uint8Array): Promise<void> {
  const attacker = await rawPublisher();
  await attacker.client.publishAsync(`chats/${clientId}/messages`, Buffer.from(wire), { qos: 1 });
}

/** `inviter` invites `joiner` into `chatId` (a new chat if none); resolves once both see each other. */
async function join(inviter: HushClient, joiner: HushClient, chatId?: string): Promise<string> {
  const { link, chatId: id } = await inviter.createInvite(chatId);
  expect(await joiner.acceptInvite(link, { timeoutMs: 5000 })).toBe(id);
  const both = (c: HushClient) =>
    c
      .chats()
      .find((x) => x.chatId === id)
      ?.members.some((m) => m.clientId === joiner.clientId) === true;
  await until('the inviter sees the joiner', () => both(inviter));
  return id;
}

const notices = (history: StoredMessage[], code?: string) =>
  history.filter((m) => m.kind === 'notice' && (code === undefined || m.notice?.code === code));
const texts = (history: StoredMessage[]) => history.filter((m) => m.kind !== 'notice').map((m) => m.text);

describe('contacts, safety numbers and notices', () => {
  it('two devices see each other as unverified contacts with the same 60-digit safety number; verified persists', async () => {
    const a = await newDevice('alice');
    const b = await newDevice('bob');
    const bobContacts = record(b.client, 'contact');
    const chatId = await join(a.client, b.client);
    const alice = a.client;
    const bob = b.client;

    // Names travel both ways: the joiner learns the inviter's name from the epoch announcement.
    expect(bob.chats()[0]!.members.find((m) => m.clientId === alice.clientId)?.displayName).toBe('alice');
    expect(alice.chats()[0]!.members.find((m) => m.clientId === bob.clientId)?.displayName).toBe('bob');

    // Admin flags: the creator is the admin, the joiner is not.
    expect(alice.chats()[0]!.me).toEqual({ admin: true });
    expect(bob.chats()[0]!.me).toEqual({ admin: false });
    expect(bob.chats()[0]!.members.map((m) => [m.clientId, m.isAdmin])).toEqual(
      expect.arrayContaining([
        [alice.clientId, true],
        [bob.clientId, false],
      ]),
    );

    const aliceDevice = await loadDevice(a.store, provider);
    const bobDevice = await loadDevice(b.store, provider);
    expect(alice.contacts()).toEqual([
      expect.objectContaining({
        clientId: bob.clientId,
        displayName: 'bob',
        verified: false,
        keyChanged: false,
        fingerprint: await fingerprint(provider, publicIdentity(bobDevice.identity)),
      }),
    ]);
    expect(bob.contacts().map((c) => [c.clientId, c.displayName, c.verified])).toEqual([
      [alice.clientId, 'alice', false],
    ]);
    expect(bobContacts).toEqual([{ clientId: alice.clientId, change: 'added' }]);

    const atAlice = await alice.safetyNumber(bob.clientId);
    const atBob = await bob.safetyNumber(alice.clientId);
    expect(atAlice).toMatch(/^[0-9]{60}$/);
    expect(atAlice).toBe(atBob);
    expect(atAlice).toBe(
      await safetyNumber(provider, publicIdentity(aliceDevice.identity), publicIdentity(bobDevice.identity)),
    );
    expect(await alice.safetyNumberQr(bob.clientId)).toBe(
      `hush-sn:1:${atAlice}:${alice.clientId}:${bob.clientId}`,
    );
    await expect(alice.safetyNumber(randomId(16))).rejects.toMatchObject({ code: 'unknown-contact' });
    await expect(alice.markVerified(randomId(16), true)).rejects.toMatchObject({ code: 'unknown-contact' });

    // A received text says how it was protected and how far its sender is trusted.
    const got = record(bob, 'message');
    await alice.sendText(chatId, 'before verifying');
    await until('bob receives', () => got.length === 1);
    expect(got[0]).toMatchObject({ protection: 'verified', senderTrust: 'unverified' });
    expect(bob.history(chatId).at(-1)).toMatchObject({ protection: 'verified', senderTrust: 'unverified' });

    // The inviter's history says who joined; a notice is neither unread nor the last message.
    const joined = notices(alice.history(chatId), 'member-added');
    expect(joined).toHaveLength(1);
    expect(joined[0]).toMatchObject({ from: bob.clientId, state: 'received', text: 'bob joined the chat.' });
    expect(alice.chats()[0]!.unread).toBe(0);
    expect(alice.chats()[0]!.lastMessage?.text).toBe('before verifying');

    const changes = record(bob, 'contact');
    await bob.markVerified(alice.clientId, true, { safetyNumber: atBob });
    expect(changes).toEqual([{ clientId: alice.clientId, change: 'verified' }]);
    expect(bob.contact(alice.clientId)?.verified).toBe(true);
    await bob.close();
    const bobAgain = await openClient(b.store);
    await bobAgain.connect();
    expect(bobAgain.contact(alice.clientId)).toMatchObject({ verified: true, keyChanged: false });
    const gotAgain = record(bobAgain, 'message');
    await alice.sendText(chatId, 'after verifying');
    await until('bob receives again', () => gotAgain.length === 1);
    expect(gotAgain[0]!.senderTrust).toBe('verified');
    await bobAgain.markVerified(alice.clientId, false);
    expect(bobAgain.contact(alice.clientId)?.verified).toBe(false);
  });

  it('a group: the last joiner learns every earlier name; removals and leaves show up as notices', async () => {
    const [a, b, c, d] = await Promise.all(['ann', 'ben', 'cat', 'dan'].map((n) => newDevice(n)));
    const chatId = await a!.client.createChat({ name: 'four' });
    for (const joiner of [b!, c!, d!]) await join(a!.client, joiner.client, chatId);
    const all = [a!, b!, c!, d!].map((x) => x.client);
    await until('everyone sees four members', () => all.every((x) => x.chats()[0]?.members.length === 4));
    const names = (x: HushClient) =>
      Object.fromEntries(x.chats()[0]!.members.map((m) => [m.clientId, m.displayName]));
    const expected = Object.fromEntries(all.map((x) => [x.clientId, x.displayName]));
    await until(
      'ben learns the later names',
      () => JSON.stringify(names(b!.client)) === JSON.stringify(expected),
    );
    expect(names(d!.client)).toEqual(expected);
    expect(
      d!.client
        .contacts()
        .map((x) => x.displayName)
        .sort(),
    ).toEqual(['ann', 'ben', 'cat']);
    expect(
      d!.client
        .chats()[0]!
        .members.filter((m) => m.isAdmin)
        .map((m) => m.clientId),
    ).toEqual([a!.client.clientId]);

    await a!.client.removeMember(chatId, c!.client.clientId);
    await until(
      'ben sees the removal',
      () => notices(b!.client.history(chatId), 'member-removed').length === 1,
    );
    expect(notices(b!.client.history(chatId), 'member-removed')[0]).toMatchObject({
      from: c!.client.clientId,
      text: 'cat was removed from the chat.',
    });
    expect(notices(a!.client.history(chatId), 'member-removed')).toHaveLength(1);

    await d!.client.leaveChat(chatId);
    await until('ben sees dan leave', () => notices(b!.client.history(chatId), 'member-left').length === 1);
    expect(notices(b!.client.history(chatId), 'member-left')[0]!.text).toBe('dan left the chat.');
    expect(notices(a!.client.history(chatId), 'member-left')).toHaveLength(1);
    expect(b!.client.chats()[0]!.unread).toBe(0);
  });

  it('a malicious admin announcing a contact’s id with other keys: key-changed, warning, notices, verified cleared', async () => {
    const a = await newDevice('alice');
    const b = await newDevice('bob');
    const m = await newDevice('mallory');
    const alice = a.client;
    const bob = b.client;
    const chatA = await join(alice, bob);
    await alice.markVerified(bob.clientId, true);
    const before = alice.contact(bob.clientId)!;
    const numberBefore = await alice.safetyNumber(bob.clientId);

    // Mallory runs chat B with alice in it, then (with the core API, as a modified client would) announces a new
    // epoch that adds a member with bob's client id and keys of her own making.
    const chatB = await join(m.client, alice);
    await m.client.close();
    const malloryDevice = await loadDevice(m.store, provider);
    const malloryState = await deserializeChat(
      provider,
      ((await readJson(m.store, `chat.${chatB}.json`)) as { state: unknown }).state,
    );
    const fake = publicIdentity(await createDeviceIdentity(provider));
    const forged = await buildEpochChange(provider, malloryState, malloryDevice.identity, {
      add: [{ ...fake, id: bob.clientId }],
      names: { [bob.clientId]: 'bob' },
      now: Date.now(),
    });
    const toAlice = forged.announcements.find((x) => x.to.id === alice.clientId)!;

    const warnings = record(alice, 'warning');
    const contactEvents = record(alice, 'contact');
    const noticeEvents = record(alice, 'notice');
    await publishTo(alice.clientId, toAlice.wire);
    await until('alice warns', () => warnings.some((w) => w.code === 'key-changed'));
    expect(warnings.find((w) => w.code === 'key-changed')).toMatchObject({
      chatId: chatB,
      from: bob.clientId,
    });
    expect(contactEvents).toContainEqual({ clientId: bob.clientId, change: 'key-changed' });
    const changed = alice.contact(bob.clientId)!;
    expect(changed).toMatchObject({
      verified: false,
      keyChanged: true,
      previousFingerprint: before.fingerprint,
      fingerprint: await fingerprint(provider, { ...fake, id: bob.clientId }),
    });
    // Both chats the id is in say so, where the user will look.
    for (const chatId of [chatA, chatB]) {
      const shown = notices(alice.history(chatId), 'key-changed');
      expect(shown).toHaveLength(1);
      expect(shown[0]).toMatchObject({ from: bob.clientId });
      expect(shown[0]!.text).toContain('bob');
    }
    expect(noticeEvents.filter((n) => n.notice?.code === 'key-changed')).toHaveLength(2);
    // The safety number is of the newest keys: it no longer matches what the real bob computes.
    const numberAfter = await alice.safetyNumber(bob.clientId);
    expect(numberAfter).not.toBe(numberBefore);
    expect(numberAfter).not.toBe(await bob.safetyNumber(alice.clientId));

    // Verifying with the number the user compared before the change is refused: those are not the keys now.
    await expect(
      alice.markVerified(bob.clientId, true, { safetyNumber: numberBefore }),
    ).rejects.toMatchObject({
      code: 'not-allowed',
    });
    expect(alice.contact(bob.clientId)).toMatchObject({ keyChanged: true, verified: false });

    // The real bob's messages are still shown, but marked, never silently trusted as verified.
    const got = record(alice, 'message');
    await bob.sendText(chatA, 'it is really me');
    await until('alice receives', () => got.length === 1);
    expect(got[0]).toMatchObject({ text: 'it is really me', senderTrust: 'key-changed' });
    expect(alice.history(chatA).at(-1)).toMatchObject({ senderTrust: 'key-changed' });

    // Accepting the forged keys does not end a live conflict: chat A still lists bob with his real keys.
    await alice.acknowledgeKeyChange(bob.clientId);
    expect(alice.contact(bob.clientId)).toMatchObject({ keyChanged: true, verified: false });
    expect(alice.contact(bob.clientId)!.fingerprint).toBe(before.fingerprint);

    // All of it survives a restart.
    await alice.close();
    const aliceAgain = await openClient(a.store);
    expect(aliceAgain.contact(bob.clientId)).toMatchObject({ keyChanged: true, verified: false });
    expect(notices(aliceAgain.history(chatA), 'key-changed').length).toBeGreaterThanOrEqual(1);
  });

  it('a later epoch of the same chat re-adding a removed member with other keys is a key change', async () => {
    const a = await newDevice('alice');
    const b = await newDevice('bob');
    const m = await newDevice('mallory');
    const chatId = await join(m.client, a.client);
    await join(m.client, b.client, chatId);
    await until('alice knows bob', () => a.client.contact(b.client.clientId) !== undefined);
    await m.client.close();
    const malloryDevice = await loadDevice(m.store, provider);
    const state = await deserializeChat(
      provider,
      ((await readJson(m.store, `chat.${chatId}.json`)) as { state: unknown }).state,
    );
    const removed = await buildEpochChange(provider, state, malloryDevice.identity, {
      remove: [b.client.clientId],
      now: Date.now(),
    });
    const fake = { ...publicIdentity(await createDeviceIdentity(provider)), id: b.client.clientId };
    const readded = await buildEpochChange(provider, removed.newState, malloryDevice.identity, {
      add: [fake],
      now: Date.now(),
    });
    const warnings = record(a.client, 'warning');
    const attacker = await rawPublisher();
    for (const change of [removed, readded]) {
      const wire = change.announcements.find((x) => x.to.id === a.client.clientId)!.wire;
      await attacker.client.publishAsync(`chats/${a.client.clientId}/messages`, Buffer.from(wire), {
        qos: 1,
      });
    }
    await until('alice warns', () => warnings.some((w) => w.code === 'key-changed'));
    expect(a.client.contact(b.client.clientId)).toMatchObject({ keyChanged: true, verified: false });
    const codes = notices(a.client.history(chatId)).map((n) => n.notice!.code);
    expect(codes.slice(-3)).toEqual(['member-removed', 'member-added', 'key-changed']);
  });

  it('an announcement changing a member’s keys inside one chat is refused and shown; the contact keeps its keys', async () => {
    const a = await newDevice('alice');
    const b = await newDevice('bob');
    const m = await newDevice('mallory');
    const chatId = await join(m.client, a.client);
    await join(m.client, b.client, chatId);
    await until('alice sees three members', () => a.client.chats()[0]?.members.length === 3);
    const pinned = a.client.contact(b.client.clientId)!;
    await m.client.close();
    const malloryDevice = await loadDevice(m.store, provider);
    const state = await deserializeChat(
      provider,
      ((await readJson(m.store, `chat.${chatId}.json`)) as { state: unknown }).state,
    );
    // buildEpochChange refuses this, so the forged announcement is written by hand.
    const fake = publicIdentity(await createDeviceIdentity(provider));
    const members = state.current.members.map((x) =>
      x.id === b.client.clientId ? { ...fake, id: x.id } : x,
    );
    const content: EpochContent = {
      v: 1,
      kind: 'epoch',
      chat: chatId,
      epoch: state.current.number + 1,
      from: malloryDevice.identity.clientId,
      id: randomId(16),
      seq: 0,
      ts: Date.now(),
      to: a.client.clientId,
      key: randomId(32),
      members: members.map(publicIdentityToJson),
      admins: state.current.admins,
      creator: state.creator,
    };
    const aliceAgree = state.current.members.find((x) => x.id === a.client.clientId)!.agree;
    const wire = await sealDirectEnvelope(
      provider,
      aliceAgree,
      encodeContent(content),
      malloryDevice.identity.signing,
    );
    const warnings = record(a.client, 'warning');
    await publishTo(a.client.clientId, wire);
    await until('alice refuses it', () => warnings.length >= 1);
    expect(warnings[0]).toMatchObject({
      code: 'unverified-sender',
      chatId,
      from: malloryDevice.identity.clientId,
    });
    const shown = notices(a.client.history(chatId), 'unverified-sender');
    expect(shown).toHaveLength(1);
    expect(shown[0]!.notice!.detail).toContain('changes the keys');
    expect(a.client.chats()[0]!.epoch).toBe(state.current.number);
    expect(a.client.contact(b.client.clientId)).toEqual(pinned);
  });

  it('a tampered ciphertext leaves a tampered notice in the chat and loses nothing; a replay leaves none', async () => {
    const a = await newDevice('alice');
    const b = await newDevice('bob');
    const chatId = await join(a.client, b.client);
    const bob = b.client;
    // Take the wire bytes of a real message from alice's outbox while she is offline.
    await a.client.close();
    const alice = await openClient(a.store);
    await alice.sendText(chatId, 'one');
    const outbox = (await readJson(a.store, `chat.${chatId}.json`)) as {
      outbox: Array<{ targets: Array<{ wire: string }> }>;
    };
    const wire = fromB64u(outbox.outbox.at(-1)!.targets[0]!.wire, 'wire');
    const got = record(bob, 'message');
    const warnings = record(bob, 'warning');
    await alice.connect();
    await until('one arrives', () => got.length === 1);

    const tampered = wire.slice();
    tampered[tampered.length - 20]! ^= 1;
    await publishTo(bob.clientId, tampered);
    await until('bob warns', () => warnings.length === 1);
    expect(warnings[0]).toMatchObject({ code: 'tampered', chatId });
    const history = bob.history(chatId);
    expect(texts(history)).toEqual(['one']);
    const shown = notices(history, 'tampered');
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ chatId, from: '', state: 'received', kind: 'notice' });
    expect(bob.chats()[0]).toMatchObject({ unread: 1, lastMessage: { text: 'one' } });

    // The same bytes again are a replay: a warning, no notice.
    await publishTo(bob.clientId, wire);
    await until('replay warned', () => warnings.length === 2);
    expect(warnings[1]!.code).toBe('replay');
    expect(notices(bob.history(chatId))).toHaveLength(1);

    // Notice ids are never sent as read receipts, and the chat goes on.
    await bob.markRead(
      chatId,
      bob.history(chatId).map((m) => m.id),
    );
    await alice.sendText(chatId, 'two');
    await until('two arrives', () => got.length === 2);
    expect(texts(bob.history(chatId))).toEqual(['one', 'two']);
    await until(
      'alice sees one read',
      () => alice.history(chatId).find((m) => m.text === 'one')?.state === 'read',
    );
  });
});
