// The contact book (src/client/contacts.ts): trust on first use, key changes, verification, persistence; and the
// optional `names` of epoch announcements (src/core/content.ts, chat.ts; docs/PROTOCOL.md §5) that carry them.
import { describe, expect, it } from 'vitest';
import { ContactBook, CONTACTS_RECORD } from '../../src/client/contacts.ts';
import { MemoryStore, readJson } from '../../src/client/storage.ts';
import { toB64u } from '../../src/core/bytes.ts';
import {
  acceptAnnouncement,
  buildEpochChange,
  createChat,
  handleJoinRequest,
  joinRequest,
  openDirect,
} from '../../src/core/chat.ts';
import { decodeContent, encodeContent, parseContent, type EpochContent } from '../../src/core/content.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import {
  createDeviceIdentity,
  fingerprint,
  publicIdentity,
  publicIdentityToJson,
  type PublicIdentity,
} from '../../src/core/identity.ts';
import { createInvite, InviteBook, parseInviteLink } from '../../src/core/invite.ts';

const provider = defaultProvider();
const T0 = 1_767_225_600_000;

async function device(): Promise<PublicIdentity> {
  return publicIdentity(await createDeviceIdentity(provider));
}

/** Another key set under the same client id: what a forged announcement would list. */
async function impostor(of: PublicIdentity): Promise<PublicIdentity> {
  return { ...(await device()), id: of.id };
}

describe('ContactBook', () => {
  it('pins the first keys, flags other keys once per key set, and never names this device', async () => {
    const store = new MemoryStore();
    const me = await device();
    const bob = await device();
    const book = await ContactBook.load(store, provider, me.id);
    expect(await book.observe(me, T0)).toBeUndefined();
    expect(await book.observe(bob, T0, 'bob')).toBe('added');
    expect(await book.observe(bob, T0 + 1, 'other name')).toBeUndefined();
    expect(book.get(bob.id)).toEqual({
      clientId: bob.id,
      displayName: 'bob',
      fingerprint: await fingerprint(provider, bob),
      verified: false,
      keyChanged: false,
      firstSeen: T0,
    });
    expect(book.trustOf(bob.id)).toBe('unverified');
    expect(book.setVerified(bob.id, true)).toBe(true);
    expect(book.trustOf(bob.id)).toBe('verified');

    const fake = await impostor(bob);
    expect(await book.observe(fake, T0 + 5)).toBe('key-changed');
    expect(await book.observe(fake, T0 + 6)).toBeUndefined();
    expect(book.get(bob.id)).toMatchObject({
      verified: false,
      keyChanged: true,
      fingerprint: await fingerprint(provider, fake),
      previousFingerprint: await fingerprint(provider, bob),
      keyChangedAt: T0 + 5,
    });
    expect(book.trustOf(bob.id)).toBe('key-changed');
    expect(book.newestKeys(bob.id)?.sign).toEqual(fake.sign);
    // A third key set is a new change again.
    expect(await book.observe(await impostor(bob), T0 + 7)).toBe('key-changed');
    expect(book.list().map((c) => c.clientId)).toEqual([bob.id]);
  });

  it('verifying a changed contact accepts the newest keys; acknowledging accepts them unverified', async () => {
    const me = await device();
    const bob = await device();
    const carol = await device();
    const book = await ContactBook.load(new MemoryStore(), provider, me.id);
    await book.observe(bob, T0);
    await book.observe(carol, T0);
    const fakeBob = await impostor(bob);
    const fakeCarol = await impostor(carol);
    await book.observe(fakeBob, T0 + 1);
    await book.observe(fakeCarol, T0 + 1);

    book.setVerified(bob.id, true);
    expect(book.get(bob.id)).toMatchObject({ verified: true, keyChanged: false });
    expect(book.get(bob.id)!.fingerprint).toBe(await fingerprint(provider, fakeBob));
    expect(await book.observe(fakeBob, T0 + 2)).toBeUndefined();
    // The keys given up are now the different ones.
    expect(await book.observe(bob, T0 + 3)).toBe('key-changed');

    book.acknowledge(carol.id);
    expect(book.get(carol.id)).toMatchObject({ verified: false, keyChanged: false });
    expect(book.get(carol.id)!.previousFingerprint).toBeUndefined();
    expect(await book.observe(fakeCarol, T0 + 4)).toBeUndefined();
    expect(book.setVerified('nobody', true)).toBe(false);
    expect(book.acknowledge('nobody')).toBe(false);
  });

  it('persists through the store only when something changed', async () => {
    const store = new MemoryStore();
    const me = await device();
    const bob = await device();
    const book = await ContactBook.load(store, provider, me.id);
    await book.saveIfChanged();
    expect(await store.read(CONTACTS_RECORD)).toBeUndefined();
    await book.observe(bob, T0, 'bob');
    book.setVerified(bob.id, true);
    await book.saveIfChanged();
    expect(await readJson(store, CONTACTS_RECORD)).toMatchObject({ v: 1, contacts: [{ clientId: bob.id }] });
    const again = await ContactBook.load(store, provider, me.id);
    expect(again.get(bob.id)).toMatchObject({ displayName: 'bob', verified: true, keyChanged: false });
    await again.observe(await impostor(bob), T0 + 1);
    await again.save();
    expect((await ContactBook.load(store, provider, me.id)).get(bob.id)).toMatchObject({
      verified: false,
      keyChanged: true,
    });
  });

  it('a moved identity inherits a verification, never across a key change', async () => {
    const me = await device();
    const [old, next, other, otherNext] = await Promise.all([device(), device(), device(), device()]);
    const book = await ContactBook.load(new MemoryStore(), provider, me.id);
    for (const d of [old, next, other, otherNext]) await book.observe(d, T0);
    book.setVerified(old.id, true);
    expect(book.inheritVerification(old.id, next.id)).toBe(true);
    expect(book.get(next.id)?.verified).toBe(true);
    book.setVerified(other.id, true);
    await book.observe(await impostor(other), T0 + 1);
    expect(book.inheritVerification(other.id, otherNext.id)).toBe(false);
    expect(book.get(otherNext.id)?.verified).toBe(false);
  });
});

describe('display names in epoch announcements', () => {
  it('the joiner learns the inviter’s and earlier members’ names; only members, only valid names', async () => {
    const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
    const chat = await createChat(provider, alice!, { now: T0 });
    const withBob = await buildEpochChange(provider, chat, alice!, {
      add: [publicIdentity(bob!)],
      names: {
        [alice!.clientId]: 'alice',
        [bob!.clientId]: 'bob',
        [carol!.clientId]: 'not a member',
        x: 'y',
      },
      now: T0,
    });
    const opened = await openDirect(provider, bob!, withBob.announcements[0]!.wire);
    expect((opened.content as EpochContent).names).toEqual({
      [alice!.clientId]: 'alice',
      [bob!.clientId]: 'bob',
    });

    // The join path: the inviter's names plus the joiner's own name from its join request.
    const book = new InviteBook();
    const created = await createInvite(provider, {
      inviter: publicIdentity(alice!),
      inbox: alice!.clientId,
      server: 'https://hush.example',
    });
    book.issue({ inviteId: created.inviteId, secret: created.secret, chat: chat.id, uses: 2 });
    const request = await joinRequest(provider, carol!, parseInviteLink(created.link), 'carol', T0);
    const outcome = await handleJoinRequest(provider, withBob.newState, alice!, book, request, T0, {
      names: { [alice!.clientId]: 'alice', [bob!.clientId]: 'x'.repeat(101) },
    });
    if (!outcome.accepted) throw new Error(outcome.reason);
    const toCarol = outcome.announcements.find((a) => a.to.id === carol!.clientId)!;
    const forCarol = await openDirect(provider, carol!, toCarol.wire);
    expect((forCarol.content as EpochContent).names).toEqual({
      [alice!.clientId]: 'alice',
      [carol!.clientId]: 'carol',
    });
    // The field does not change acceptance: the joiner installs the epoch as before.
    const carolState = await acceptAnnouncement(provider, undefined, carol!, forCarol, {
      expectedSigner: publicIdentity(alice!),
      now: T0,
    });
    expect(carolState.current.members.map((m) => m.id)).toContain(bob!.clientId);
  });

  it('content: names are optional; a name for a non-member, a bad id or a too long name is bad-content', async () => {
    const [a, b] = await Promise.all([device(), device()]);
    const base: EpochContent = {
      v: 1,
      kind: 'epoch',
      chat: toB64u(new Uint8Array(16)),
      epoch: 2,
      from: a.id,
      id: toB64u(new Uint8Array(16).fill(1)),
      seq: 0,
      ts: T0,
      to: b.id,
      key: toB64u(new Uint8Array(32)),
      members: [publicIdentityToJson(a), publicIdentityToJson(b)],
      admins: [a.id],
      creator: a.id,
    };
    expect(decodeContent(encodeContent(base))).toEqual(base);
    const named = { ...base, names: { [a.id]: 'ann', [b.id]: '🙂'.repeat(100) } };
    expect(decodeContent(encodeContent(named))).toEqual(named);
    const outsider = (await device()).id;
    for (const names of [
      { [outsider]: 'who' },
      { 'not-an-id': 'x' },
      { [a.id]: '' },
      { [a.id]: 'x'.repeat(101) },
      { [a.id]: 5 },
    ]) {
      let error: unknown;
      try {
        parseContent({ ...base, names });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HushProtocolError);
      expect((error as HushProtocolError).code).toBe('bad-content');
    }
  });
});
