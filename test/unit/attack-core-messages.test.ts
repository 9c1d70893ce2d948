// Attacks on chat messages (docs/PROTOCOL.md §2 grace, §3 chat envelope and signing, §5 content, §7 replay, §8
// downgrade): impersonation inside a group, injection into a 1:1 chat, cross-chat and cross-epoch replay, lying
// epoch fields, reflection, removed members, hostile JSON, signature malleability and version/flag downgrades.
import { describe, expect, it } from 'vitest';
import { concat, toB64u, utf8 } from '../../src/core/bytes.ts';
import {
  acceptAnnouncement,
  buildEpochChange,
  createChat,
  GRACE_MS,
  openMessage,
  sealMessage,
  type ChatState,
} from '../../src/core/chat.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import type { CryptoProvider } from '../../src/core/crypto/provider.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  sealChatEnvelope,
  signedData,
  type EpochKeys,
} from '../../src/core/envelope.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import { createDeviceIdentity, publicIdentity, type DeviceIdentity } from '../../src/core/identity.ts';
import { encodePlaintext } from '../../src/core/plaintext.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';

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

/** A text message as an attacker writes it: every field chosen freely. */
function textContent(state: ChatState, from: string, extra: Record<string, unknown> = {}): object {
  return {
    v: 1,
    kind: 'text',
    text: 'forged',
    chat: state.id,
    epoch: state.current.number,
    from,
    id: randomId(),
    seq: 1,
    ts: T0,
    ...extra,
  };
}

/** Seals content bytes (or a JSON object) under `keys`, signed by `signer` if given, bypassing every check. */
function sealRaw(
  keys: EpochKeys,
  content: object | Uint8Array,
  signer?: DeviceIdentity,
): Promise<Uint8Array> {
  const bytes = content instanceof Uint8Array ? content : utf8(JSON.stringify(content));
  return sealChatEnvelope(provider, keys, bytes, signer?.signing);
}

/** A chat envelope around an arbitrary plaintext (bytes chosen freely: flags, signature, padding). */
async function sealPlaintext(keys: EpochKeys, plaintext: Uint8Array, version = 0x01): Promise<Uint8Array> {
  const header = concat(new Uint8Array([version]), keys.keyId);
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  return concat(header, nonce, await provider.aesGcmEncrypt(keys.messageKey, nonce, plaintext, header));
}

/** Seals `content` with a given signature (not computed here) under `keys`. */
async function sealWithSignature(
  keys: EpochKeys,
  content: Uint8Array,
  signature: Uint8Array,
): Promise<Uint8Array> {
  return sealPlaintext(keys, encodePlaintext({ content, signature }));
}

/** Alice creates a chat and adds Bob: a 1:1 chat at epoch 2. */
async function oneToOne() {
  const [alice, bob] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
  const chat = await createChat(provider, alice, { now: T0 });
  const change = await buildEpochChange(provider, chat, alice, { add: [publicIdentity(bob)], now: T0 });
  const bobState = await acceptAnnouncement(provider, undefined, bob, change.announcements[0]!.wire, {
    expectedSigner: publicIdentity(alice),
    now: T0,
  });
  return { alice, bob, aliceState: change.newState, bobState };
}

/** Alice (creator, admin) with Bob and Carol: a group of three at epoch 2. */
async function groupOfThree(p: CryptoProvider = provider) {
  const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(p)));
  const chat = await createChat(p, alice!, { now: T0 });
  const change = await buildEpochChange(p, chat, alice!, {
    add: [publicIdentity(bob!), publicIdentity(carol!)],
    now: T0,
  });
  const bobState = await acceptAnnouncement(p, undefined, bob!, change.announcements[0]!.wire, {
    expectedSigner: publicIdentity(alice!),
    now: T0,
  });
  const carolState = await acceptAnnouncement(p, undefined, carol!, change.announcements[1]!.wire, {
    expectedSigner: publicIdentity(alice!),
    now: T0,
  });
  return { alice: alice!, bob: bob!, carol: carol!, aliceState: change.newState, bobState, carolState };
}

/** Alice removes Carol at `at`; Bob installs epoch 3 at `at`. Carol keeps her epoch-2 state. */
async function removeCarol(g: Awaited<ReturnType<typeof groupOfThree>>, at: number) {
  const change = await buildEpochChange(provider, g.aliceState, g.alice, {
    remove: [g.carol.clientId],
    now: at,
  });
  const bobAt3 = await acceptAnnouncement(provider, g.bobState, g.bob, change.announcements[0]!.wire, {
    now: at,
  });
  return { aliceAt3: change.newState, bobAt3 };
}

describe('in a group, a member', () => {
  it('cannot impersonate another member by signing with its own key and claiming their id', async () => {
    const { alice, bob, carol, bobState, carolState } = await groupOfThree();
    for (const victim of [alice.clientId, bob.clientId]) {
      const forged = await sealRaw(carolState.current.keys, textContent(carolState, victim), carol);
      expect(await codeOf(openMessage(provider, bobState, bob, forged, T0))).toBe('bad-signature');
    }
  });

  it('cannot impersonate another member by leaving the signature out', async () => {
    const { alice, bob, carolState, bobState } = await groupOfThree();
    const forged = await sealRaw(carolState.current.keys, textContent(carolState, alice.clientId));
    expect(await codeOf(openMessage(provider, bobState, bob, forged, T0))).toBe('unsigned');
  });

  it('cannot reuse another member’s signature on altered content', async () => {
    const { alice, bob, aliceState, bobState, carolState } = await groupOfThree();
    const real = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'pay Bob 10' }, T0);
    const opened = await openChatEnvelope(provider, carolState.current.keys, real.wire);
    const altered = utf8(new TextDecoder().decode(opened.content).replace('pay Bob 10', 'pay Eve 99'));
    const wire = await sealWithSignature(carolState.current.keys, altered, opened.signature!);
    expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-signature');
  });

  it('cannot poison another member’s sequence counter', async () => {
    const { alice, bob, carol, bobState, carolState } = await groupOfThree();
    const forged = await sealRaw(
      carolState.current.keys,
      textContent(carolState, alice.clientId, { seq: 0xffffffff }),
      carol,
    );
    expect(await codeOf(openMessage(provider, bobState, bob, forged, T0))).toBe('bad-signature');
    expect(bobState.seqs[alice.clientId]).toBeUndefined();
  });

  it('sees its own message reflected back as a duplicate, never as a new message', async () => {
    const { carol, carolState } = await groupOfThree();
    const sent = await sealMessage(provider, carolState, carol, { kind: 'text', text: 'mine' }, T0);
    expect(await codeOf(openMessage(provider, sent.state, carol, sent.wire, T0))).toBe('duplicate');
  });
});

describe('in a 1:1 chat, a third party', () => {
  it('who knows nothing cannot inject: a guessed key id with another key fails the tag, another key id is unknown', async () => {
    const { bob, bobState } = await oneToOne();
    const mallory = await createDeviceIdentity(provider);
    const malloryKeys = await deriveEpochKeys(provider, crypto.getRandomValues(new Uint8Array(32)));
    const content = textContent(bobState, mallory.clientId);
    // Mallory sees the key id in the clear header of captured traffic and reuses it.
    const withStolenKeyId: EpochKeys = { ...malloryKeys, keyId: bobState.current.keys.keyId };
    const wire1 = await sealRaw(withStolenKeyId, content, mallory);
    expect(await codeOf(openMessage(provider, bobState, bob, wire1, T0))).toBe('decrypt-failed');
    const wire2 = await sealRaw(malloryKeys, content, mallory);
    expect(await codeOf(openMessage(provider, bobState, bob, wire2, T0))).toBe('unknown-key');
  });

  it('who is in another chat with a peer cannot carry that chat’s messages over', async () => {
    const { alice, bob, bobState } = await oneToOne();
    // Alice and Bob also share a second 1:1 chat.
    const other = await createChat(provider, alice, { now: T0 });
    const change = await buildEpochChange(provider, other, alice, { add: [publicIdentity(bob)], now: T0 });
    const sent = await sealMessage(provider, change.newState, alice, { kind: 'text', text: 'other' }, T0);
    expect(await codeOf(openMessage(provider, bobState, bob, sent.wire, T0))).toBe('unknown-key');
  });
});

describe('a member of one chat', () => {
  it('cannot replay or re-seal a message into another chat it shares with the victim', async () => {
    // Carol is in group A with Alice and Bob, and in a 1:1 chat B with Bob.
    const { alice, bob, carol, aliceState, carolState } = await groupOfThree();
    const chatB = await createChat(provider, carol, { now: T0 });
    const change = await buildEpochChange(provider, chatB, carol, { add: [publicIdentity(bob)], now: T0 });
    const bobB = await acceptAnnouncement(provider, undefined, bob, change.announcements[0]!.wire, {
      expectedSigner: publicIdentity(carol),
      now: T0,
    });
    const fromAlice = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'in A' }, T0);
    // 1. The captured wire as is: its key id is chat A's.
    expect(await codeOf(openMessage(provider, bobB, bob, fromAlice.wire, T0))).toBe('unknown-key');
    // 2. Re-sealed under chat B's key with Alice's signature: the content still names chat A.
    const opened = await openChatEnvelope(provider, carolState.current.keys, fromAlice.wire);
    const resealed = await sealWithSignature(bobB.current.keys, opened.content, opened.signature!);
    expect(await codeOf(openMessage(provider, bobB, bob, resealed, T0))).toBe('wrong-chat');
    // 3. Re-sealed with chat B's id written in: Alice is not a member of B.
    const renamed = utf8(new TextDecoder().decode(opened.content).replace(aliceState.id, bobB.id));
    const resealed2 = await sealWithSignature(bobB.current.keys, renamed, opened.signature!);
    expect(await codeOf(openMessage(provider, bobB, bob, resealed2, T0))).toBe('not-a-member');
    // 4. And forging in B as Carol with Alice's words: the peer is Carol, not Alice.
    const asCarol = utf8(
      new TextDecoder().decode(renamed).replace(`"from":"${alice.clientId}"`, `"from":"${carol.clientId}"`),
    );
    const resealed3 = await sealWithSignature(bobB.current.keys, asCarol, opened.signature!);
    expect(await codeOf(openMessage(provider, bobB, bob, resealed3, T0))).toBe('bad-signature');
  });
});

describe('epochs in messages', () => {
  it('a message whose epoch field lies about the key it was sealed under is refused', async () => {
    const { alice, bob, aliceState, bobState } = await groupOfThree();
    const e3 = await buildEpochChange(provider, aliceState, alice, { now: T0 });
    const bobAt3 = await acceptAnnouncement(
      provider,
      bobState,
      bob,
      e3.announcements.find((a) => a.to.id === bob.clientId)!.wire,
      { now: T0 },
    );
    for (const epoch of [2, 4, 1]) {
      const lie = await sealRaw(bobAt3.current.keys, textContent(bobAt3, alice.clientId, { epoch }), alice);
      expect(await codeOf(openMessage(provider, bobAt3, bob, lie, T0))).toBe('bad-content');
    }
  });

  it('a member cannot move another member’s signed message to a newer epoch', async () => {
    const { alice, bob, carol, aliceState, bobState, carolState } = await groupOfThree();
    const old = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'epoch 2' }, T0);
    const opened = await openChatEnvelope(provider, carolState.current.keys, old.wire);
    const e3 = await buildEpochChange(provider, aliceState, alice, { now: T0 });
    const at3 = async (device: DeviceIdentity, state: ChatState) =>
      acceptAnnouncement(
        provider,
        state,
        device,
        e3.announcements.find((a) => a.to.id === device.clientId)!.wire,
        { now: T0 },
      );
    const bobAt3 = await at3(bob, bobState);
    const carolAt3 = await at3(carol, carolState);
    // As is (epoch 2 inside, epoch 3 key): bad-content. With epoch 3 written in: the signature covers it.
    const moved = await sealWithSignature(carolAt3.current.keys, opened.content, opened.signature!);
    expect(await codeOf(openMessage(provider, bobAt3, bob, moved, T0))).toBe('bad-content');
    const rewritten = utf8(new TextDecoder().decode(opened.content).replace('"epoch":2', '"epoch":3'));
    const moved2 = await sealWithSignature(carolAt3.current.keys, rewritten, opened.signature!);
    expect(await codeOf(openMessage(provider, bobAt3, bob, moved2, T0))).toBe('bad-signature');
  });
});

describe('a removed member', () => {
  it('cannot post under the new epoch: it has no key for it', async () => {
    const g = await groupOfThree();
    const { bobAt3 } = await removeCarol(g, T0);
    const guess = await deriveEpochKeys(provider, crypto.getRandomValues(new Uint8Array(32)));
    const wire = await sealRaw(
      { ...guess, keyId: bobAt3.current.keys.keyId },
      textContent(bobAt3, g.carol.clientId),
      g.carol,
    );
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, wire, T0))).toBe('decrypt-failed');
  });

  it('cannot post under its old epoch once the 120 s grace period is over', async () => {
    const g = await groupOfThree();
    const { bobAt3 } = await removeCarol(g, T0);
    const sent = await sealMessage(provider, g.carolState, g.carol, { kind: 'text', text: 'still here' }, T0);
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, sent.wire, T0 + GRACE_MS + 1))).toBe(
      'old-epoch',
    );
  });

  it('cannot post under an epoch older than the previous one at all', async () => {
    const g = await groupOfThree();
    const { aliceAt3, bobAt3 } = await removeCarol(g, T0);
    const e4 = await buildEpochChange(provider, aliceAt3, g.alice, { now: T0 + 1 });
    const bobAt4 = await acceptAnnouncement(provider, bobAt3, g.bob, e4.announcements[0]!.wire, {
      now: T0 + 1,
    });
    const sent = await sealMessage(
      provider,
      g.carolState,
      g.carol,
      { kind: 'text', text: 'epoch 2' },
      T0 + 2,
    );
    expect(await codeOf(openMessage(provider, bobAt4, g.bob, sent.wire, T0 + 2))).toBe('old-epoch');
  });

  it('can still post under the previous epoch within the grace period (documented trade-off), but only as itself', async () => {
    const g = await groupOfThree();
    const { bobAt3 } = await removeCarol(g, T0);
    // Trade-off of §2: for 120 s after Bob installed epoch 3, epoch-2 messages open, so Carol's new post is accepted.
    const sent = await sealMessage(
      provider,
      g.carolState,
      g.carol,
      { kind: 'text', text: 'after removal' },
      T0,
    );
    const opened = await openMessage(provider, bobAt3, g.bob, sent.wire, T0 + GRACE_MS);
    expect(opened.epoch).toBe(2);
    expect(opened.sender.id).toBe(g.carol.clientId);
    // But she cannot use the window to speak for a remaining member: epoch 2 had three members, so it is signed.
    const forged = await sealRaw(
      g.carolState.current.keys,
      textContent(g.carolState, g.alice.clientId),
      g.carol,
    );
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, forged, T0 + 1))).toBe('bad-signature');
    const unsigned = await sealRaw(g.carolState.current.keys, textContent(g.carolState, g.alice.clientId));
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, unsigned, T0 + 1))).toBe('unsigned');
  });

  it('cannot replay the messages it captured from the previous epoch', async () => {
    const g = await groupOfThree();
    const fromAlice = await sealMessage(provider, g.aliceState, g.alice, { kind: 'text', text: 'x' }, T0);
    const atBob = await openMessage(provider, g.bobState, g.bob, fromAlice.wire, T0);
    const change = await buildEpochChange(provider, fromAlice.state, g.alice, {
      remove: [g.carol.clientId],
      now: T0,
    });
    const bobAt3 = await acceptAnnouncement(provider, atBob.state, g.bob, change.announcements[0]!.wire, {
      now: T0,
    });
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, fromAlice.wire, T0 + 1))).toBe('duplicate');
    // Re-sealed with a fresh nonce (Carol still has the epoch-2 key): the message id gives it away.
    const opened = await openChatEnvelope(provider, g.carolState.current.keys, fromAlice.wire);
    const fresh = await sealWithSignature(g.carolState.current.keys, opened.content, opened.signature!);
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, fresh, T0 + 1))).toBe('duplicate');
    expect(await codeOf(openMessage(provider, bobAt3, g.bob, fresh, T0 + GRACE_MS + 1))).toBe('old-epoch');
  });
});

describe('downgrades', () => {
  it('unknown version bytes are unknown-version, never read as version 1', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'v1' }, T0);
    for (const version of [0x00, 0x03, 0x10, 0x81, 0xff]) {
      const wire = sent.wire.slice();
      wire[0] = version;
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('unknown-version');
    }
    // A version-2 header on chat bytes is a sealed box, which openMessage refuses.
    const asDirect = concat(new Uint8Array([0x02]), new Uint8Array(32), sent.wire.subarray(9));
    expect(await codeOf(openMessage(provider, bobState, bob, asDirect, T0))).toBe('malformed');
  });

  it('a chat envelope cannot be re-labelled with another version byte: the header is authenticated', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'v1' }, T0);
    // Even if a future version 0x01-compatible reader accepted both, the AAD binds the exact header.
    const wire = sent.wire.slice();
    wire[1]! ^= 0x01;
    expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('unknown-key');
  });

  it('reserved plaintext flag bits are refused, even from a key holder', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const content = utf8(JSON.stringify(textContent(aliceState, alice.clientId)));
    for (const flags of [0x02, 0x03, 0x80, 0xff]) {
      const plaintext = encodePlaintext({ content });
      plaintext[0] = flags;
      const wire = await sealPlaintext(aliceState.current.keys, plaintext);
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('malformed');
    }
  });

  it('a content version other than 1 is unknown-version', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    for (const v of [2, 0, '1', 1.5, null]) {
      const wire = await sealRaw(aliceState.current.keys, textContent(aliceState, alice.clientId, { v }));
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('unknown-version');
    }
  });

  it('a group message cannot be downgraded to the unsigned 1:1 form', async () => {
    const { alice, bob, aliceState, bobState } = await groupOfThree();
    const sent = await sealMessage(provider, aliceState, alice, { kind: 'text', text: 'signed' }, T0);
    const opened = await openChatEnvelope(provider, aliceState.current.keys, sent.wire);
    // A key holder strips the signature and re-seals.
    const stripped = await sealPlaintext(
      aliceState.current.keys,
      encodePlaintext({ content: opened.content }),
    );
    expect(await codeOf(openMessage(provider, bobState, bob, stripped, T0))).toBe('unsigned');
  });
});

describe('signature malleability', () => {
  const L = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
  ];
  /** S + L (little-endian): the same signature in a second, non-canonical spelling. */
  const addL = (signature: Uint8Array): Uint8Array => {
    const out = signature.slice();
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = out[32 + i]! + L[i]! + carry;
      out[32 + i] = v & 0xff;
      carry = v >> 8;
    }
    return out;
  };

  for (const p of [defaultProvider(), nodeCryptoProvider]) {
    it(`a second spelling of a valid signature (S + L) does not verify (${p.name})`, async () => {
      const { alice, bob, aliceState, bobState } = await groupOfThree(p);
      const sent = await sealMessage(p, aliceState, alice, { kind: 'text', text: 'once' }, T0);
      const opened = await openChatEnvelope(p, aliceState.current.keys, sent.wire);
      const malleated = addL(opened.signature!);
      expect(malleated).not.toEqual(opened.signature);
      expect(
        await p.verify(alice.signing.publicKey, malleated, signedData(opened.header, opened.content)),
      ).toBe(false);
      const plaintext = encodePlaintext({ content: opened.content, signature: malleated });
      const header = opened.header;
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const wire = concat(
        header,
        nonce,
        await p.aesGcmEncrypt(aliceState.current.keys.messageKey, nonce, plaintext, header),
      );
      expect(await codeOf(openMessage(p, bobState, bob, wire, T0))).toBe('bad-signature');
    });
  }
});

describe('hostile content', () => {
  it('prototype-polluting keys are extra fields, refused as bad-content and never merged', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const base = JSON.stringify(textContent(aliceState, alice.clientId)).slice(0, -1);
    for (const extra of [
      '"__proto__":{"polluted":true}',
      '"constructor":{"prototype":{"polluted":true}}',
      '"prototype":1',
    ]) {
      const wire = await sealRaw(aliceState.current.keys, utf8(`${base},${extra}}`));
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-content');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('ids with prototype names, Unicode look-alikes or non-canonical base64url are refused', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const id = alice.clientId;
    const lastBits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(id[21]!);
    // 16 bytes use 4 bits of the last character: setting a low bit spells the same bytes differently.
    const nonCanonical =
      id.slice(0, 21) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[lastBits | 1]!;
    expect(nonCanonical).not.toBe(id);
    const fullwidth = String.fromCharCode(0xff21) + id.slice(1); // 'Ａ'
    for (const from of [
      '__proto__',
      'constructor',
      'hasOwnProperty',
      nonCanonical,
      fullwidth,
      `${id}\u200b`,
      id.slice(0, 21),
      `${id}=`,
      `+${id.slice(1)}`,
      `/${id.slice(1)}`,
    ]) {
      const wire = await sealRaw(aliceState.current.keys, textContent(aliceState, alice.clientId, { from }));
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-content');
    }
    expect(bobState.seqs).toEqual({});
  });

  it('deeply nested JSON up to the 1 MiB cap is refused as bad-content without crashing', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const depth = 400_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    for (const field of ['text', 'extra']) {
      const base = JSON.stringify(textContent(aliceState, alice.clientId, { text: 'x' })).slice(0, -1);
      const json =
        field === 'text'
          ? base.replace('"text":"x"', `"text":${nested}`) + '}'
          : `${base},"extra":${nested}}`;
      const wire = await sealRaw(aliceState.current.keys, utf8(json));
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-content');
    }
  });

  it('numbers out of range, non-integers and non-JSON are refused', async () => {
    const { alice, bob, aliceState, bobState } = await oneToOne();
    const cases: Array<Record<string, unknown>> = [
      { seq: 0 },
      { seq: 2 ** 32 },
      { seq: 1.5 },
      { seq: -1 },
      { epoch: 2 ** 32 },
      { ts: -1 },
      { ts: 2 ** 53 },
      { text: '' },
      { text: 'x'.repeat(65537) },
      { kind: 'text', text: undefined },
    ];
    for (const extra of cases) {
      const wire = await sealRaw(aliceState.current.keys, textContent(aliceState, alice.clientId, extra));
      expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-content');
    }
    for (const raw of ['', 'null', '[]', '"text"', '{"v":1', '\ufeff{}', '{"v":1e400}']) {
      const wire = await sealRaw(aliceState.current.keys, utf8(raw));
      expect(['bad-content', 'unknown-version']).toContain(
        await codeOf(openMessage(provider, bobState, bob, wire, T0)),
      );
    }
    const invalidUtf8 = concat(
      utf8(JSON.stringify(textContent(aliceState, alice.clientId)).slice(0, -2)),
      new Uint8Array([0xc0, 0xaf]),
      utf8('"}'),
    );
    const wire = await sealRaw(aliceState.current.keys, invalidUtf8);
    expect(await codeOf(openMessage(provider, bobState, bob, wire, T0))).toBe('bad-content');
  });
});
