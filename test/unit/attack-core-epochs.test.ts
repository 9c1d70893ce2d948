// Attacks on epoch announcements (docs/PROTOCOL.md §2, §4, §5 "Who may announce an epoch"): forged, replayed,
// re-addressed and key-substituting announcements, from outsiders, non-admins, removed admins and admins who
// overstep. Each test is the attack as an attacker would run it, and the check that refuses it.
import { describe, expect, it } from 'vitest';
import { concat, toB64u, utf8 } from '../../src/core/bytes.ts';
import {
  acceptAnnouncement,
  buildEpochChange,
  createChat,
  openDirect,
  openMessage,
  sealMessage,
  type ChatState,
} from '../../src/core/chat.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { sealChatEnvelope } from '../../src/core/envelope.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import {
  createDeviceIdentity,
  publicIdentity,
  publicIdentityToJson,
  type DeviceIdentity,
  type PublicIdentity,
} from '../../src/core/identity.ts';
import { encodePlaintext } from '../../src/core/plaintext.ts';
import { sealDirectEnvelope } from '../../src/core/sealed-box.ts';

const provider = defaultProvider();
const T0 = 1_767_225_600_000;

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
const randomKey = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32));

/** Epoch content as an attacker writes it: every field chosen freely, nothing validated. */
function epochContent(
  state: ChatState,
  fields: {
    from: string;
    to: string;
    epoch?: number;
    key?: Uint8Array;
    members: PublicIdentity[];
    admins: string[];
    creator?: string;
    chat?: string;
  },
): Record<string, unknown> {
  return {
    v: 1,
    kind: 'epoch',
    chat: fields.chat ?? state.id,
    epoch: fields.epoch ?? state.current.number + 1,
    from: fields.from,
    id: randomId(),
    seq: 0,
    ts: T0,
    to: fields.to,
    key: toB64u(fields.key ?? randomKey()),
    members: fields.members.map(publicIdentityToJson),
    admins: fields.admins,
    creator: fields.creator ?? state.creator,
  };
}

/** A signed sealed box to `to` carrying `content` verbatim (JSON), signed by `signer`. */
function box(to: PublicIdentity, content: object, signer: DeviceIdentity): Promise<Uint8Array> {
  return sealDirectEnvelope(provider, to.agree, utf8(JSON.stringify(content)), signer.signing);
}

/** A sealed box to `to` around an arbitrary plaintext (content bytes and a 64-byte signature chosen freely). */
async function rawBox(to: PublicIdentity, content: Uint8Array, signature: Uint8Array): Promise<Uint8Array> {
  const ephemeral = await provider.generateAgreementKeyPair();
  const header = concat(new Uint8Array([0x02]), ephemeral.publicKey);
  const shared = await provider.agree(ephemeral.privateKey, to.agree);
  const key = await provider.hkdfSha256(
    shared,
    concat(ephemeral.publicKey, to.agree),
    utf8('hush/v1 sealed box'),
    32,
  );
  const body = await provider.aesGcmEncrypt(
    key,
    new Uint8Array(12),
    encodePlaintext({ content, signature }),
    header,
  );
  return concat(header, body);
}

/** Alice (creator) names Bob a second admin; Carol is a plain member. Everyone at epoch 2. */
async function groupWithTwoAdmins() {
  const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
  const chat = await createChat(provider, alice!, { name: 'team', now: T0 });
  const change = await buildEpochChange(provider, chat, alice!, {
    add: [publicIdentity(bob!), publicIdentity(carol!)],
    admins: [alice!.clientId, bob!.clientId],
    now: T0,
  });
  const states: ChatState[] = [];
  for (const [i, device] of [bob!, carol!].entries()) {
    states.push(
      await acceptAnnouncement(provider, undefined, device, change.announcements[i]!.wire, {
        expectedSigner: publicIdentity(alice!),
        now: T0,
      }),
    );
  }
  return {
    alice: alice!,
    bob: bob!,
    carol: carol!,
    aliceState: change.newState,
    bobState: states[0]!,
    carolState: states[1]!,
    announcements: change.announcements,
  };
}

const pub = publicIdentity;

describe('an outsider', () => {
  it('cannot announce an epoch for a chat it is not in, even one that lists everybody correctly', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const mallory = await createDeviceIdentity(provider);
    const content = epochContent(carolState, {
      from: mallory.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol), pub(mallory)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(carol), content, mallory);
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });

  it('cannot announce an epoch in an admin’s name: the admin’s signature does not verify', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const mallory = await createDeviceIdentity(provider);
    const content = epochContent(carolState, {
      from: alice.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol), pub(mallory)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(carol), content, mallory);
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
      'bad-signature',
    );
  });

  it('cannot push an announcement on a device that is not joining anything and expects no inviter', async () => {
    const { carol, carolState } = await groupWithTwoAdmins();
    const mallory = await createDeviceIdentity(provider);
    const content = epochContent(carolState, {
      from: mallory.clientId,
      to: carol.clientId,
      members: [pub(mallory), pub(carol)],
      admins: [mallory.clientId],
      creator: mallory.clientId,
      chat: randomId(),
    });
    const wire = await box(pub(carol), content, mallory);
    expect(await codeOf(acceptAnnouncement(provider, undefined, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });

  it('cannot slip an epoch announcement into a chat envelope, nor a chat message into a sealed box', async () => {
    const { alice, bob, carol, aliceState, carolState } = await groupWithTwoAdmins();
    // A member (Bob, admin) puts an epoch announcement inside a chat envelope signed by himself.
    const inChat = epochContent(aliceState, {
      from: bob.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    const chatWire = await sealChatEnvelope(
      provider,
      aliceState.current.keys,
      utf8(JSON.stringify(inChat)),
      bob.signing,
    );
    expect(await codeOf(openMessage(provider, carolState, carol, chatWire, T0))).toBe('bad-content');
    // And a text message in a sealed box.
    const text = {
      v: 1,
      kind: 'text',
      text: 'hi',
      chat: carolState.id,
      epoch: carolState.current.number,
      from: bob.clientId,
      id: randomId(),
      seq: 1,
      ts: T0,
    };
    const boxed = await box(pub(carol), text, bob);
    expect(await codeOf(openDirect(provider, carol, boxed))).toBe('bad-content');
  });

  it('cannot get an unsigned sealed box accepted', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const content = epochContent(carolState, {
      from: alice.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    const ephemeral = await provider.generateAgreementKeyPair();
    const header = concat(new Uint8Array([0x02]), ephemeral.publicKey);
    const shared = await provider.agree(ephemeral.privateKey, carol.agreement.publicKey);
    const key = await provider.hkdfSha256(
      shared,
      concat(ephemeral.publicKey, carol.agreement.publicKey),
      utf8('hush/v1 sealed box'),
      32,
    );
    const body = await provider.aesGcmEncrypt(
      key,
      new Uint8Array(12),
      encodePlaintext({ content: utf8(JSON.stringify(content)) }),
      header,
    );
    const wire = concat(header, body);
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe('unsigned');
  });
});

describe('a member who is not an admin', () => {
  it('cannot add an accomplice through an announcement signed with its own key', async () => {
    const { alice, bob, carol, bobState } = await groupWithTwoAdmins();
    const mallory = await createDeviceIdentity(provider);
    const content = epochContent(bobState, {
      from: carol.clientId,
      to: bob.clientId,
      members: [pub(alice), pub(bob), pub(carol), pub(mallory)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(bob), content, carol);
    expect(await codeOf(acceptAnnouncement(provider, bobState, bob, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });

  it('cannot re-address an announcement it received to another member: the box names its recipient', async () => {
    const { alice, bob, carol, aliceState, bobState } = await groupWithTwoAdmins();
    // Alice (admin) starts epoch 3; Carol, who received hers, tries to pass it on to Bob as his.
    const change = await buildEpochChange(provider, aliceState, alice, { now: T0 });
    const toCarol = change.announcements.find((a) => a.to.id === carol.clientId)!;
    const opened = await openDirect(provider, carol, toCarol.wire);
    // 1. Unchanged content and Alice's signature, in a fresh box to Bob.
    const forwarded = await rawBox(pub(bob), opened.contentBytes, opened.signature);
    expect(await codeOf(acceptAnnouncement(provider, bobState, bob, forwarded, { now: T0 }))).toBe(
      'wrong-recipient',
    );
    // 2. `to` rewritten to Bob, Alice's signature kept.
    const rewritten = utf8(
      new TextDecoder().decode(opened.contentBytes).replace(carol.clientId, bob.clientId),
    );
    expect(rewritten).not.toEqual(opened.contentBytes);
    const readdressed = await rawBox(pub(bob), rewritten, opened.signature);
    expect(await codeOf(acceptAnnouncement(provider, bobState, bob, readdressed, { now: T0 }))).toBe(
      'bad-signature',
    );
  });

  it('cannot replay a box with the original header to another device: it does not open there', async () => {
    const { alice, bob, carol, aliceState, bobState } = await groupWithTwoAdmins();
    const change = await buildEpochChange(provider, aliceState, alice, { now: T0 });
    const toCarol = change.announcements.find((a) => a.to.id === carol.clientId)!;
    expect(await codeOf(acceptAnnouncement(provider, bobState, bob, toCarol.wire, { now: T0 }))).toBe(
      'decrypt-failed',
    );
  });
});

describe('a removed admin', () => {
  it('cannot announce a new epoch that brings itself back', async () => {
    const { alice, bob, carol, aliceState, carolState } = await groupWithTwoAdmins();
    const removal = await buildEpochChange(provider, aliceState, alice, { remove: [bob.clientId], now: T0 });
    const carolAt3 = await acceptAnnouncement(provider, carolState, carol, removal.announcements[0]!.wire, {
      now: T0,
    });
    expect(carolAt3.admins).toEqual([alice.clientId]);
    const content = epochContent(carolAt3, {
      from: bob.clientId,
      to: carol.clientId,
      epoch: 4,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(carol), content, bob);
    expect(await codeOf(acceptAnnouncement(provider, carolAt3, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });

  it('cannot replay the announcement of an epoch it was still in to pull the chat back to a key it holds', async () => {
    const { alice, bob, carol, aliceState, carolState, announcements } = await groupWithTwoAdmins();
    const removal = await buildEpochChange(provider, aliceState, alice, { remove: [bob.clientId], now: T0 });
    const carolAt3 = await acceptAnnouncement(provider, carolState, carol, removal.announcements[0]!.wire, {
      now: T0,
    });
    // The epoch-2 announcement to Carol (Bob holds epoch 2's key) comes again.
    expect(
      await codeOf(acceptAnnouncement(provider, carolAt3, carol, announcements[1]!.wire, { now: T0 })),
    ).toBe('stale-epoch');
    // Even an announcement Bob signed while he was admin, for a newer-looking epoch, is refused: he no longer is.
    const preSigned = epochContent(carolState, {
      from: bob.clientId,
      to: carol.clientId,
      epoch: 4,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(carol), preSigned, bob);
    expect(await codeOf(acceptAnnouncement(provider, carolAt3, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });
});

describe('an admin', () => {
  it('cannot substitute another member’s keys (man in the middle) in an announcement', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const bobsFake = await createDeviceIdentity(provider);
    // Bob (a non-creator admin) lists Alice with keys he controls, to read what Carol seals to "Alice".
    const fakeAlice: PublicIdentity = { ...pub(bobsFake), id: alice.clientId };
    for (const aliceKeys of [
      fakeAlice,
      { ...pub(alice), agree: bobsFake.agreement.publicKey },
      { ...pub(alice), sign: bobsFake.signing.publicKey },
    ]) {
      const content = epochContent(carolState, {
        from: bob.clientId,
        to: carol.clientId,
        members: [aliceKeys, pub(bob), pub(carol)],
        admins: [alice.clientId, bob.clientId],
      });
      const wire = await box(pub(carol), content, bob);
      expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
        'not-authorized',
      );
    }
  });

  it('cannot substitute a member’s keys even as the creator', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const fake = await createDeviceIdentity(provider);
    const content = epochContent(carolState, {
      from: alice.clientId,
      to: carol.clientId,
      members: [pub(alice), { ...pub(fake), id: bob.clientId }, pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(carol), content, alice);
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });

  it('cannot list the recipient with other keys or leave it out (the box would not be its key)', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const fake = await createDeviceIdentity(provider);
    for (const members of [
      [pub(alice), pub(bob), { ...pub(fake), id: carol.clientId }],
      [pub(alice), pub(bob)],
    ]) {
      const content = epochContent(carolState, {
        from: alice.clientId,
        to: carol.clientId,
        members,
        admins: [alice.clientId, bob.clientId],
      });
      const wire = await box(pub(carol), content, alice);
      expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
        'wrong-recipient',
      );
    }
  });

  it('cannot change the creator', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const content = epochContent(carolState, {
      from: bob.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId],
      creator: bob.clientId,
    });
    const wire = await box(pub(carol), content, bob);
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
      'not-authorized',
    );
  });

  it('who is not the creator cannot promote a member or demote the creator', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const promote = epochContent(carolState, {
      from: bob.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId, carol.clientId],
    });
    expect(
      await codeOf(
        acceptAnnouncement(provider, carolState, carol, await box(pub(carol), promote, bob), { now: T0 }),
      ),
    ).toBe('not-authorized');
    // Dropping the creator from the admins while it stays a member breaks the epoch's shape.
    const demote = epochContent(carolState, {
      from: bob.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [bob.clientId],
    });
    expect(
      await codeOf(
        acceptAnnouncement(provider, carolState, carol, await box(pub(carol), demote, bob), { now: T0 }),
      ),
    ).toBe('bad-content');
  });

  it('cannot name a non-member as admin, or list a member twice', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const outsider = await createDeviceIdentity(provider);
    const ghostAdmin = epochContent(carolState, {
      from: alice.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId, outsider.clientId],
    });
    const twice = epochContent(carolState, {
      from: alice.clientId,
      to: carol.clientId,
      members: [pub(alice), pub(bob), pub(carol), pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    for (const content of [ghostAdmin, twice]) {
      const wire = await box(pub(carol), content, alice);
      expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
        'bad-content',
      );
    }
  });

  it('cannot fork the chat with a second key for the current epoch number', async () => {
    const { alice, bob, carol, carolState } = await groupWithTwoAdmins();
    const content = epochContent(carolState, {
      from: bob.clientId,
      to: carol.clientId,
      epoch: carolState.current.number,
      members: [pub(alice), pub(bob), pub(carol)],
      admins: [alice.clientId, bob.clientId],
    });
    const wire = await box(pub(carol), content, bob);
    expect(await codeOf(acceptAnnouncement(provider, carolState, carol, wire, { now: T0 }))).toBe(
      'stale-epoch',
    );
  });

  it('of another chat cannot apply its announcements to this chat', async () => {
    const { alice, carol, carolState } = await groupWithTwoAdmins();
    // Alice also runs a second chat with Carol; its announcement is valid, addressed to Carol, signed by Alice.
    const other = await createChat(provider, alice, { now: T0 });
    const change = await buildEpochChange(provider, other, alice, { add: [pub(carol)], now: T0 });
    expect(change.newState.id).not.toBe(carolState.id);
    expect(
      await codeOf(
        acceptAnnouncement(provider, carolState, carol, change.announcements[0]!.wire, { now: T0 }),
      ),
    ).toBe('wrong-chat');
  });
});

describe('a device joining a chat', () => {
  it('accepts its first epoch only from the inviter, listed with the invite’s keys and as an admin', async () => {
    const [alice, bob, mallory] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
    const chat = await createChat(provider, alice!, { now: T0 });
    const base = { from: alice!.clientId, to: bob!.clientId, epoch: 2 };
    const cases: Array<[object, DeviceIdentity, string]> = [
      // Mallory signs in her own name.
      [
        epochContent(chat, {
          ...base,
          from: mallory!.clientId,
          members: [pub(mallory!), pub(bob!)],
          admins: [mallory!.clientId],
          creator: mallory!.clientId,
        }),
        mallory!,
        'not-authorized',
      ],
      // Mallory signs in Alice's name.
      [
        epochContent(chat, { ...base, members: [pub(alice!), pub(bob!)], admins: [alice!.clientId] }),
        mallory!,
        'bad-signature',
      ],
      // Alice's signature, but Alice is not listed as a member: someone else would hold the chat.
      [
        epochContent(chat, {
          ...base,
          members: [pub(mallory!), pub(bob!)],
          admins: [mallory!.clientId],
          creator: mallory!.clientId,
        }),
        alice!,
        'not-authorized',
      ],
      // Alice listed with Mallory's keys.
      [
        epochContent(chat, {
          ...base,
          members: [{ ...pub(mallory!), id: alice!.clientId }, pub(bob!)],
          admins: [alice!.clientId],
        }),
        alice!,
        'not-authorized',
      ],
      // Alice a member but not an admin.
      [
        epochContent(chat, {
          ...base,
          members: [pub(alice!), pub(bob!), pub(mallory!)],
          admins: [mallory!.clientId],
          creator: mallory!.clientId,
        }),
        alice!,
        'not-authorized',
      ],
      // Bob not listed (or with other keys).
      [
        epochContent(chat, { ...base, members: [pub(alice!)], admins: [alice!.clientId] }),
        alice!,
        'wrong-recipient',
      ],
    ];
    for (const [content, signer, code] of cases) {
      const wire = await box(pub(bob!), content, signer);
      expect(
        await codeOf(
          acceptAnnouncement(provider, undefined, bob!, wire, { expectedSigner: pub(alice!), now: T0 }),
        ),
      ).toBe(code);
    }
  });
});

describe('sequence of epochs', () => {
  it('a member sends under the new epoch only after accepting it; older announcements never roll it back', async () => {
    const { alice, bob, aliceState, bobState } = await groupWithTwoAdmins();
    const e3 = await buildEpochChange(provider, aliceState, alice, { now: T0 });
    const e4 = await buildEpochChange(provider, e3.newState, alice, { now: T0 + 1 });
    const toBob = (c: typeof e3) => c.announcements.find((a) => a.to.id === bob.clientId)!.wire;
    const at4 = await acceptAnnouncement(provider, bobState, bob, toBob(e4), { now: T0 + 1 });
    // Epoch 3 arrives late (or is replayed): refused, Bob stays at 4.
    expect(await codeOf(acceptAnnouncement(provider, at4, bob, toBob(e3), { now: T0 + 2 }))).toBe(
      'stale-epoch',
    );
    const sent = await sealMessage(provider, at4, bob, { kind: 'text', text: 'at 4' }, T0 + 3);
    expect(sent.content.epoch).toBe(4);
  });
});
