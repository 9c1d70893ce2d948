// Attacks on joining (docs/PROTOCOL.md §4, §6): used, expired, revoked and foreign invites, forged and borrowed
// proofs, join requests in another device's name, client-id squatting on existing members, misaddressed requests
// and forged refusals.
import { describe, expect, it } from 'vitest';
import { toB64u, utf8 } from '../../src/core/bytes.ts';
import {
  acceptAnnouncement,
  buildEpochChange,
  createChat,
  handleJoinRequest,
  joinRequest,
  openJoinRefused,
  openJoinRequest,
  type ChatState,
} from '../../src/core/chat.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import {
  createDeviceIdentity,
  publicIdentity,
  publicIdentityToJson,
  type DeviceIdentity,
  type PublicIdentity,
} from '../../src/core/identity.ts';
import { createInvite, inviteId, InviteBook, joinProof, type Invite } from '../../src/core/invite.ts';
import { sealDirectEnvelope } from '../../src/core/sealed-box.ts';

const provider = defaultProvider();
const T0 = 1_767_225_600_000;
const SERVER = 'https://hush.example';

/** The HushProtocolError code `promise` rejects with, or a description of what happened instead. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => 'accepted (no error)',
    (e: unknown) => e,
  );
  if (typeof outcome === 'string') return outcome;
  return outcome instanceof HushProtocolError ? outcome.code : `not a HushProtocolError: ${String(outcome)}`;
}

/** The refusal code of a join outcome, or 'accepted'. */
async function joinCode(promise: ReturnType<typeof handleJoinRequest>): Promise<string> {
  const outcome = await promise;
  return outcome.accepted ? 'accepted' : outcome.code;
}

const randomId = (): string => toB64u(crypto.getRandomValues(new Uint8Array(16)));

/** Alice's chat with Bob in it (epoch 2) and a fresh invite (uses, exp) recorded in her book. */
async function setup(options: { uses?: number; exp?: number } = {}) {
  const [alice, bob] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
  const chat = await createChat(provider, alice, { now: T0 });
  const withBob = await buildEpochChange(provider, chat, alice, { add: [publicIdentity(bob)], now: T0 });
  const created = await createInvite(provider, {
    inviter: publicIdentity(alice),
    inbox: alice.clientId,
    server: SERVER,
    ...options,
  });
  const book = new InviteBook();
  book.issue({ inviteId: created.inviteId, secret: created.secret, chat: chat.id, ...options });
  return { alice, bob, state: withBob.newState, book, invite: created.invite, created };
}

/** A join request as an attacker writes it: content chosen freely, sealed to the inviter, signed by `signer`. */
async function forgedRequest(
  invite: Invite,
  signer: DeviceIdentity,
  fields: {
    from: string;
    joiner: PublicIdentity;
    proof: Uint8Array;
    to?: string;
    chat?: string;
    epoch?: number;
  },
): Promise<Uint8Array> {
  const id = toB64u(await inviteId(provider, invite.secret));
  const content = {
    v: 1,
    kind: 'join-request',
    chat: fields.chat ?? id,
    epoch: fields.epoch ?? 0,
    from: fields.from,
    id: randomId(),
    seq: 0,
    ts: T0,
    to: fields.to ?? invite.inviter.id,
    invite: id,
    proof: toB64u(fields.proof),
    joiner: publicIdentityToJson(fields.joiner),
  };
  return sealDirectEnvelope(provider, invite.inviter.agree, utf8(JSON.stringify(content)), signer.signing);
}

describe('an invite', () => {
  it('that was used cannot admit a second device, even the one that used it', async () => {
    const { alice, state, book, invite } = await setup();
    const carol = await createDeviceIdentity(provider);
    const first = await handleJoinRequest(
      provider,
      state,
      alice,
      book,
      await joinRequest(provider, carol, invite, undefined, T0),
      T0,
    );
    expect(first.accepted).toBe(true);
    const eve = await createDeviceIdentity(provider);
    const next = (first as { newState: ChatState }).newState;
    expect(
      await joinCode(
        handleJoinRequest(
          provider,
          next,
          alice,
          book,
          await joinRequest(provider, eve, invite, undefined, T0),
          T0,
        ),
      ),
    ).toBe('invite-used');
  });

  it('that expired admits nobody', async () => {
    const { alice, state, book, invite } = await setup({ exp: T0 + 1000 });
    const eve = await createDeviceIdentity(provider);
    const request = await joinRequest(provider, eve, invite, undefined, T0);
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, request, T0 + 1000))).toBe(
      'invite-expired',
    );
  });

  it('that was revoked admits nobody', async () => {
    const { alice, state, book, invite, created } = await setup();
    book.revoke(created.inviteId);
    const eve = await createDeviceIdentity(provider);
    const request = await joinRequest(provider, eve, invite, undefined, T0);
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, request, T0))).toBe('bad-invite');
  });

  it('to another chat of the same inviter does not admit to this chat', async () => {
    const { alice, state, invite, created } = await setup();
    const book = new InviteBook();
    book.issue({ inviteId: created.inviteId, secret: created.secret, chat: randomId() });
    const eve = await createDeviceIdentity(provider);
    const request = await joinRequest(provider, eve, invite, undefined, T0);
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, request, T0))).toBe('bad-invite');
  });

  it('is not usable by an inviter who is no longer an admin', async () => {
    const { alice, bob, state, book, invite } = await setup();
    // Alice's stored state says she is no longer an admin (Bob is); her invite must not add anyone.
    const demoted: ChatState = {
      ...state,
      admins: [bob.clientId],
      current: { ...state.current, admins: [bob.clientId] },
    };
    const eve = await createDeviceIdentity(provider);
    const request = await joinRequest(provider, eve, invite, undefined, T0);
    expect(await joinCode(handleJoinRequest(provider, demoted, alice, book, request, T0))).toBe(
      'not-authorized',
    );
    expect(book.check(toB64u(await inviteId(provider, invite.secret)), T0).ok).toBe(true);
  });
});

describe('a join proof', () => {
  it('cannot be guessed without the invite secret', async () => {
    const { alice, state, book, invite } = await setup();
    const eve = await createDeviceIdentity(provider);
    const wire = await forgedRequest(invite, eve, {
      from: eve.clientId,
      joiner: publicIdentity(eve),
      proof: crypto.getRandomValues(new Uint8Array(32)),
    });
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, wire, T0))).toBe('bad-invite');
  });

  it('made for one joiner cannot be carried over to another device', async () => {
    const { alice, state, book, invite } = await setup();
    const [carol, eve] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
    // Eve got hold of Carol's proof (not the secret) and uses it for her own identity.
    const carolsProof = await joinProof(provider, invite.secret, publicIdentity(carol));
    const wire = await forgedRequest(invite, eve, {
      from: eve.clientId,
      joiner: publicIdentity(eve),
      proof: carolsProof,
    });
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, wire, T0))).toBe('bad-invite');
    // Or with her own keys under Carol's id.
    const squat = { ...publicIdentity(eve), id: carol.clientId };
    const wire2 = await forgedRequest(invite, eve, {
      from: carol.clientId,
      joiner: squat,
      proof: carolsProof,
    });
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, wire2, T0))).toBe('bad-invite');
  });
});

describe('a join request', () => {
  it('cannot be made in another device’s name: the joiner must sign it', async () => {
    const { alice, state, book, invite } = await setup();
    const [carol, eve] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
    const proof = await joinProof(provider, invite.secret, publicIdentity(carol));
    // Eve knows the secret and builds a valid proof for Carol, but cannot sign as Carol.
    const wire = await forgedRequest(invite, eve, {
      from: carol.clientId,
      joiner: publicIdentity(carol),
      proof,
    });
    expect(await codeOf(handleJoinRequest(provider, state, alice, book, wire, T0))).toBe('bad-signature');
    // Sent from Eve's id for Carol's identity: refused before any signature check.
    const wire2 = await forgedRequest(invite, eve, {
      from: eve.clientId,
      joiner: publicIdentity(carol),
      proof,
    });
    expect(await codeOf(handleJoinRequest(provider, state, alice, book, wire2, T0))).toBe('bad-content');
    expect(book.check(toB64u(await inviteId(provider, invite.secret)), T0).ok).toBe(true);
  });

  it('cannot take over an existing member’s client id with other keys', async () => {
    const { alice, bob, state, book, invite } = await setup({ uses: 5 });
    const eve = await createDeviceIdentity(provider);
    // Eve holds a group invite and asks to join as Bob, with her keys.
    const asBob = { ...publicIdentity(eve), id: bob.clientId };
    const proof = await joinProof(provider, invite.secret, asBob);
    const wire = await forgedRequest(invite, eve, { from: bob.clientId, joiner: asBob, proof });
    expect(await joinCode(handleJoinRequest(provider, state, alice, book, wire, T0))).toBe('not-authorized');
    expect(book.check(toB64u(await inviteId(provider, invite.secret)), T0)).toMatchObject({
      ok: true,
      invite: { usesLeft: 5 },
    });
  });

  it('addressed to another device, or not naming its invite as chat with epoch 0, is refused', async () => {
    const { alice, state, book, invite } = await setup();
    const eve = await createDeviceIdentity(provider);
    const proof = await joinProof(provider, invite.secret, publicIdentity(eve));
    const base = { from: eve.clientId, joiner: publicIdentity(eve), proof };
    const misaddressed = await forgedRequest(invite, eve, { ...base, to: randomId() });
    expect(await codeOf(handleJoinRequest(provider, state, alice, book, misaddressed, T0))).toBe(
      'wrong-recipient',
    );
    const otherChat = await forgedRequest(invite, eve, { ...base, chat: state.id });
    expect(await codeOf(handleJoinRequest(provider, state, alice, book, otherChat, T0))).toBe('bad-content');
    const epoch = await forgedRequest(invite, eve, { ...base, epoch: state.current.number });
    expect(await codeOf(handleJoinRequest(provider, state, alice, book, epoch, T0))).toBe('bad-content');
  });

  it('sealed to the inviter cannot be opened by another admin or device', async () => {
    const { invite, bob } = await setup();
    const eve = await createDeviceIdentity(provider);
    const request = await joinRequest(provider, eve, invite, undefined, T0);
    expect(await codeOf(openJoinRequest(provider, bob, request))).toBe('decrypt-failed');
  });
});

describe('a join refusal', () => {
  it('cannot be forged by someone other than the inviter', async () => {
    const { alice, invite } = await setup();
    const [joiner, mallory] = await Promise.all([
      createDeviceIdentity(provider),
      createDeviceIdentity(provider),
    ]);
    const id = toB64u(await inviteId(provider, invite.secret));
    const refusal = (from: string) => ({
      v: 1,
      kind: 'join-refused',
      chat: id,
      epoch: 0,
      from,
      id: randomId(),
      seq: 0,
      ts: T0,
      to: joiner.clientId,
      invite: id,
      reason: 'go away',
    });
    const seal = (content: object, signer: DeviceIdentity) =>
      sealDirectEnvelope(provider, joiner.agreement.publicKey, utf8(JSON.stringify(content)), signer.signing);
    // In her own name.
    expect(
      await codeOf(
        openJoinRefused(
          provider,
          joiner,
          await seal(refusal(mallory.clientId), mallory),
          publicIdentity(alice),
        ),
      ),
    ).toBe('not-authorized');
    // In Alice's name.
    expect(
      await codeOf(
        openJoinRefused(
          provider,
          joiner,
          await seal(refusal(alice.clientId), mallory),
          publicIdentity(alice),
        ),
      ),
    ).toBe('bad-signature');
  });
});

describe('a joiner', () => {
  it('accepts no announcement for its join from anyone but its inviter, even another member of the chat', async () => {
    const { alice, bob, state, book, invite } = await setup();
    const carol = await createDeviceIdentity(provider);
    const outcome = await handleJoinRequest(
      provider,
      state,
      alice,
      book,
      await joinRequest(provider, carol, invite, undefined, T0),
      T0,
    );
    if (!outcome.accepted) throw new Error(outcome.reason);
    const toCarol = outcome.announcements.find((a) => a.to.id === carol.clientId)!;
    // Bob (member, not the inviter) is passed as expected signer: refused.
    expect(
      await codeOf(
        acceptAnnouncement(provider, undefined, carol, toCarol.wire, {
          expectedSigner: publicIdentity(bob),
          now: T0,
        }),
      ),
    ).toBe('not-authorized');
    const state2 = await acceptAnnouncement(provider, undefined, carol, toCarol.wire, {
      expectedSigner: invite.inviter,
      now: T0,
    });
    expect(state2.current.number).toBe(3);
  });
});
