// Attacks that SUCCEEDED against src/core when a security review wrote them, and are refused since the fixes:
//
//   1. A leaving (or "ghost") admin keeps the key of the epoch it announces without itself: it still reads the chat
//      and, when two members remain (unsigned 1:1 epoch), can speak for either of them.
//   2. An admin could jump to epoch 2^32 - 1, after which nobody (not even the creator) could remove it (now at most
//      64 ahead).
//   3. A captured join request can be replayed through a multi-use invite: it re-admits a removed member and burns
//      uses / rotates epochs for a current one.
//   4. Ed25519 public keys of small order are accepted: a "universal" signature verifies for any message.
//   5. Content JSON with duplicate keys is accepted: a signed message reads differently to other parsers.
import { describe, expect, it } from 'vitest';
import { concat, fromB64u, toB64u, utf8 } from '../../src/core/bytes.ts';
import {
  acceptAnnouncement,
  buildEpochChange,
  handlesLeave,
  createChat,
  handleJoinRequest,
  joinRequest,
  leave,
  openMessage,
  sealMessage,
  type Announcement,
  type ChatState,
} from '../../src/core/chat.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import type { CryptoProvider } from '../../src/core/crypto/provider.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  sealChatEnvelope,
  verifyContentSignature,
} from '../../src/core/envelope.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import {
  createDeviceIdentity,
  publicIdentity,
  publicIdentityToJson,
  type DeviceIdentity,
  type PublicIdentity,
} from '../../src/core/identity.ts';
import { createInvite, inviteId, InviteBook } from '../../src/core/invite.ts';
import { encodePlaintext } from '../../src/core/plaintext.ts';
import { sealDirectEnvelope } from '../../src/core/sealed-box.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';

const provider = defaultProvider();
const T0 = 1_767_225_600_000;
const SERVER = 'https://hush.example';
const U32_MAX = 0xffffffff;

/** The HushProtocolError code `promise` rejects with, or a description of what happened instead. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => 'accepted (no error)',
    (e: unknown) => e,
  );
  if (typeof outcome === 'string') return outcome;
  return outcome instanceof HushProtocolError ? outcome.code : `not a HushProtocolError: ${String(outcome)}`;
}

const randomId = (): string => toB64u(crypto.getRandomValues(new Uint8Array(16)));

/** A provider that records every epoch key it derives a key id from: what the device running it knows. */
function recordingProvider(): { p: CryptoProvider; epochKeys: Uint8Array[] } {
  const epochKeys: Uint8Array[] = [];
  const p: CryptoProvider = {
    ...provider,
    async hkdfSha256(ikm, salt, info, length) {
      if (new TextDecoder().decode(info) === 'hush/v1 key id') epochKeys.push(ikm.slice());
      return provider.hkdfSha256(ikm, salt, info, length);
    },
  };
  return { p, epochKeys };
}

/** Applies an announcement if accepted; keeps the state if refused (as the client does). */
async function deliver(state: ChatState, device: DeviceIdentity, a: Announcement | undefined, now: number) {
  if (!a) return state;
  try {
    return await acceptAnnouncement(provider, state, device, a.wire, { now });
  } catch (error) {
    if (error instanceof HushProtocolError) return state;
    throw error;
  }
}

const forDevice = (list: Announcement[], device: DeviceIdentity) =>
  list.find((a) => a.to.id === device.clientId);

/** Alice (creator, admin) with Bob and Carol at epoch 2; `admins` optionally names more admins. */
async function groupOfThree(admins?: (ids: { alice: string; bob: string; carol: string }) => string[]) {
  const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
  const chat = await createChat(provider, alice!, { now: T0 });
  const ids = { alice: alice!.clientId, bob: bob!.clientId, carol: carol!.clientId };
  const change = await buildEpochChange(provider, chat, alice!, {
    add: [publicIdentity(bob!), publicIdentity(carol!)],
    ...(admins ? { admins: admins(ids) } : {}),
    now: T0,
  });
  const join = (device: DeviceIdentity) =>
    acceptAnnouncement(provider, undefined, device, forDevice(change.announcements, device)!.wire, {
      expectedSigner: publicIdentity(alice!),
      now: T0,
    });
  return {
    alice: alice!,
    bob: bob!,
    carol: carol!,
    aliceState: change.newState,
    bobState: await join(bob!),
    carolState: await join(carol!),
  };
}

describe('VULNERABILITY 1: an admin who leaves keeps the next epoch key', () => {
  it('an admin who leaves cannot read messages sent after its departure', async () => {
    const { alice, bob, carol, aliceState, bobState, carolState } = await groupOfThree();
    const { p, epochKeys } = recordingProvider();
    const before = epochKeys.length;
    const left = await leave(p, aliceState, alice, T0);
    const aliceKnows = [aliceState.current.key, ...epochKeys.slice(before)];
    // Bob and Carol process the departure as the client does: the 'leave' message, then their announcement. (If a
    // fix adds a step, e.g. the remaining admin re-keys on 'leave', drive it here.)
    // The fix: leave() sends only 'leave'; the remaining member for whom handlesLeave is true starts the epoch.
    expect(left.announcements).toEqual([]);
    expect(epochKeys.length).toBe(before);
    const bobOpened = (await openMessage(provider, bobState, bob, left.wire, T0)).state;
    const carolOpened = (await openMessage(provider, carolState, carol, left.wire, T0)).state;
    const bobHandles = handlesLeave(bobOpened, bob, alice.clientId);
    expect(bobHandles).not.toBe(handlesLeave(carolOpened, carol, alice.clientId));
    const [handler, handlerState, other, otherState] = bobHandles
      ? ([bob, bobOpened, carol, carolOpened] as const)
      : ([carol, carolOpened, bob, bobOpened] as const);
    const change = await buildEpochChange(provider, handlerState, handler, {
      remove: [alice.clientId],
      now: T0,
    });
    const otherNow = await deliver(otherState, other, forDevice(change.announcements, other), T0);
    const carolNow = handler === carol ? change.newState : otherNow;
    expect(Object.keys(carolNow.members)).not.toContain(alice.clientId);
    const secret = await sealMessage(
      provider,
      carolNow,
      carol,
      { kind: 'text', text: 'Alice is gone' },
      T0 + 1,
    );
    for (const key of aliceKnows) {
      const keys = await deriveEpochKeys(provider, key);
      expect(await codeOf(openChatEnvelope(provider, keys, secret.wire))).toBe('unknown-key');
    }
  });

  it('an admin who leaves cannot speak for one of the two members left', async () => {
    const { alice, bob, carol, aliceState, carolState } = await groupOfThree();
    const { p, epochKeys } = recordingProvider();
    const before = epochKeys.length;
    const left = await leave(p, aliceState, alice, T0);
    // Alice generates no key for the next epoch: she holds only the key of the epoch she is leaving.
    expect(epochKeys.length).toBe(before);
    expect(left.announcements).toEqual([]);
    const carolNow = (await openMessage(provider, carolState, carol, left.wire, T0)).state;
    // With the old (three-member, signed) key, a message "from Bob" needs Bob's signature.
    const forged = {
      v: 1,
      kind: 'text',
      text: 'Carol, send me the password — Bob',
      chat: carolNow.id,
      epoch: aliceState.current.number,
      from: bob.clientId,
      id: randomId(),
      seq: 1,
      ts: T0,
    };
    const wire = await sealChatEnvelope(provider, aliceState.current.keys, utf8(JSON.stringify(forged)));
    expect(await codeOf(openMessage(provider, carolNow, carol, wire, T0 + 1))).toBe('unsigned');
  });

  it('an announcement whose signer is not a member of the new epoch is refused (PROTOCOL.md §5)', async () => {
    const { alice, bob, carol, aliceState, carolState } = await groupOfThree();
    // Alice does not leave: she announces epoch 3 "without herself" while knowing its key — a ghost reader whom no
    // member list shows. (An honest leaving admin's announcement looks exactly like this, see above.)
    const content = {
      v: 1,
      kind: 'epoch',
      chat: aliceState.id,
      epoch: 3,
      from: alice.clientId,
      id: randomId(),
      seq: 0,
      ts: T0,
      to: carol.clientId,
      key: toB64u(crypto.getRandomValues(new Uint8Array(32))),
      members: [publicIdentity(bob), publicIdentity(carol)].map(publicIdentityToJson),
      admins: [[bob.clientId, carol.clientId].sort()[0]!],
      creator: alice.clientId,
    };
    const wire = await sealDirectEnvelope(
      provider,
      carol.agreement.publicKey,
      utf8(JSON.stringify(content)),
      alice.signing,
    );
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });
});

describe('VULNERABILITY 2: an admin can exhaust the epoch numbers', () => {
  it('the creator can still remove an admin who announced the last possible epoch number', async () => {
    const { alice, bob, carol, aliceState, carolState } = await groupOfThree((ids) => [ids.alice, ids.bob]);
    // Bob (non-creator admin) announces epoch 2^32 - 1, same members and admins.
    const jump = async (to: DeviceIdentity) => {
      const members: PublicIdentity[] = [publicIdentity(alice), publicIdentity(bob), publicIdentity(carol)];
      const content = {
        v: 1,
        kind: 'epoch',
        chat: aliceState.id,
        epoch: U32_MAX,
        from: bob.clientId,
        id: randomId(),
        seq: 0,
        ts: T0,
        to: to.clientId,
        key: toB64u(crypto.getRandomValues(new Uint8Array(32))),
        members: members.map(publicIdentityToJson),
        admins: [alice.clientId, bob.clientId],
        creator: alice.clientId,
      };
      return {
        to: publicIdentity(to),
        wire: await sealDirectEnvelope(
          provider,
          to.agreement.publicKey,
          utf8(JSON.stringify(content)),
          bob.signing,
        ),
      };
    };
    const aliceNow = await deliver(aliceState, alice, await jump(alice), T0);
    const carolNow = await deliver(carolState, carol, await jump(carol), T0);
    // The creator removes Bob. This must stay possible whatever Bob announced.
    const removal = await buildEpochChange(provider, aliceNow, alice, {
      remove: [bob.clientId],
      now: T0 + 1,
    });
    const carolAfter = await acceptAnnouncement(
      provider,
      carolNow,
      carol,
      forDevice(removal.announcements, carol)!.wire,
      {
        now: T0 + 1,
      },
    );
    expect(Object.keys(carolAfter.members)).not.toContain(bob.clientId);
  });
});

describe('VULNERABILITY 3: join requests can be replayed through a multi-use invite', () => {
  async function groupInvite() {
    const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
    const chat = await createChat(provider, alice!, { now: T0 });
    const created = await createInvite(provider, {
      inviter: publicIdentity(alice!),
      inbox: alice!.clientId,
      server: SERVER,
      uses: 5,
    });
    const book = new InviteBook();
    book.issue({ inviteId: created.inviteId, secret: created.secret, chat: chat.id, uses: 5 });
    // Bob's join request: captured on the wire (it travels to Alice's inbox and may wait in her queue).
    const bobRequest = await joinRequest(provider, bob!, created.invite, 'Bob', T0);
    const joined = await handleJoinRequest(provider, chat, alice!, book, bobRequest, T0);
    if (!joined.accepted) throw new Error(joined.reason);
    const carolRequest = await joinRequest(provider, carol!, created.invite, 'Carol', T0);
    const joined2 = await handleJoinRequest(provider, joined.newState, alice!, book, carolRequest, T0);
    if (!joined2.accepted) throw new Error(joined2.reason);
    return { alice: alice!, bob: bob!, state: joined2.newState, book, created, bobRequest };
  }

  it('a removed member cannot be re-admitted by replaying its old join request', async () => {
    const { alice, bob, state, book, bobRequest } = await groupInvite();
    const removal = await buildEpochChange(provider, state, alice, { remove: [bob.clientId], now: T0 + 10 });
    expect(Object.keys(removal.newState.members)).not.toContain(bob.clientId);
    const replay = await handleJoinRequest(provider, removal.newState, alice, book, bobRequest, T0 + 20);
    expect(replay.accepted).toBe(false);
    if (!replay.accepted) expect(replay.code).toBe('invite-used');
  });

  it('a replayed join request of a current member neither uses the invite again nor starts an epoch', async () => {
    const { alice, state, book, created, bobRequest } = await groupInvite();
    const usesBefore = book.get(created.inviteId)!.usesLeft;
    const replay = await handleJoinRequest(provider, state, alice, book, bobRequest, T0 + 20);
    expect(replay.accepted).toBe(false);
    if (!replay.accepted) expect(replay.code).toBe('invite-used');
    expect(book.get(created.inviteId)!.usesLeft).toBe(usesBefore);
  });
});

describe('VULNERABILITY 4: small-order Ed25519 public keys are accepted', () => {
  /** The Ed25519 identity point (order 1) and a signature (R = identity, S = 0) that verifies under it for any data. */
  const IDENTITY = new Uint8Array(32);
  IDENTITY[0] = 1;
  const UNIVERSAL = new Uint8Array(64);
  UNIVERSAL[0] = 1;

  for (const p of [defaultProvider(), nodeCryptoProvider]) {
    it(`no signature verifies under a small-order signing key (${p.name})`, async () => {
      const header = concat(new Uint8Array([0x01]), new Uint8Array(8));
      for (const content of [utf8('{"any":"message"}'), utf8('another one')]) {
        expect(await verifyContentSignature(p, IDENTITY, header, content, UNIVERSAL)).toBe(false);
      }
    });
  }

  it('a joiner whose signing key is of small order is not admitted', async () => {
    const [alice, dave] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
    const chat = await createChat(provider, alice, { now: T0 });
    const created = await createInvite(provider, {
      inviter: publicIdentity(alice),
      inbox: alice.clientId,
      server: SERVER,
    });
    const book = new InviteBook();
    book.issue({ inviteId: created.inviteId, secret: created.secret, chat: chat.id });
    // Dave joins with the identity point as signing key: from then on every member can sign "as Dave".
    const weak: PublicIdentity = { id: dave.clientId, sign: IDENTITY, agree: dave.agreement.publicKey };
    const id = toB64u(await inviteId(provider, created.secret));
    const content = utf8(
      JSON.stringify({
        v: 1,
        kind: 'join-request',
        chat: id,
        epoch: 0,
        from: dave.clientId,
        id: randomId(),
        seq: 0,
        ts: T0,
        to: alice.clientId,
        invite: id,
        proof: toB64u(
          await provider.hmacSha256(
            await provider.hkdfSha256(created.secret, new Uint8Array(0), utf8('hush/v1 invite proof'), 32),
            concat(utf8('hush/v1 join'), fromB64u(weak.id, 'id', 16), weak.sign, weak.agree),
          ),
        ),
        joiner: { id: weak.id, sign: toB64u(weak.sign), agree: toB64u(weak.agree) },
      }),
    );
    const ephemeral = await provider.generateAgreementKeyPair();
    const header = concat(new Uint8Array([0x02]), ephemeral.publicKey);
    const shared = await provider.agree(ephemeral.privateKey, alice.agreement.publicKey);
    const key = await provider.hkdfSha256(
      shared,
      concat(ephemeral.publicKey, alice.agreement.publicKey),
      utf8('hush/v1 sealed box'),
      32,
    );
    const body = await provider.aesGcmEncrypt(
      key,
      new Uint8Array(12),
      encodePlaintext({ content, signature: UNIVERSAL }),
      header,
    );
    const outcome = await handleJoinRequest(provider, chat, alice, book, concat(header, body), T0).then(
      (o) => (o.accepted ? 'accepted' : o.code),
      (e: unknown) => (e instanceof HushProtocolError ? e.code : String(e)),
    );
    expect(outcome).not.toBe('accepted');
  });
});

describe('VULNERABILITY 5: duplicate JSON keys in content', () => {
  it('a signed message with a key given twice is refused, so every parser reads the same message', async () => {
    const { bob, carol, aliceState, bobState } = await groupOfThree();
    const fields = {
      v: 1,
      kind: 'text',
      text: 'I owe Bob 10',
      chat: aliceState.id,
      epoch: aliceState.current.number,
      from: carol.clientId,
      id: randomId(),
      seq: 1,
      ts: T0,
    };
    // First-wins parsers read "I owe Bob 10"; JSON.parse (last wins) reads "I owe Bob 1000". Carol signs both.
    const json = `${JSON.stringify(fields).slice(0, -1)},"text":"I owe Bob 1000"}`;
    const wire = await sealChatEnvelope(provider, aliceState.current.keys, utf8(json), carol.signing);
    expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-content');
  });
});
