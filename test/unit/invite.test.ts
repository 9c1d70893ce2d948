// Invite links, join proofs and the invite book (src/core/invite.ts, docs/PROTOCOL.md §6), checked against
// test/vectors/invites.json, which test/vectors/generate-invites.ts computes with node:crypto alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { equalBytes, fromB64u, toB64u, utf8 } from '../../src/core/bytes.ts';
import { acceptAnnouncement, createChat, handleJoinRequest, joinRequest } from '../../src/core/chat.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import { createDeviceIdentity, publicIdentity, publicIdentityFromJson } from '../../src/core/identity.ts';
import {
  createInvite,
  encodeInviteLink,
  InviteBook,
  inviteId,
  joinProof,
  parseInviteLink,
  verifyJoinProof,
  type Invite,
} from '../../src/core/invite.ts';
import vectors from '../vectors/invites.json' with { type: 'json' };

const provider = defaultProvider();
const T0 = 1_767_225_600_000;

/** The code of the HushProtocolError `f` throws. */
function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(HushProtocolError);
    return (error as HushProtocolError).code;
  }
  throw new Error('did not throw');
}

const vectorInvite = (v: (typeof vectors.valid)[number]): Invite => ({
  v: 1,
  secret: fromB64u(v.secret, 'secret', 32),
  inviter: publicIdentityFromJson(v.inviter),
  inbox: v.inbox,
  server: v.server,
  ...('exp' in v ? { exp: v.exp } : {}),
  ...('uses' in v ? { uses: v.uses } : {}),
});

describe('the invite vectors', () => {
  it('encode to exactly the vector links and parse back to the same invites', () => {
    for (const v of vectors.valid) {
      const invite = vectorInvite(v);
      expect(encodeInviteLink(invite)).toBe(v.link);
      expect(parseInviteLink(v.link)).toEqual(invite);
    }
  });

  it('give the vector invite ids and join proofs', async () => {
    for (const v of vectors.valid) {
      const secret = fromB64u(v.secret, 'secret', 32);
      expect(toB64u(await inviteId(provider, secret))).toBe(v.inviteId);
      const joiner = publicIdentityFromJson(v.joiner);
      expect(toB64u(await joinProof(provider, secret, joiner))).toBe(v.proof);
      expect(await verifyJoinProof(provider, secret, joiner, fromB64u(v.proof, 'proof', 32))).toBe(true);
    }
  });

  it('reject every invalid link with its error code', () => {
    for (const v of vectors.invalid)
      expect([v.name, codeOf(() => parseInviteLink(v.link))]).toEqual([v.name, v.error]);
  });
});

describe('an invite link', () => {
  it('round-trips: a fresh invite parses back to itself, with a random 32-byte secret', async () => {
    const alice = publicIdentity(await createDeviceIdentity(provider));
    const a = await createInvite(provider, {
      inviter: alice,
      inbox: alice.id,
      server: 'https://hush.example',
    });
    const b = await createInvite(provider, {
      inviter: alice,
      inbox: alice.id,
      server: 'https://hush.example',
    });
    expect(a.link.startsWith('https://hush.example/#invite=')).toBe(true);
    expect(parseInviteLink(a.link)).toEqual(a.invite);
    expect(equalBytes(a.secret, b.secret)).toBe(false);
    expect(a.inviteId).toEqual(await inviteId(provider, a.secret));
  });

  it('is refused when expired, if the reader says what time it is', () => {
    const v = vectors.valid[1]!;
    expect(parseInviteLink(v.link, { now: v.exp! - 1 }).exp).toBe(v.exp);
    expect(codeOf(() => parseInviteLink(v.link, { now: v.exp! }))).toBe('invite-expired');
  });

  it('cannot be created for a server that is not http(s) or with bad uses', async () => {
    const alice = publicIdentity(await createDeviceIdentity(provider));
    for (const bad of [
      { server: 'javascript:alert(1)' },
      { server: 'wss://hush.example' },
      { server: 'https://hush.example/#x' },
      { server: ' https://hush.example' },
      { server: 'https://hush.example', uses: 0 },
      { server: 'https://hush.example', exp: -1 },
    ]) {
      await expect(createInvite(provider, { inviter: alice, inbox: alice.id, ...bad })).rejects.toThrow(
        /^invite: /,
      );
    }
  });

  it('with any single bit flipped is refused, or never admits the joiner to a chat with another inviter key', async () => {
    const alice = await createDeviceIdentity(provider);
    const bob = await createDeviceIdentity(provider);
    const chat = await createChat(provider, alice, { now: T0 });
    const original = await createInvite(provider, {
      inviter: publicIdentity(alice),
      inbox: alice.clientId,
      server: 'https://hush.example',
    });
    const bits = utf8(original.link);
    let parsedCount = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bits.length * 8 - 1 }), async (bit) => {
        const flipped = bits.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        let tampered: Invite;
        try {
          tampered = parseInviteLink(new TextDecoder().decode(flipped));
        } catch (error) {
          expect(error).toBeInstanceOf(HushProtocolError);
          expect((error as HushProtocolError).code).toBe('bad-invite');
          return;
        }
        parsedCount++;
        // One spelling per invite: a link that still parses is a different invite.
        expect(tampered).not.toEqual(original.invite);
        const book = new InviteBook();
        book.issue({ inviteId: original.inviteId, secret: original.secret, chat: chat.id });
        const outcome = await handleJoinRequest(
          provider,
          chat,
          alice,
          book,
          await joinRequest(provider, bob, tampered, undefined, T0),
          T0,
        ).catch((error: unknown) => error);
        if (outcome instanceof Error) {
          expect(outcome).toBeInstanceOf(HushProtocolError);
          return;
        }
        const result = outcome as Awaited<ReturnType<typeof handleJoinRequest>>;
        const sameInviter = equalBytes(tampered.inviter.sign, original.invite.inviter.sign);
        if (!result.accepted) return;
        // Accepted: the secret, id and agreement key were intact; only the signing key can still be wrong.
        const joined = acceptAnnouncement(provider, undefined, bob, result.announcements[0]!.wire, {
          expectedSigner: tampered.inviter,
          now: T0,
        });
        if (sameInviter) await expect(joined).resolves.toBeDefined();
        else await expect(joined).rejects.toThrow(HushProtocolError);
      }),
      { numRuns: 600 },
    );
    expect(parsedCount).toBeLessThan(600);
  });
});

describe('a join proof', () => {
  it('verifies for the joiner it was made for and not for another device or secret', async () => {
    const [bob, eve] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const proof = await joinProof(provider, secret, publicIdentity(bob));
    expect(await verifyJoinProof(provider, secret, publicIdentity(bob), proof)).toBe(true);
    expect(await verifyJoinProof(provider, secret, publicIdentity(eve), proof)).toBe(false);
    const otherSecret = crypto.getRandomValues(new Uint8Array(32));
    expect(await verifyJoinProof(provider, otherSecret, publicIdentity(bob), proof)).toBe(false);
    expect(await verifyJoinProof(provider, secret, publicIdentity(bob), proof.subarray(0, 31))).toBe(false);
  });
});

describe('the invite book', () => {
  const chat = 'AAECAwQFBgcICQoLDA0ODw';
  const issue = (book: InviteBook, extra: { uses?: number; exp?: number } = {}) => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const id = crypto.getRandomValues(new Uint8Array(16));
    book.issue({ inviteId: id, secret, chat, ...extra });
    return id;
  };

  it('lets a single-use invite be used once, then says invite-used', () => {
    const book = new InviteBook();
    const id = issue(book);
    expect(book.consume(id, T0).ok).toBe(true);
    expect(book.consume(id, T0)).toMatchObject({ ok: false, code: 'invite-used' });
  });

  it('counts the uses of a multi-use invite and refuses it after expiry', () => {
    const book = new InviteBook();
    const id = issue(book, { uses: 3, exp: T0 + 1000 });
    const results = [0, 1, 2, 3].map(() => book.consume(id, T0));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
    expect(results[1]).toMatchObject({ ok: true, invite: { usesLeft: 1 } });
    const fresh = issue(book, { uses: 3, exp: T0 + 1000 });
    expect(book.consume(fresh, T0 + 999).ok).toBe(true);
    expect(book.consume(fresh, T0 + 1000)).toMatchObject({ ok: false, code: 'invite-expired' });
  });

  it('says bad-invite for an unknown or revoked invite, and checks without using', () => {
    const book = new InviteBook();
    expect(book.consume(new Uint8Array(16), T0)).toMatchObject({ ok: false, code: 'bad-invite' });
    const id = issue(book);
    expect(book.check(id, T0).ok).toBe(true);
    expect(book.check(id, T0).ok).toBe(true);
    expect(book.revoke(id)).toBe(true);
    expect(book.consume(id, T0)).toMatchObject({ ok: false, code: 'bad-invite' });
  });

  it('survives a JSON round trip with its counts, and rejects malformed JSON', () => {
    const book = new InviteBook();
    const id = issue(book, { uses: 2, exp: T0 + 5 });
    book.consume(id, T0);
    const restored = InviteBook.fromJSON(JSON.parse(JSON.stringify(book)));
    expect(restored.list()).toEqual(book.list());
    expect(restored.consume(id, T0).ok).toBe(true);
    expect(restored.consume(id, T0)).toMatchObject({ code: 'invite-used' });
    expect(codeOf(() => InviteBook.fromJSON([{ ...book.toJSON()[0], extra: true }]))).toBe('bad-invite');
  });
});
