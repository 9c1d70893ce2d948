// The chat state machine: docs/PROTOCOL.md §2 (chats, epochs, announcements, grace), §3 (who signs), §5, §6 (join)
// and §7 (replay and order).
//
// A ChatState is plain data (keys as bytes; serializeChat/deserializeChat give JSON with b64u) and every function
// returns a new state instead of changing the one it got. No I/O and no clocks: callers pass `now` (ms since 1970).
// Admins start epoch n+1 with a fresh key and announce it to each member in its own signed sealed box; receivers
// accept only newer epochs from an admin of their current epoch. Messages under epoch n still open for 120 s after
// n+1 is installed. Chat messages are signed iff the epoch has more than two members (1:1 stays deniable).

import { z } from 'zod';
import * as bytes from './bytes.ts';
import { fromB64u, toB64u } from './bytes.ts';
import {
  decodeContent,
  encodeContent,
  isChatContent,
  isDisplayName,
  type ChatContent,
  type DirectContent,
  type EpochContent,
  type JoinRefusedContent,
  type JoinRequestContent,
  type LeaveContent,
  type MovedContent,
  type PresenceContent,
  type ReceiptContent,
  type RemovedContent,
  type TextContent,
  type TypingContent,
} from './content.ts';
import type { CryptoProvider } from './crypto/provider.ts';
import {
  deriveEpochKeys,
  EPOCH_KEY_BYTES,
  openChatEnvelope,
  peekEnvelope,
  sealChatEnvelope,
  verifyContentSignature,
  type EpochKeys,
} from './envelope.ts';
import { fail, HushProtocolError } from './errors.ts';
import {
  checkPublicIdentity,
  clientIdSchema,
  ID_BYTES,
  publicIdentity,
  publicIdentityFromJson,
  publicIdentityJsonSchema,
  publicIdentityToJson,
  samePublicIdentity,
  type DeviceIdentity,
  type PublicIdentity,
} from './identity.ts';
import {
  inviteId as deriveInviteId,
  joinProof,
  verifyJoinProof,
  type Invite,
  type InviteBook,
} from './invite.ts';
import { openDirectEnvelope, sealDirectEnvelope } from './sealed-box.ts';

/** How long messages under the previous epoch still open after a new one is installed (§2). */
export const GRACE_MS = 120_000;
/** How many message ids a chat remembers for duplicate detection (§7). */
export const RECENT_IDS_CAP = 10_000;
/** How many key ids of retired epochs a chat remembers, to say 'old-epoch' rather than 'unknown-key'. */
export const RETIRED_KEY_IDS_CAP = 64;
const U32_MAX = 0xffffffff;

/** One epoch: number, key, derived keys, members and admins, and when this device installed it. */
export interface EpochState {
  number: number;
  key: Uint8Array;
  keys: EpochKeys;
  members: PublicIdentity[];
  admins: string[];
  installedAt: number;
}

/** The previous epoch, kept for the grace period after `retiredAt`. */
export interface PreviousEpochState extends EpochState {
  retiredAt: number;
}

/** Everything one device knows about one chat. */
export interface ChatState {
  id: string;
  name?: string;
  creator: string;
  /** Admins of the current epoch. */
  admins: string[];
  /** Members of the current epoch, by client id. */
  members: Record<string, PublicIdentity>;
  current: EpochState;
  previous?: PreviousEpochState;
  /** b64u key ids of epochs older than `previous` (and of `previous` once its grace is over). */
  retiredKeyIds: string[];
  /** Highest seq seen per sender (§7). */
  seqs: Record<string, number>;
  /** Ids of the last 10 000 received messages, oldest first. */
  recentIds: string[];
  /** Ids of the last 10 000 messages this device sent, oldest first. */
  sentIds: string[];
  /** The seq this device's next chat envelope gets. */
  nextSeq: number;
  /** Members of the current epoch who sent 'leave' (cleared when the next epoch is installed). */
  departed: string[];
}

/** A sealed box for one member. */
export interface Announcement {
  to: PublicIdentity;
  wire: Uint8Array;
}

/** What the caller gives sealMessage: a chat kind and its own fields; the rest is filled in. */
export type ChatMessageInput =
  | Omit<TextContent, BaseField>
  | Omit<ReceiptContent, BaseField>
  | Omit<TypingContent, BaseField>
  | Omit<PresenceContent, BaseField>
  | Omit<LeaveContent, BaseField>
  | Omit<MovedContent, BaseField>;
type BaseField = 'v' | 'chat' | 'epoch' | 'from' | 'id' | 'seq' | 'ts';

/** A chat message that opened and passed every check. */
export interface OpenedMessage {
  content: ChatContent;
  sender: PublicIdentity;
  /** Group: a member's signature; 1:1: the peer's AEAD (§8). */
  protection: 'verified';
  /** Sequence anomalies to show the user (§7). */
  warnings: Array<'gap' | 'regression'>;
  /** The epoch the message was sealed under. */
  epoch: number;
  state: ChatState;
}

/** A direct envelope opened and addressed to this device; its signature is not verified yet. */
export interface OpenedDirect {
  content: DirectContent;
  contentBytes: Uint8Array;
  signature: Uint8Array;
  header: Uint8Array;
}

/** The inviter's answer to a join request. */
export type JoinOutcome =
  | {
      accepted: true;
      newState: ChatState;
      announcements: Announcement[];
      joiner: PublicIdentity;
      displayName?: string;
    }
  | {
      accepted: false;
      code: 'bad-invite' | 'invite-used' | 'invite-expired' | 'not-authorized';
      reason: string;
      to: PublicIdentity;
      /** A 'join-refused' direct envelope for the joiner. */
      wire: Uint8Array;
    };

const randomId = (): string => toB64u(bytes.randomBytes(ID_BYTES));
const keyIdOf = (epoch: EpochState): string => toB64u(epoch.keys.keyId);
const pushCapped = (list: string[], item: string, cap: number): string[] => {
  const next = list.length >= cap ? list.slice(list.length - cap + 1) : list.slice();
  next.push(item);
  return next;
};
const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && new Set(a).size === a.length && a.every((x) => b.includes(x));
const smallestId = (ids: Iterable<string>): string | undefined => [...ids].sort()[0];

/** Builds a state whose derived fields (admins, members) follow its current epoch. */
function assemble(
  state: Omit<ChatState, 'admins' | 'members' | 'departed'> & { departed?: string[] },
): ChatState {
  const members: Record<string, PublicIdentity> = {};
  for (const m of state.current.members) members[m.id] = m;
  const out: ChatState = {
    ...state,
    departed: [...(state.departed ?? [])],
    admins: [...state.current.admins],
    members,
  };
  if (out.name === undefined) delete out.name;
  if (out.previous === undefined) delete out.previous;
  return out;
}

async function makeEpoch(
  provider: CryptoProvider,
  number: number,
  key: Uint8Array,
  members: PublicIdentity[],
  admins: string[],
  installedAt: number,
): Promise<EpochState> {
  return { number, key, keys: await deriveEpochKeys(provider, key), members, admins, installedAt };
}

/** Moves `previous` to the retired key ids once its grace period is over. */
function retireExpired(state: ChatState, now: number): ChatState {
  if (!state.previous || now - state.previous.retiredAt <= GRACE_MS) return state;
  const { previous, ...rest } = state;
  return assemble({
    ...rest,
    retiredKeyIds: pushCapped(rest.retiredKeyIds, keyIdOf(previous), RETIRED_KEY_IDS_CAP),
  });
}

/** Installs `epoch` as current; the old current becomes previous (grace starts `now`). */
function install(state: ChatState, epoch: EpochState, now: number, name: string | undefined): ChatState {
  const retired = state.previous
    ? pushCapped(state.retiredKeyIds, keyIdOf(state.previous), RETIRED_KEY_IDS_CAP)
    : state.retiredKeyIds;
  const { admins: _a, members: _m, ...rest } = state;
  return assemble({
    ...rest,
    name,
    current: epoch,
    previous: { ...state.current, retiredAt: now },
    retiredKeyIds: retired,
    departed: [],
  });
}

/**
 * Who starts the next epoch when members leave (§2): the admin of the current epoch with the smallest id
 * who has not left; if every admin left, the remaining member with the smallest id.
 */
function successorOf(state: ChatState, alsoDeparted?: string): string | undefined {
  const gone = new Set([...state.departed, ...(alsoDeparted ? [alsoDeparted] : [])]);
  const admins = state.current.admins.filter((id) => !gone.has(id));
  if (admins.length > 0) return smallestId(admins);
  return smallestId(state.current.members.map((m) => m.id).filter((id) => !gone.has(id)));
}

/** True if `id` may start the next epoch: an admin who has not left, or the successor once all admins left. */
function mayAnnounce(state: ChatState, id: string): 'admin' | 'successor' | undefined {
  const admins = state.current.admins;
  if (admins.includes(id) && !state.departed.includes(id)) return 'admin';
  if (admins.every((a) => state.departed.includes(a)) && successorOf(state) === id) return 'successor';
  return undefined;
}

/** Creates a new chat: epoch 1 with a fresh key, only `me` as member, creator and admin. */
export async function createChat(
  provider: CryptoProvider,
  me: DeviceIdentity,
  { name, now = 0 }: { name?: string; now?: number } = {},
): Promise<ChatState> {
  const self = publicIdentity(me);
  const epoch = await makeEpoch(provider, 1, bytes.randomBytes(EPOCH_KEY_BYTES), [self], [me.clientId], now);
  return assemble({
    id: randomId(),
    name,
    creator: me.clientId,
    current: epoch,
    retiredKeyIds: [],
    seqs: {},
    recentIds: [],
    sentIds: [],
    nextSeq: 1,
  });
}

/** The display names worth announcing: members of the epoch only, and only valid names (names are optional). */
function announcedNames(
  names: Record<string, string> | undefined,
  members: PublicIdentity[],
): Record<string, string> | undefined {
  if (!names) return undefined;
  const out: Record<string, string> = {};
  for (const m of members) {
    const name = Object.prototype.hasOwnProperty.call(names, m.id) ? names[m.id] : undefined;
    if (isDisplayName(name)) out[m.id] = name;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Starts epoch n+1 (admins only): adds and removes members, and — creator only — sets the admins. Returns the new
 * state and one signed sealed box per other member of the new epoch; removed members get no key (buildRemovalNotice
 * tells them they are out). A member leaves
 * with `leave`, not by removing itself here. `names` (client id → display name) is announced for the members it
 * names, so that a joiner learns who is in the chat (§5 `names`).
 */
export async function buildEpochChange(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  options: {
    add?: PublicIdentity[];
    remove?: string[];
    admins?: string[];
    name?: string;
    names?: Record<string, string>;
    now: number;
  },
): Promise<{ newState: ChatState; announcements: Announcement[] }> {
  const { add = [], remove = [], now } = options;
  const current = state.current;
  if (!current.members.some((m) => m.id === me.clientId))
    fail('not-a-member', 'chat: I am not a member of this chat');
  const role = mayAnnounce(state, me.clientId);
  if (!role) fail('not-authorized', 'chat: only an admin may change the members');
  if (
    role === 'successor' &&
    (add.length > 0 || options.admins !== undefined || remove.some((id) => !state.departed.includes(id)))
  ) {
    fail('not-authorized', 'chat: after the admins left, the successor may only remove members who left');
  }
  if (current.number >= U32_MAX) fail('malformed', 'chat: epoch numbers are exhausted');
  for (const id of remove) {
    if (!current.members.some((m) => m.id === id))
      fail('malformed', `chat: cannot remove ${id}: not a member`);
    if (id === me.clientId) fail('malformed', 'chat: to remove yourself, leave the chat');
  }
  let members = current.members.filter((m) => !remove.includes(m.id));
  for (const joiner of add) {
    checkPublicIdentity(joiner);
    if (remove.includes(joiner.id)) fail('malformed', `chat: ${joiner.id} is both added and removed`);
    const existing = members.find((m) => m.id === joiner.id);
    if (existing && !samePublicIdentity(existing, joiner)) {
      fail('not-authorized', `chat: ${joiner.id} is already a member with other keys`);
    }
    if (!existing)
      members = [...members, { id: joiner.id, sign: joiner.sign.slice(), agree: joiner.agree.slice() }];
  }
  if (members.length === 0) fail('malformed', 'chat: an epoch needs at least one member');
  const memberIds = members.map((m) => m.id);
  let admins: string[];
  if (options.admins !== undefined) {
    if (me.clientId !== state.creator) fail('not-authorized', 'chat: only the creator names the admins');
    admins = [...new Set(options.admins)];
  } else {
    admins = current.admins.filter((id) => memberIds.includes(id));
    if (admins.length === 0) admins = [smallestId(memberIds)!];
  }
  checkEpochShape(state.creator, members, admins);
  const name = options.name ?? state.name;
  const epoch = await makeEpoch(
    provider,
    current.number + 1,
    bytes.randomBytes(EPOCH_KEY_BYTES),
    members,
    admins,
    now,
  );
  const names = announcedNames(options.names, members);
  const announcements: Announcement[] = [];
  for (const member of members) {
    if (member.id === me.clientId) continue;
    const content: EpochContent = {
      v: 1,
      kind: 'epoch',
      chat: state.id,
      epoch: epoch.number,
      from: me.clientId,
      id: randomId(),
      seq: 0,
      ts: now,
      to: member.id,
      key: toB64u(epoch.key),
      members: members.map(publicIdentityToJson),
      admins,
      creator: state.creator,
      ...(name !== undefined ? { name } : {}),
      ...(names !== undefined ? { names } : {}),
    };
    const wire = await sealDirectEnvelope(provider, member.agree, encodeContent(content), me.signing);
    announcements.push({ to: member, wire });
  }
  return { newState: install(retireExpired(state, now), epoch, now, name), announcements };
}

/** Members unique, admins unique, non-empty and members, the creator an admin while a member. */
function checkEpochShape(creator: string, members: PublicIdentity[], admins: string[]): void {
  const ids = members.map((m) => m.id);
  if (new Set(ids).size !== ids.length) fail('bad-content', 'chat: members listed twice');
  if (admins.length === 0 || new Set(admins).size !== admins.length)
    fail('bad-content', 'chat: admins empty or repeated');
  for (const id of admins) if (!ids.includes(id)) fail('bad-content', `chat: admin ${id} is not a member`);
  if (ids.includes(creator) && !admins.includes(creator))
    fail('bad-content', 'chat: the creator must stay an admin');
}

/**
 * Opens a direct envelope addressed to me (§4): decrypts, decodes a direct kind and checks `to`. The signature is
 * NOT verified: acceptAnnouncement, openJoinRequest and openJoinRefused do that with the right key.
 */
export async function openDirect(
  provider: CryptoProvider,
  me: DeviceIdentity,
  wire: Uint8Array,
): Promise<OpenedDirect> {
  const { content: contentBytes, signature, header } = await openDirectEnvelope(provider, me.agreement, wire);
  const content = decodeContent(contentBytes);
  if (isChatContent(content))
    fail('bad-content', `chat: kind ${content.kind} does not travel in a direct envelope`);
  if (content.to !== me.clientId)
    fail('wrong-recipient', 'chat: this sealed box is addressed to another device');
  return { content, contentBytes, signature, header };
}

async function verifyDirect(
  provider: CryptoProvider,
  opened: OpenedDirect,
  signer: PublicIdentity,
): Promise<void> {
  if (
    !(await verifyContentSignature(
      provider,
      signer.sign,
      opened.header,
      opened.contentBytes,
      opened.signature,
    ))
  ) {
    fail('bad-signature', `chat: signature of ${opened.content.kind} does not verify`);
  }
}

/**
 * Accepts an epoch announcement (§2): addressed to me, signed by an admin of my current epoch (or, when I have no
 * state yet because I am joining, by `expectedSigner`, the inviter), for a newer epoch. Returns the new state.
 */
export async function acceptAnnouncement(
  provider: CryptoProvider,
  state: ChatState | undefined,
  me: DeviceIdentity,
  wire: Uint8Array | OpenedDirect,
  { expectedSigner, now }: { expectedSigner?: PublicIdentity; now: number },
): Promise<ChatState> {
  const opened = wire instanceof Uint8Array ? await openDirect(provider, me, wire) : wire;
  const content = opened.content;
  if (content.kind !== 'epoch')
    fail('bad-content', `chat: expected an epoch announcement, got ${content.kind}`);
  if (content.to !== me.clientId)
    fail('wrong-recipient', 'chat: announcement is addressed to another device');
  let signer: PublicIdentity | undefined;
  if (state) {
    if (content.chat !== state.id) fail('wrong-chat', 'chat: announcement is for another chat');
    signer = state.current.members.find((m) => m.id === content.from);
    if (!signer || !mayAnnounce(state, content.from)) {
      fail(
        'not-authorized',
        `chat: announcement signer ${content.from} is not an admin of epoch ${state.current.number} (or has left)`,
      );
    }
  } else {
    if (!expectedSigner)
      fail('not-authorized', 'chat: announcement for an unknown chat and no inviter to expect');
    if (content.from !== expectedSigner.id)
      fail('not-authorized', 'chat: announcement is not from the inviter');
    signer = expectedSigner;
  }
  await verifyDirect(provider, opened, signer);
  if (state && content.epoch <= state.current.number) {
    fail('stale-epoch', `chat: epoch ${content.epoch} is not newer than ${state.current.number}`);
  }
  // A bounded step: an epoch may skip a few (announcements can arrive out of order), but a jump to 2^32 - 1
  // would leave no epoch number for the other admins to remove its author with.
  if (state && content.epoch > state.current.number + MAX_EPOCH_STEP) {
    fail(
      'not-authorized',
      `chat: epoch ${content.epoch} jumps more than ${MAX_EPOCH_STEP} past ${state.current.number}`,
    );
  }
  const members = content.members.map((m) => publicIdentityFromJson(m));
  checkEpochShape(content.creator, members, content.admins);
  const mine = members.find((m) => m.id === me.clientId);
  if (!mine || !samePublicIdentity(mine, publicIdentity(me))) {
    fail('wrong-recipient', 'chat: announcement does not list me with my keys');
  }
  if (state) {
    // The author of an epoch must be in it: otherwise it would hold the key of a chat it is not seen in.
    if (!members.some((m) => m.id === content.from))
      fail('not-authorized', 'chat: the announcing admin is not a member of the new epoch');
    if (mayAnnounce(state, content.from) === 'successor') {
      const removed = state.current.members
        .map((m) => m.id)
        .filter((id) => !members.some((m) => m.id === id));
      const added = members.filter((m) => !state.current.members.some((k) => k.id === m.id));
      if (added.length > 0 || removed.some((id) => !state.departed.includes(id)))
        fail('not-authorized', 'chat: after the admins left, the successor may only remove members who left');
    }
    if (content.creator !== state.creator) fail('not-authorized', 'chat: announcement changes the creator');
    for (const m of members) {
      const known = state.current.members.find((k) => k.id === m.id);
      if (known && !samePublicIdentity(known, m))
        fail('not-authorized', `chat: announcement changes the keys of ${m.id}`);
    }
    if (content.from !== state.creator) {
      const memberIds = members.map((m) => m.id);
      let kept = state.current.admins.filter((id) => memberIds.includes(id));
      if (kept.length === 0) kept = [smallestId(memberIds)!];
      if (!sameSet(kept, content.admins))
        fail('not-authorized', 'chat: only the creator may change the admins');
    }
  } else {
    const listed = members.find((m) => m.id === signer.id);
    if (!listed || !samePublicIdentity(listed, signer) || !content.admins.includes(signer.id)) {
      fail('not-authorized', 'chat: the inviter is not an admin member of the announced epoch');
    }
  }
  const epoch = await makeEpoch(
    provider,
    content.epoch,
    fromB64u(content.key, 'epoch key', EPOCH_KEY_BYTES),
    members,
    content.admins,
    now,
  );
  if (!state) {
    return assemble({
      id: content.chat,
      name: content.name,
      creator: content.creator,
      current: epoch,
      retiredKeyIds: [],
      seqs: {},
      recentIds: [],
      sentIds: [],
      nextSeq: 1,
    });
  }
  return install(retireExpired(state, now), epoch, now, content.name);
}

/** How far one announcement may move the epoch number (PROTOCOL.md §2). */
const MAX_EPOCH_STEP = 64;

/**
 * The notice to a member removed by the epoch change that produced `state` (§2): a sealed box to `removed`, signed
 * by me over the chat id, the new epoch's number and the recipient. It carries no key: the removed member only
 * learns that it is out, and from which epoch on.
 */
export async function buildRemovalNotice(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  removed: PublicIdentity,
  now: number,
): Promise<Announcement> {
  if (state.current.members.some((m) => m.id === removed.id))
    fail('malformed', `chat: ${removed.id} is still a member of epoch ${state.current.number}`);
  if (!state.current.admins.includes(me.clientId))
    fail('not-authorized', 'chat: only an admin tells a member it was removed');
  const content: RemovedContent = {
    v: 1,
    kind: 'removed',
    chat: state.id,
    epoch: state.current.number,
    from: me.clientId,
    id: randomId(),
    seq: 0,
    ts: now,
    to: removed.id,
  };
  const wire = await sealDirectEnvelope(provider, removed.agree, encodeContent(content), me.signing);
  return { to: removed, wire };
}

/**
 * Accepts a removal notice (§2) with the same checks as an announcement: addressed to me, for this chat, signed by
 * an admin of my current epoch (who has not left), for an epoch newer than my current one — so a member cannot
 * forge one and an old notice (I was removed, then added again) cannot evict me. Returns who removed me and when.
 */
export async function acceptRemoval(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  opened: OpenedDirect,
): Promise<{ by: string; epoch: number }> {
  const content = opened.content;
  if (content.kind !== 'removed') fail('bad-content', `chat: expected a removal notice, got ${content.kind}`);
  if (content.to !== me.clientId)
    fail('wrong-recipient', 'chat: removal notice is addressed to another device');
  if (content.chat !== state.id) fail('wrong-chat', 'chat: removal notice is for another chat');
  if (!state.current.members.some((m) => m.id === me.clientId))
    fail('not-a-member', 'chat: I am not a member of this chat');
  const signer = state.current.members.find((m) => m.id === content.from);
  if (!signer || !mayAnnounce(state, content.from) || content.from === me.clientId) {
    fail(
      'not-authorized',
      `chat: removal signer ${content.from} is not an admin of epoch ${state.current.number} (or has left)`,
    );
  }
  await verifyDirect(provider, opened, signer);
  if (content.epoch <= state.current.number)
    fail('stale-epoch', `chat: removal at epoch ${content.epoch} is not newer than ${state.current.number}`);
  if (content.epoch > state.current.number + MAX_EPOCH_STEP)
    fail(
      'not-authorized',
      `chat: removal at epoch ${content.epoch} jumps more than ${MAX_EPOCH_STEP} past ${state.current.number}`,
    );
  return { by: content.from, epoch: content.epoch };
}

/** Kinds that travel at QoS 0 and may be lost: outside the per-sender sequence (PROTOCOL.md §5, §7). */
const EPHEMERAL_KINDS = new Set<string>(['typing', 'presence']);

/** Seals a chat message under the current epoch; fills in v, chat, epoch, from, id, seq and ts; signs in groups. */
export async function sealMessage(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  input: ChatMessageInput,
  now: number,
): Promise<{ wire: Uint8Array; state: ChatState; content: ChatContent }> {
  const current = state.current;
  if (!current.members.some((m) => m.id === me.clientId))
    fail('not-a-member', 'chat: I am not a member of this chat');
  if (state.nextSeq > U32_MAX) fail('malformed', 'chat: sequence numbers are exhausted');
  // Typing and presence may be lost (QoS 0, never queued): they carry seq 0 and do not advance the counter.
  const ephemeral = EPHEMERAL_KINDS.has(input.kind);
  const content = {
    v: 1,
    ...input,
    chat: state.id,
    epoch: current.number,
    from: me.clientId,
    id: randomId(),
    seq: ephemeral ? 0 : state.nextSeq,
    ts: now,
  } as ChatContent;
  const encoded = encodeContent(content);
  if (!isChatContent(content)) fail('bad-content', 'chat: only chat kinds travel in chat envelopes');
  // 'moved' is always signed, even in a 1:1 chat: it must bind the old identity to the new one (§11).
  const signer = current.members.length > 2 || content.kind === 'moved' ? me.signing : undefined;
  const wire = await sealChatEnvelope(provider, current.keys, encoded, signer);
  const { admins: _a, members: _m, ...rest } = state;
  const next = assemble({
    ...rest,
    nextSeq: ephemeral ? state.nextSeq : state.nextSeq + 1,
    sentIds: pushCapped(state.sentIds, content.id, RECENT_IDS_CAP),
  });
  return { wire, state: next, content };
}

/**
 * Opens a chat message (§2, §3, §7): picks the epoch by key id (current, or previous within 120 s), checks chat,
 * epoch, membership and — in groups — the signature, drops duplicates and reflected own messages, and reports
 * sequence gaps and regressions. Throws a HushProtocolError for anything it does not accept.
 */
export async function openMessage(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  wire: Uint8Array,
  now: number,
): Promise<OpenedMessage> {
  const fresh = retireExpired(state, now);
  const peeked = peekEnvelope(wire);
  if (peeked.version !== 1) fail('malformed', 'chat: a sealed box is not a chat message');
  const keyId = toB64u(peeked.keyId);
  let epoch: EpochState;
  if (keyId === keyIdOf(fresh.current)) epoch = fresh.current;
  else if (fresh.previous && keyId === keyIdOf(fresh.previous)) epoch = fresh.previous;
  else if (fresh.retiredKeyIds.includes(keyId))
    return fail('old-epoch', 'chat: message under a retired epoch');
  else return fail('unknown-key', 'chat: no epoch of this chat has this key id');
  const opened = await openChatEnvelope(provider, epoch.keys, wire);
  const content = decodeContent(opened.content);
  if (!isChatContent(content))
    fail('bad-content', `chat: kind ${content.kind} does not travel in a chat envelope`);
  if (content.chat !== fresh.id) fail('wrong-chat', 'chat: message names another chat');
  if (content.epoch !== epoch.number) {
    fail('bad-content', `chat: message says epoch ${content.epoch} but its key is epoch ${epoch.number}`);
  }
  const sender = epoch.members.find((m) => m.id === content.from);
  if (!sender) fail('not-a-member', `chat: sender ${content.from} is not a member of epoch ${epoch.number}`);
  const group = epoch.members.length > 2;
  if (group && !opened.signature) fail('unsigned', 'chat: group messages must be signed');
  if (opened.signature) {
    const ok = await verifyContentSignature(
      provider,
      sender.sign,
      opened.header,
      opened.content,
      opened.signature,
    );
    if (!ok) fail('bad-signature', `chat: signature of ${content.from} does not verify`);
  }
  if (content.from === me.clientId) {
    if (fresh.sentIds.includes(content.id)) fail('duplicate', 'chat: my own message came back');
    fail('not-authorized', 'chat: a message from me that I never sent (reflected or forged)');
  }
  if (fresh.recentIds.includes(content.id)) fail('duplicate', 'chat: message already seen');
  let moved: PublicIdentity | undefined;
  if (content.kind === 'moved') {
    if (!opened.signature) fail('unsigned', 'chat: a moved message must be signed by the old identity');
    moved = await checkMoved(provider, fresh, epoch, content);
  }
  const warnings: Array<'gap' | 'regression'> = [];
  const highest = Object.prototype.hasOwnProperty.call(fresh.seqs, content.from)
    ? fresh.seqs[content.from]!
    : undefined;
  const ephemeral = EPHEMERAL_KINDS.has(content.kind);
  if (!ephemeral && highest !== undefined && content.seq > highest + 1) warnings.push('gap');
  if (!ephemeral && highest !== undefined && content.seq <= highest) warnings.push('regression');
  const { admins: _a, members: _m, ...rest } = fresh;
  const opened_ = assemble({
    ...rest,
    seqs: ephemeral ? fresh.seqs : { ...fresh.seqs, [content.from]: Math.max(highest ?? 0, content.seq) },
    departed:
      content.kind === 'leave' && !fresh.departed.includes(content.from)
        ? [...fresh.departed, content.from]
        : fresh.departed,
    recentIds: pushCapped(fresh.recentIds, content.id, RECENT_IDS_CAP),
  });
  const next = moved ? replaceMember(opened_, content.from, moved) : opened_;
  return { content, sender, protection: 'verified', warnings, epoch: epoch.number, state: next };
}

/** The bytes the new identity signs in a 'moved' message (§11). */
function movedSignedData(chat: string, epoch: number, oldId: string, next: PublicIdentity): Uint8Array {
  return bytes.concat(
    bytes.utf8('hush/v1 moved'),
    fromB64u(chat, 'chat id', ID_BYTES),
    bytes.u32(epoch),
    fromB64u(oldId, 'client id', ID_BYTES),
    fromB64u(next.id, 'client id', ID_BYTES),
    next.sign,
    next.agree,
  );
}

/** Checks a 'moved' message's rules (§11) and returns the sender's new public identity. */
async function checkMoved(
  provider: CryptoProvider,
  state: ChatState,
  epoch: EpochState,
  content: MovedContent,
): Promise<PublicIdentity> {
  if (epoch !== state.current)
    fail('old-epoch', 'chat: a moved message must be sealed under the current epoch');
  if (state.departed.includes(content.from)) fail('not-authorized', 'chat: a member who left cannot move');
  const next = publicIdentityFromJson(content.member);
  checkPublicIdentity(next);
  if (state.current.members.some((m) => m.id === next.id) || next.id === state.creator)
    fail('not-authorized', 'chat: a member cannot move to an id that is already in the chat');
  const proof = fromB64u(content.proof, 'moved proof', 64);
  const ok = await verifySignature(
    provider,
    next.sign,
    proof,
    movedSignedData(state.id, epoch.number, content.from, next),
  );
  if (!ok) fail('bad-signature', 'chat: the new identity did not sign the move');
  return next;
}

async function verifySignature(
  provider: CryptoProvider,
  key: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  try {
    return await provider.verify(key, signature, data);
  } catch {
    return false;
  }
}

/** Replaces member `oldId` by `next` in the current epoch (members, admins, creator); the previous epoch keeps it. */
function replaceMember(state: ChatState, oldId: string, next: PublicIdentity): ChatState {
  const current: EpochState = {
    ...state.current,
    members: state.current.members.map((m) =>
      m.id === oldId ? { id: next.id, sign: next.sign.slice(), agree: next.agree.slice() } : m,
    ),
    admins: state.current.admins.map((id) => (id === oldId ? next.id : id)),
  };
  const { admins: _a, members: _m, ...rest } = state;
  return assemble({ ...rest, current, creator: state.creator === oldId ? next.id : state.creator });
}

/**
 * Seed mode (§11): the 'moved' input with which `me` announces that it continues in this chat as `next` (a fresh
 * identity): the new identity's signature over chat, epoch, old id and new identity. Seal it with sealMessage
 * (which signs it with `me`), then switch with `moveSelf`.
 */
export async function movedInput(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  next: DeviceIdentity,
): Promise<Omit<MovedContent, BaseField>> {
  const pub = publicIdentity(next);
  if (state.current.members.some((m) => m.id === pub.id))
    fail('malformed', 'chat: the new identity is already a member');
  const proof = await provider.sign(
    next.signing.privateKey,
    movedSignedData(state.id, state.current.number, me.clientId, pub),
  );
  return { kind: 'moved', member: publicIdentityToJson(pub), proof: toB64u(proof) };
}

/** This device's chat state as `next` after it sent 'moved' as `me` (§11): sequence numbers restart at 1. */
export function moveSelf(state: ChatState, me: DeviceIdentity, next: DeviceIdentity): ChatState {
  if (!state.current.members.some((m) => m.id === me.clientId))
    fail('not-a-member', 'chat: I am not a member of this chat');
  const moved = replaceMember(state, me.clientId, publicIdentity(next));
  const { admins: _a, members: _m, ...rest } = moved;
  return assemble({ ...rest, nextSeq: 1 });
}

/**
 * True if `me` starts the next epoch after the non-admin `leaver` sent 'leave': the admin with the smallest id.
 * An admin who leaves announces the next epoch itself, so this is false for admins.
 */
export function handlesLeave(state: ChatState, me: DeviceIdentity, leaver: string): boolean {
  if (leaver === me.clientId || !state.current.members.some((m) => m.id === leaver)) return false;
  return successorOf(state, leaver) === me.clientId;
}

/**
 * Leaves the chat: a 'leave' message under the current epoch and, if I am an admin, the next epoch without me
 * (announced by me; if no admin remains, the member with the smallest id becomes one). A non-admin's leave is
 * turned into an epoch by the admin for whom handlesLeave is true. The chat is unusable for me afterwards.
 */
export async function leave(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  now: number,
): Promise<{ wire: Uint8Array; announcements: Announcement[] }> {
  // Only the 'leave' message: the next epoch is started by a member who stays (handlesLeave), never by
  // the leaver, who would otherwise generate — and keep — the key of an epoch it is not in.
  const { wire } = await sealMessage(provider, state, me, { kind: 'leave' }, now);
  return { wire, announcements: [] };
}

/** The joiner's request (§6): a sealed box to the inviter with the invite id and the proof of the secret. */
export async function joinRequest(
  provider: CryptoProvider,
  me: DeviceIdentity,
  invite: Invite,
  displayName?: string,
  now: number = Date.now(),
): Promise<Uint8Array> {
  const self = publicIdentity(me);
  const id = toB64u(await deriveInviteId(provider, invite.secret));
  const content: JoinRequestContent = {
    v: 1,
    kind: 'join-request',
    // The joiner does not know the chat yet: a join request names the invite as its chat, epoch 0.
    chat: id,
    epoch: 0,
    from: me.clientId,
    id: randomId(),
    seq: 0,
    ts: now,
    to: invite.inviter.id,
    invite: id,
    proof: toB64u(await joinProof(provider, invite.secret, self)),
    joiner: publicIdentityToJson(self),
    ...(displayName !== undefined ? { displayName } : {}),
  };
  return sealDirectEnvelope(provider, invite.inviter.agree, encodeContent(content), me.signing);
}

/** Opens a join request addressed to me and verifies it is signed by the joiner it names (proof not checked). */
export async function openJoinRequest(
  provider: CryptoProvider,
  me: DeviceIdentity,
  wire: Uint8Array | OpenedDirect,
): Promise<{ request: JoinRequestContent; joiner: PublicIdentity }> {
  const opened = wire instanceof Uint8Array ? await openDirect(provider, me, wire) : wire;
  const request = opened.content;
  if (request.kind !== 'join-request')
    fail('bad-content', `chat: expected a join request, got ${request.kind}`);
  const joiner = publicIdentityFromJson(request.joiner);
  if (joiner.id !== request.from) fail('bad-content', 'chat: join request from one device for another');
  if (request.chat !== request.invite || request.epoch !== 0) {
    fail('bad-content', 'chat: a join request names its invite as chat, with epoch 0');
  }
  await verifyDirect(provider, opened, joiner);
  return { request, joiner };
}

/** Opens a 'join-refused' answer addressed to me and verifies it is signed by the inviter. */
export async function openJoinRefused(
  provider: CryptoProvider,
  me: DeviceIdentity,
  wire: Uint8Array | OpenedDirect,
  inviter: PublicIdentity,
): Promise<JoinRefusedContent> {
  const opened = wire instanceof Uint8Array ? await openDirect(provider, me, wire) : wire;
  const refusal = opened.content;
  if (refusal.kind !== 'join-refused')
    fail('bad-content', `chat: expected a join refusal, got ${refusal.kind}`);
  if (refusal.from !== inviter.id) fail('not-authorized', 'chat: join refusal is not from the inviter');
  await verifyDirect(provider, opened, inviter);
  return refusal;
}

/**
 * The inviter's side of a join (§6): checks the request's signature, that the invite is known, unexpired, for this
 * chat and has uses left, and the proof; then uses the invite once and starts the next epoch with the joiner. A
 * refused join yields a signed 'join-refused' box for the joiner. Unreadable or misaddressed requests throw.
 * `names` are the members' display names the inviter knows; the announcement carries them with the joiner's own.
 */
export async function handleJoinRequest(
  provider: CryptoProvider,
  state: ChatState,
  me: DeviceIdentity,
  book: InviteBook,
  wire: Uint8Array | OpenedDirect,
  now: number,
  { names }: { names?: Record<string, string> } = {},
): Promise<JoinOutcome> {
  const { request, joiner } = await openJoinRequest(provider, me, wire);
  const refuse = async (
    code: Extract<JoinOutcome, { accepted: false }>['code'],
    reason: string,
  ): Promise<JoinOutcome> => {
    const content: JoinRefusedContent = {
      v: 1,
      kind: 'join-refused',
      chat: request.invite,
      epoch: 0,
      from: me.clientId,
      id: randomId(),
      seq: 0,
      ts: now,
      to: joiner.id,
      invite: request.invite,
      reason,
    };
    const refusal = await sealDirectEnvelope(provider, joiner.agree, encodeContent(content), me.signing);
    return { accepted: false, code, reason, to: joiner, wire: refusal };
  };
  const check = book.check(request.invite, now, joiner.id);
  if (!check.ok) return refuse(check.code, check.reason);
  const existing = state.current.members.find((m) => m.id === joiner.id);
  if (existing && !samePublicIdentity(existing, joiner)) {
    return refuse('not-authorized', `chat: ${joiner.id} is already a member with other keys`);
  }
  if (existing) return refuse('invite-used', 'chat: this device is already a member');
  if (check.invite.chat !== state.id) return refuse('bad-invite', 'invite: not an invite to this chat');
  const proof = fromB64u(request.proof, 'join proof', 32);
  if (!(await verifyJoinProof(provider, check.invite.secret, joiner, proof))) {
    return refuse('bad-invite', 'invite: the join proof does not match the invite');
  }
  if (!state.current.admins.includes(me.clientId))
    return refuse('not-authorized', 'chat: the inviter is no longer an admin');
  let change: { newState: ChatState; announcements: Announcement[] };
  try {
    const withJoiner =
      request.displayName !== undefined ? { ...names, [joiner.id]: request.displayName } : names;
    change = await buildEpochChange(provider, state, me, {
      add: [joiner],
      now,
      ...(withJoiner !== undefined ? { names: withJoiner } : {}),
    });
  } catch (error) {
    if (error instanceof HushProtocolError && error.code === 'not-authorized')
      return refuse('not-authorized', error.message);
    throw error;
  }
  const used = book.consume(request.invite, now, joiner.id);
  if (!used.ok) return refuse(used.code, used.reason);
  return {
    accepted: true,
    ...change,
    joiner,
    ...(request.displayName !== undefined ? { displayName: request.displayName } : {}),
  };
}

const epochJsonSchema = z.strictObject({
  number: z.number().int().min(1).max(U32_MAX),
  key: z.string(),
  members: z.array(publicIdentityJsonSchema).min(1),
  admins: z.array(clientIdSchema).min(1),
  installedAt: z.number().int(),
});
const chatJsonSchema = z.strictObject({
  v: z.literal(1),
  id: clientIdSchema,
  name: z.string().optional(),
  creator: clientIdSchema,
  current: epochJsonSchema,
  previous: epochJsonSchema.extend({ retiredAt: z.number().int() }).optional(),
  retiredKeyIds: z.array(z.string()).max(RETIRED_KEY_IDS_CAP),
  seqs: z.record(clientIdSchema, z.number().int().min(0).max(U32_MAX)),
  recentIds: z.array(z.string()).max(RECENT_IDS_CAP),
  sentIds: z.array(z.string()).max(RECENT_IDS_CAP),
  departed: z.array(clientIdSchema).max(1000).optional(),
  nextSeq: z
    .number()
    .int()
    .min(1)
    .max(U32_MAX + 1),
});
/** The JSON form of a chat state (keys as b64u). It holds the epoch keys: store it like a private key. */
export type ChatStateJson = z.infer<typeof chatJsonSchema>;

const epochToJson = (e: EpochState) => ({
  number: e.number,
  key: toB64u(e.key),
  members: e.members.map(publicIdentityToJson),
  admins: [...e.admins],
  installedAt: e.installedAt,
});

/** Serializes a chat state to JSON-safe data (keys as b64u; derived keys are re-derived on load). */
export function serializeChat(state: ChatState): ChatStateJson {
  return {
    v: 1,
    id: state.id,
    ...(state.name !== undefined ? { name: state.name } : {}),
    creator: state.creator,
    current: epochToJson(state.current),
    ...(state.previous
      ? { previous: { ...epochToJson(state.previous), retiredAt: state.previous.retiredAt } }
      : {}),
    retiredKeyIds: [...state.retiredKeyIds],
    seqs: { ...state.seqs },
    recentIds: [...state.recentIds],
    sentIds: [...state.sentIds],
    nextSeq: state.nextSeq,
    ...(state.departed.length > 0 ? { departed: [...state.departed] } : {}),
  };
}

/** Restores a chat state from serializeChat's output, validating it; throws 'malformed' ("chat: …"). */
export async function deserializeChat(provider: CryptoProvider, json: unknown): Promise<ChatState> {
  const parsed = chatJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(
      'malformed',
      `chat: bad stored chat (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'})`,
    );
  }
  const data = parsed.data;
  const loadEpoch = async (e: z.infer<typeof epochJsonSchema>): Promise<EpochState> => {
    const members = e.members.map((m) => publicIdentityFromJson(m));
    try {
      checkEpochShape(data.creator, members, e.admins);
    } catch (error) {
      if (error instanceof HushProtocolError) fail('malformed', error.message);
      throw error;
    }
    return makeEpoch(
      provider,
      e.number,
      fromB64u(e.key, 'chat: epoch key', EPOCH_KEY_BYTES),
      members,
      e.admins,
      e.installedAt,
    );
  };
  const current = await loadEpoch(data.current);
  const previous = data.previous
    ? { ...(await loadEpoch(data.previous)), retiredAt: data.previous.retiredAt }
    : undefined;
  if (previous && previous.number >= current.number)
    fail('malformed', 'chat: previous epoch is not older than current');
  for (const id of [...data.retiredKeyIds]) fromB64u(id, 'chat: retired key id', 8);
  for (const id of [...data.recentIds, ...data.sentIds]) fromB64u(id, 'chat: message id', ID_BYTES);
  return assemble({
    id: data.id,
    name: data.name,
    creator: data.creator,
    current,
    previous,
    retiredKeyIds: data.retiredKeyIds,
    seqs: { ...data.seqs },
    recentIds: data.recentIds,
    sentIds: data.sentIds,
    nextSeq: data.nextSeq,
    departed: data.departed ?? [],
  });
}
