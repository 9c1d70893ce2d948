// The chat state machine (src/core/chat.ts, docs/PROTOCOL.md §2, §3, §5–§7): full scenarios between real devices
// on the WebCrypto provider, then fast-check properties for hostile input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toB64u, utf8 } from '../../src/core/bytes.ts';
import {
  acceptAnnouncement,
  buildEpochChange,
  createChat,
  deserializeChat,
  GRACE_MS,
  handleJoinRequest,
  handlesLeave,
  joinRequest,
  leave,
  openJoinRefused,
  openMessage,
  sealMessage,
  serializeChat,
  type ChatState,
} from '../../src/core/chat.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { openChatEnvelope, sealChatEnvelope } from '../../src/core/envelope.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import { createDeviceIdentity, publicIdentity, type DeviceIdentity } from '../../src/core/identity.ts';
import { createInvite, InviteBook, parseInviteLink } from '../../src/core/invite.ts';

const provider = defaultProvider();
const T0 = 1_767_225_600_000;
const SERVER = 'https://hush.example';

/** Expects `promise` to reject with a HushProtocolError of `code`. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HushProtocolError);
  expect((error as HushProtocolError).code).toBe(code);
}

/** Seals arbitrary content bytes under a chat's current epoch key, bypassing sealMessage's checks. */
function sealRaw(state: ChatState, content: object, signer?: DeviceIdentity): Promise<Uint8Array> {
  return sealChatEnvelope(provider, state.current.keys, utf8(JSON.stringify(content)), signer?.signing);
}

/** A valid-looking content object for `state`'s current epoch, from `from`, with `extra` fields. */
function rawContent(state: ChatState, from: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    v: 1,
    kind: 'text',
    text: 'forged',
    chat: state.id,
    epoch: state.current.number,
    from,
    id: toB64u(crypto.getRandomValues(new Uint8Array(16))),
    seq: 1,
    ts: T0,
    ...extra,
  };
}

/** Alice creates a chat and Bob joins it through a single-use invite: the 1:1 setup. */
async function oneToOne() {
  const [alice, bob] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
  const chat = await createChat(provider, alice, { now: T0 });
  const book = new InviteBook();
  const created = await createInvite(provider, {
    inviter: publicIdentity(alice),
    inbox: alice.clientId,
    server: SERVER,
  });
  book.issue({ inviteId: created.inviteId, secret: created.secret, chat: chat.id });
  const invite = parseInviteLink(created.link);
  const request = await joinRequest(provider, bob, invite, 'Bob', T0);
  const outcome = await handleJoinRequest(provider, chat, alice, book, request, T0);
  if (!outcome.accepted) throw new Error(`join refused: ${outcome.reason}`);
  expect(outcome.announcements.map((a) => a.to.id)).toEqual([bob.clientId]);
  const bobState = await acceptAnnouncement(provider, undefined, bob, outcome.announcements[0]!.wire, {
    expectedSigner: invite.inviter,
    now: T0,
  });
  return { alice, bob, aliceState: outcome.newState, bobState, book, invite, request, created, chat };
}

/** Alice (creator, admin) with Bob and Carol: a group of three at epoch 2. */
async function groupOfThree() {
  const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
  const chat = await createChat(provider, alice!, { name: 'team', now: T0 });
  const change = await buildEpochChange(provider, chat, alice!, {
    add: [publicIdentity(bob!), publicIdentity(carol!)],
    now: T0,
  });
  const [toBob, toCarol] = change.announcements;
  const bobState = await acceptAnnouncement(provider, undefined, bob!, toBob!.wire, {
    expectedSigner: publicIdentity(alice!),
    now: T0,
  });
  const carolState = await acceptAnnouncement(provider, undefined, carol!, toCarol!.wire, {
    expectedSigner: publicIdentity(alice!),
    now: T0,
  });
  return {
    alice: alice!,
    bob: bob!,
    carol: carol!,
    aliceState: change.newState,
    bobState,
    carolState,
    announcements: change.announcements,
  };
}

describe('a 1:1 chat', () => {
  it('is created by invite and join, and both sides can write to each other', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    expect(bobState.id).toBe(aliceState.id);
    expect(bobState.current.number).toBe(2);
    expect(Object.keys(bobState.members).sort()).toEqual([alice.clientId, bob.clientId].sort());

    const hello = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'hi Bob' }, T0 + 1);
    const atBob = await openMessage(provider, bobState, bob, hello.wire, T0 + 2);
    expect(atBob.content).toMatchObject({ kind: 'text', text: 'hi Bob', from: alice.clientId, seq: 1 });
    expect(atBob.protection).toBe('verified');
    expect(atBob.warnings).toEqual([]);

    const reply = await sealMessage(provider, atBob.state, bob, { kind: 'text', text: 'hi Alice' }, T0 + 3);
    const atAlice = await openMessage(provider, hello.state, alice, reply.wire, T0 + 4);
    expect(atAlice.content).toMatchObject({ kind: 'text', text: 'hi Alice', from: bob.clientId });
    expect(atAlice.sender.id).toBe(bob.clientId);
  });

  it('sends unsigned envelopes, so the messages stay deniable', async () => {
    const { alice, aliceState } = await oneToOne();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'deniable' }, T0);
    const raw = await openChatEnvelope(provider, aliceState.current.keys, sent.wire);
    expect(raw.signature).toBeUndefined();
  });

  it('drops my own message reflected back to me and rejects one I never sent', async () => {
    const { alice, aliceState, bobState } = await oneToOne();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'mine' }, T0);
    await rejectsWith(openMessage(provider, sent.state, alice, sent.wire, T0), 'duplicate');
    // Bob, who holds the key, forges a message "from Alice".
    const forged = await sealRaw(bobState, rawContent(bobState, alice.clientId, {}));
    await rejectsWith(openMessage(provider, sent.state, alice, forged, T0), 'not-authorized');
  });

  it('refuses a second join through a single-use invite with a signed join-refused answer', async () => {
    const { alice, aliceState, book, invite } = await oneToOne();
    const eve = await createDeviceIdentity(provider);
    const again = await joinRequest(provider, eve, invite, undefined, T0);
    const outcome = await handleJoinRequest(provider, aliceState, alice, book, again, T0);
    expect(outcome.accepted).toBe(false);
    if (outcome.accepted) return;
    expect(outcome.code).toBe('invite-used');
    const refusal = await openJoinRefused(provider, eve, outcome.wire, publicIdentity(alice));
    expect(refusal.reason).toMatch(/used/);
  });

  it('refuses a join request whose proof was made with another secret', async () => {
    const { alice, aliceState, book, invite } = await oneToOne();
    const other = await createInvite(provider, {
      inviter: invite.inviter,
      inbox: alice.clientId,
      server: SERVER,
    });
    book.issue({ inviteId: other.inviteId, secret: other.secret, chat: aliceState.id });
    const eve = await createDeviceIdentity(provider);
    // Knows the invite id (not the secret): proves with a guessed secret.
    const guessed = { ...other.invite, secret: crypto.getRandomValues(new Uint8Array(32)) };
    const request = await joinRequest(provider, eve, guessed, undefined, T0);
    const outcome = await handleJoinRequest(provider, aliceState, alice, book, request, T0);
    expect(outcome.accepted).toBe(false);
    expect(book.check(other.inviteId, T0).ok).toBe(true);
  });
});

describe('a group of three', () => {
  it('signs every message and each member opens the others', async () => {
    const { alice, bob, carol, aliceState, bobState, carolState } = await groupOfThree();
    expect(bobState.name).toBe('team');
    const sent = await sealMessage(provider, carolState, carol, { kind: 'text', text: 'hello all' }, T0);
    const raw = await openChatEnvelope(provider, carolState.current.keys, sent.wire);
    expect(raw.signature).toBeInstanceOf(Uint8Array);
    const atAlice = await openMessage(provider, aliceState, alice, sent.wire, T0);
    const atBob = await openMessage(provider, bobState, bob, sent.wire, T0);
    expect(atAlice.content).toMatchObject({ text: 'hello all', from: carol.clientId });
    expect(atBob.protection).toBe('verified');
  });

  it('rejects an unsigned message', async () => {
    const { bob, carol, bobState, carolState } = await groupOfThree();
    const unsigned = await sealRaw(carolState, rawContent(carolState, carol.clientId, {}));
    await rejectsWith(openMessage(provider, bobState, bob, unsigned, T0), 'unsigned');
  });

  it('rejects a message signed by a member other than the one it names as sender', async () => {
    const { alice, bob, carol, bobState, carolState } = await groupOfThree();
    const forged = await sealRaw(carolState, rawContent(carolState, alice.clientId, {}), carol);
    await rejectsWith(openMessage(provider, bobState, bob, forged, T0), 'bad-signature');
  });

  it('rejects a message from a sender who is not a member', async () => {
    const { bob, bobState } = await groupOfThree();
    const dave = await createDeviceIdentity(provider);
    const forged = await sealRaw(bobState, rawContent(bobState, dave.clientId, {}), dave);
    await rejectsWith(openMessage(provider, bobState, bob, forged, T0), 'not-a-member');
  });

  it('lets a member leave: the admin with the smallest id starts an epoch without them', async () => {
    const { alice, bob, carol, aliceState, bobState } = await groupOfThree();
    const left = await leave(provider, bobState, bob, T0);
    expect(left.announcements).toEqual([]);
    const opened = await openMessage(provider, aliceState, alice, left.wire, T0);
    expect(opened.content.kind).toBe('leave');
    expect(handlesLeave(opened.state, alice, bob.clientId)).toBe(true);
    const change = await buildEpochChange(provider, opened.state, alice, { remove: [bob.clientId], now: T0 });
    expect(change.announcements.map((a) => a.to.id)).toEqual([carol.clientId]);
  });

  it('lets the creator leave: it only says so, and the smallest remaining member starts the next epoch as admin', async () => {
    const { alice, bob, carol, aliceState, bobState, carolState } = await groupOfThree();
    const left = await leave(provider, aliceState, alice, T0);
    // The leaver announces nothing: it must never hold the key of an epoch it is not in.
    expect(left.announcements).toEqual([]);
    const bobSeen = (await openMessage(provider, bobState, bob, left.wire, T0)).state;
    const carolSeen = (await openMessage(provider, carolState, carol, left.wire, T0)).state;
    const [successor, successorState, other, otherState] =
      bob.clientId < carol.clientId
        ? ([bob, bobSeen, carol, carolSeen] as const)
        : ([carol, carolSeen, bob, bobSeen] as const);
    expect(handlesLeave(successorState, successor, alice.clientId)).toBe(true);
    expect(handlesLeave(otherState, other, alice.clientId)).toBe(false);
    // The successor may only remove who left, not add anyone.
    await expect(
      buildEpochChange(provider, successorState, successor, { remove: [other.clientId], now: T0 }),
    ).rejects.toMatchObject({ code: 'not-authorized' });
    const change = await buildEpochChange(provider, successorState, successor, {
      remove: [alice.clientId],
      now: T0,
    });
    const atOther = await acceptAnnouncement(provider, otherState, other, change.announcements[0]!.wire, {
      now: T0,
    });
    expect(atOther.admins).toEqual([successor.clientId]);
    expect(Object.keys(atOther.members)).not.toContain(alice.clientId);
    // Alice's leave message cannot be followed by an announcement of her own.
    expect(atOther.current.number).toBe(aliceState.current.number + 1);
  });
});

describe('epoch changes', () => {
  it('shut a removed member out: it gets no announcement and cannot open messages of the new epoch', async () => {
    const { alice, bob, carol, aliceState, bobState, carolState } = await groupOfThree();
    const change = await buildEpochChange(provider, aliceState, alice, {
      remove: [carol.clientId],
      now: T0 + 10,
    });
    expect(change.announcements.map((a) => a.to.id)).toEqual([bob.clientId]);
    const bobAt3 = await acceptAnnouncement(provider, bobState, bob, change.announcements[0]!.wire, {
      now: T0 + 10,
    });
    expect(bobAt3.current.number).toBe(3);
    const sent = await sealMessage(
      provider,
      change.newState,
      alice,
      { kind: 'text', text: 'without Carol' },
      T0 + 11,
    );
    await rejectsWith(openMessage(provider, carolState, carol, sent.wire, T0 + 11), 'unknown-key');
    const atBob = await openMessage(provider, bobAt3, bob, sent.wire, T0 + 11);
    expect(atBob.content).toMatchObject({ text: 'without Carol' });
    // Two members are left: the epoch is 1:1 now, so messages are no longer signed.
    expect((await openChatEnvelope(provider, bobAt3.current.keys, sent.wire)).signature).toBeUndefined();
  });

  it('reject a replayed old announcement as stale, so a removed member cannot pull the chat back', async () => {
    const { alice, bob, carol, aliceState, bobState, announcements } = await groupOfThree();
    const change = await buildEpochChange(provider, aliceState, alice, { remove: [carol.clientId], now: T0 });
    const bobAt3 = await acceptAnnouncement(provider, bobState, bob, change.announcements[0]!.wire, {
      now: T0,
    });
    // Carol replays Bob's epoch-2 announcement (whose key she still holds).
    await rejectsWith(
      acceptAnnouncement(provider, bobAt3, bob, announcements[0]!.wire, { now: T0 }),
      'stale-epoch',
    );
    // The same announcement twice is stale too.
    await rejectsWith(
      acceptAnnouncement(provider, bobAt3, bob, change.announcements[0]!.wire, { now: T0 }),
      'stale-epoch',
    );
  });

  it('reject an announcement from a member who is not an admin', async () => {
    const { alice, bob, aliceState, bobState } = await groupOfThree();
    await rejectsWith(buildEpochChange(provider, bobState, bob, { now: T0 }), 'not-authorized');
    // Bob forges admin rights in his own copy of the state and announces anyway.
    const forgedState = {
      ...bobState,
      current: { ...bobState.current, admins: [alice.clientId, bob.clientId] },
    };
    const forged = await buildEpochChange(provider, forgedState, bob, { now: T0 });
    const toAlice = forged.announcements.find((a) => a.to.id === alice.clientId)!;
    await rejectsWith(
      acceptAnnouncement(provider, aliceState, alice, toAlice.wire, { now: T0 }),
      'not-authorized',
    );
  });

  it('reject an announcement addressed to another device', async () => {
    const { bob, bobState, announcements } = await groupOfThree();
    // Carol's own announcement is sealed to her key: Bob cannot even open it.
    await rejectsWith(
      acceptAnnouncement(provider, bobState, bob, announcements[1]!.wire, { now: T0 }),
      'decrypt-failed',
    );
  });

  it('reject an announcement for a chat being joined that is not from the expected inviter', async () => {
    const { announcements, bob } = await groupOfThree();
    const mallory = await createDeviceIdentity(provider);
    await rejectsWith(
      acceptAnnouncement(provider, undefined, bob, announcements[0]!.wire, {
        expectedSigner: publicIdentity(mallory),
        now: T0,
      }),
      'not-authorized',
    );
    await rejectsWith(
      acceptAnnouncement(provider, undefined, bob, announcements[0]!.wire, { now: T0 }),
      'not-authorized',
    );
  });

  it('accept messages under the previous epoch for 120 s after the switch, and reject them after', async () => {
    const { alice, bob, carol, aliceState, bobState, carolState } = await groupOfThree();
    const early = await sealMessage(provider, carolState, carol, { kind: 'text', text: 'in flight 1' }, T0);
    const late = await sealMessage(provider, early.state, carol, { kind: 'text', text: 'in flight 2' }, T0);
    const switchAt = T0 + 1000;
    const change = await buildEpochChange(provider, aliceState, alice, {
      remove: [carol.clientId],
      now: switchAt,
    });
    const bobAt3 = await acceptAnnouncement(provider, bobState, bob, change.announcements[0]!.wire, {
      now: switchAt,
    });
    const within = await openMessage(provider, bobAt3, bob, early.wire, switchAt + GRACE_MS);
    expect(within.epoch).toBe(2);
    await rejectsWith(
      openMessage(provider, within.state, bob, late.wire, switchAt + GRACE_MS + 1),
      'old-epoch',
    );
  });

  it('reject messages of an epoch older than the previous one as old-epoch', async () => {
    const { alice, bob, aliceState, bobState } = await groupOfThree();
    const old = await sealMessage(provider, bobState, bob, { kind: 'text', text: 'epoch 2' }, T0);
    let state = aliceState;
    for (let i = 0; i < 2; i++)
      state = (await buildEpochChange(provider, state, alice, { now: T0 })).newState;
    expect(state.current.number).toBe(4);
    await rejectsWith(openMessage(provider, state, alice, old.wire, T0), 'old-epoch');
  });
});

describe('replay and order', () => {
  it('drops a duplicate message', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'once' }, T0);
    const first = await openMessage(provider, bobState, bob, sent.wire, T0);
    await rejectsWith(openMessage(provider, first.state, bob, sent.wire, T0), 'duplicate');
  });

  it('surfaces a sequence gap and then the late message as a regression', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const m1 = await sealMessage(provider, aliceState, alice, { kind: 'text', text: '1' }, T0);
    const m2 = await sealMessage(provider, m1.state, alice, { kind: 'text', text: '2' }, T0);
    const m3 = await sealMessage(provider, m2.state, alice, { kind: 'text', text: '3' }, T0);
    const o1 = await openMessage(provider, bobState, bob, m1.wire, T0);
    expect(o1.warnings).toEqual([]);
    const o3 = await openMessage(provider, o1.state, bob, m3.wire, T0);
    expect(o3.warnings).toEqual(['gap']);
    const o2 = await openMessage(provider, o3.state, bob, m2.wire, T0);
    expect(o2.warnings).toEqual(['regression']);
    expect(o2.state.seqs[alice.clientId]).toBe(3);
  });

  it('keeps typing and presence outside the sequence, so a lost one is not reported as a gap', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const t1 = await sealMessage(provider, aliceState, alice, { kind: 'typing', active: true }, T0);
    const p1 = await sealMessage(provider, t1.state, alice, { kind: 'presence', state: 'away' }, T0);
    const m1 = await sealMessage(provider, p1.state, alice, { kind: 'text', text: '1' }, T0);
    const m2 = await sealMessage(provider, m1.state, alice, { kind: 'text', text: '2' }, T0);
    expect([t1.content.seq, p1.content.seq, m1.content.seq, m2.content.seq]).toEqual([0, 0, 1, 2]);
    // The typing and presence messages are lost; the texts arrive without a gap warning.
    const o1 = await openMessage(provider, bobState, bob, m1.wire, T0);
    const o2 = await openMessage(provider, o1.state, bob, m2.wire, T0);
    expect([o1.warnings, o2.warnings]).toEqual([[], []]);
  });
});

describe('hostile messages', () => {
  it('rejects an unknown kind instead of ignoring it', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const poll = await sealRaw(
      aliceState,
      rawContent(aliceState, alice.clientId, { kind: 'poll', text: undefined }),
    );
    await rejectsWith(openMessage(provider, bobState, bob, poll, T0), 'unknown-kind');
  });

  it('rejects a message that names another chat', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const other = toB64u(crypto.getRandomValues(new Uint8Array(16)));
    const wrong = await sealRaw(aliceState, rawContent(aliceState, alice.clientId, { chat: other }));
    await rejectsWith(openMessage(provider, bobState, bob, wrong, T0), 'wrong-chat');
  });

  it('rejects tampered ciphertext and a tampered key id', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'intact' }, T0);
    const body = sent.wire.slice();
    body[40]! ^= 0x01;
    await rejectsWith(openMessage(provider, bobState, bob, body, T0), 'decrypt-failed');
    const header = sent.wire.slice();
    header[3]! ^= 0x80;
    await rejectsWith(openMessage(provider, bobState, bob, header, T0), 'unknown-key');
  });
});

describe('storage', () => {
  it('round-trips a chat state through JSON and keeps working', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const m1 = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'before' }, T0);
    const o1 = await openMessage(provider, bobState, bob, m1.wire, T0);
    const stored = JSON.parse(JSON.stringify(serializeChat(o1.state))) as unknown;
    const restored = await deserializeChat(provider, stored);
    expect(serializeChat(restored)).toEqual(serializeChat(o1.state));
    await rejectsWith(openMessage(provider, restored, bob, m1.wire, T0), 'duplicate');
    const m2 = await sealMessage(provider, m1.state, alice, { kind: 'text', text: 'after' }, T0);
    expect((await openMessage(provider, restored, bob, m2.wire, T0)).content).toMatchObject({
      text: 'after',
    });
    await rejectsWith(deserializeChat(provider, { ...(stored as object), extra: 1 }), 'malformed');
  });
});

describe('properties', () => {
  it('random bytes given to openMessage or acceptAnnouncement only ever raise HushProtocolError', async () => {
    const { bob, bobState } = await oneToOne();
    const keyId = bobState.current.keys.keyId;
    const prefixed = fc
      .tuple(fc.constantFrom(0x01, 0x02), fc.uint8Array({ minLength: 0, maxLength: 600 }))
      .map(([version, rest]) => new Uint8Array([version, ...(version === 1 ? keyId : []), ...rest]));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }), prefixed), async (wire) => {
        for (const attempt of [
          () => openMessage(provider, bobState, bob, wire, T0),
          () => acceptAnnouncement(provider, bobState, bob, wire, { now: T0 }),
          () =>
            acceptAnnouncement(provider, undefined, bob, wire, {
              expectedSigner: publicIdentity(bob),
              now: T0,
            }),
        ]) {
          const error = await attempt().then(
            () => new Error('accepted random bytes'),
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(HushProtocolError);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('any single bit flipped in a join request makes the inviter reject it', async () => {
    const { alice, chat, created } = await oneToOne();
    const joiner = await createDeviceIdentity(provider);
    const request = await joinRequest(provider, joiner, parseInviteLink(created.link), undefined, T0);
    // A fresh, unused invite book for every run: only the flip may cause the rejection.
    const freshBook = () => {
      const book = new InviteBook();
      book.issue({ inviteId: created.inviteId, secret: created.secret, chat: chat.id });
      return book;
    };
    const intact = await handleJoinRequest(provider, chat, alice, freshBook(), request, T0);
    expect(intact.accepted).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: request.length * 8 - 1 }), async (bit) => {
        const flipped = request.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const error = await handleJoinRequest(provider, chat, alice, freshBook(), flipped, T0).then(
          (outcome) => new Error(`accepted: ${outcome.accepted}`),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(HushProtocolError);
      }),
      { numRuns: 120 },
    );
  });

  it('a group invite admits as many joiners as it has uses', async () => {
    const { alice, aliceState } = await oneToOne();
    const created = await createInvite(provider, {
      inviter: publicIdentity(alice),
      inbox: alice.clientId,
      server: SERVER,
      uses: 2,
    });
    const book = new InviteBook();
    book.issue({ inviteId: created.inviteId, secret: created.secret, chat: aliceState.id, uses: 2 });
    let state = aliceState;
    const results: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const joiner = await createDeviceIdentity(provider);
      const request = await joinRequest(provider, joiner, created.invite, undefined, T0);
      const outcome = await handleJoinRequest(provider, state, alice, book, request, T0);
      results.push(outcome.accepted);
      if (outcome.accepted) state = outcome.newState;
    }
    expect(results).toEqual([true, true, false]);
    expect(Object.keys(state.members)).toHaveLength(4);
  });
});
