// Content objects, the JSON inside every envelope: docs/PROTOCOL.md §5.
//
// Every object has v, kind, chat, epoch, from, id, seq, ts plus the fields of its kind; extra fields are
// rejected ('bad-content'), unknown kinds are rejected ('unknown-kind', never ignored), any v other than 1 is
// 'unknown-version'. Chat kinds travel in chat envelopes (seq ≥ 1); direct kinds in direct envelopes (seq 0).
// Decoding is strict UTF-8 JSON validated by zod; encoding validates too, so Hush never sends what it would reject.

import { z } from 'zod';
import { fromUtf8, utf8 } from './bytes.ts';
import { fail } from './errors.ts';
import { b64uBytes, clientIdSchema, ID_BYTES, publicIdentityJsonSchema } from './identity.ts';
import { findDuplicateKey } from './json-duplicates.ts';

/** Largest u32. */
const U32_MAX = 0xffffffff;
/** Limits not fixed by §5, chosen here (code points). */
export const LIMITS = {
  textMax: 65536,
  receiptIdsMax: 256,
  nameMax: 200,
  displayNameMax: 100,
  reasonMax: 500,
  membersMax: 1000,
} as const;

/** Counts Unicode code points, so limits do not depend on UTF-16. */
const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
const boundedString = (min: number, max: number) =>
  z.string().refine((s) => {
    const n = codePoints(s);
    return n >= min && n <= max;
  }, `expected ${min}..${max} characters`);

/** True if `name` is a valid display name (1..100 code points), as join requests and epoch names carry. */
export function isDisplayName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  const n = codePoints(name);
  return n >= 1 && n <= LIMITS.displayNameMax;
}

const idSchema = b64uBytes(ID_BYTES);
const u32 = z.number().int().min(0).max(U32_MAX);

const common = {
  v: z.literal(1),
  chat: idSchema,
  from: clientIdSchema,
  id: idSchema,
  ts: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
};
/** Fields of chat kinds: epoch ≥ 1, seq ≥ 1. */
const chatCommon = { ...common, epoch: u32.min(1), seq: u32.min(1) };
/**
 * Fields of ephemeral chat kinds (typing, presence): sent at QoS 0 and never queued, so they may be lost;
 * they carry seq 0 and take no part in gap detection, or every lost one would look like a missing message.
 */
const ephemeralCommon = { ...common, epoch: u32.min(1), seq: z.literal(0) };
/** Fields of direct kinds: seq is 0; epoch is 0 when the chat is not known yet (join-request, join-refused). */
const directCommon = { ...common, epoch: u32, seq: z.literal(0) };

export const textSchema = z.strictObject({
  ...chatCommon,
  kind: z.literal('text'),
  text: boundedString(1, LIMITS.textMax),
  replyTo: idSchema.optional(),
});
export const receiptSchema = z.strictObject({
  ...chatCommon,
  kind: z.literal('receipt'),
  status: z.enum(['delivered', 'read']),
  ids: z.array(idSchema).min(1).max(LIMITS.receiptIdsMax),
});
export const typingSchema = z.strictObject({
  ...ephemeralCommon,
  kind: z.literal('typing'),
  active: z.boolean(),
});
export const presenceSchema = z.strictObject({
  ...ephemeralCommon,
  kind: z.literal('presence'),
  state: z.enum(['online', 'away', 'offline']),
});
export const leaveSchema = z.strictObject({ ...chatCommon, kind: z.literal('leave') });
/**
 * Seed mode (PROTOCOL.md §11): the sender replaces its own identity in the chat by `member` (a fresh client id and
 * keys). Always signed by the old identity; `proof` is the new identity's signature binding it to the old one.
 */
export const movedSchema = z.strictObject({
  ...chatCommon,
  kind: z.literal('moved'),
  member: publicIdentityJsonSchema,
  proof: b64uBytes(64),
});
export const epochSchema = z
  .strictObject({
    ...directCommon,
    epoch: u32.min(1),
    kind: z.literal('epoch'),
    to: clientIdSchema,
    key: b64uBytes(32),
    members: z.array(publicIdentityJsonSchema).min(1).max(LIMITS.membersMax),
    admins: z.array(clientIdSchema).min(1).max(LIMITS.membersMax),
    creator: clientIdSchema,
    name: boundedString(1, LIMITS.nameMax).optional(),
    /**
     * Optional display names of members (client id → name), so a joiner learns the names the announcer knows
     * (PROTOCOL.md §5). Only members may be named; a name is a label chosen by its owner, not an authenticated fact.
     */
    names: z
      .record(clientIdSchema, boundedString(1, LIMITS.displayNameMax))
      .refine((names) => Object.keys(names).length <= LIMITS.membersMax, 'too many names')
      .optional(),
  })
  .refine(
    (c) => {
      if (c.names === undefined) return true;
      const ids = new Set(c.members.map((m) => m.id));
      return Object.keys(c.names).every((id) => ids.has(id));
    },
    { message: 'names may only name members', path: ['names'] },
  );
export const joinRequestSchema = z.strictObject({
  ...directCommon,
  kind: z.literal('join-request'),
  to: clientIdSchema,
  invite: idSchema,
  proof: b64uBytes(32),
  joiner: publicIdentityJsonSchema,
  displayName: boundedString(1, LIMITS.displayNameMax).optional(),
});
export const joinRefusedSchema = z.strictObject({
  ...directCommon,
  kind: z.literal('join-refused'),
  to: clientIdSchema,
  invite: idSchema,
  reason: boundedString(1, LIMITS.reasonMax),
});

/**
 * Tells a removed member it was removed (PROTOCOL.md §2): sent by the removing admin with `epoch` = the first epoch
 * without the recipient. It carries no key; the signature over chat, epoch and `to` is what makes it count.
 */
export const removedSchema = z.strictObject({
  ...directCommon,
  epoch: u32.min(1),
  kind: z.literal('removed'),
  to: clientIdSchema,
});

/** Every content schema by kind. */
export const contentSchemas = {
  text: textSchema,
  receipt: receiptSchema,
  typing: typingSchema,
  presence: presenceSchema,
  leave: leaveSchema,
  moved: movedSchema,
  epoch: epochSchema,
  'join-request': joinRequestSchema,
  'join-refused': joinRefusedSchema,
  removed: removedSchema,
} as const;

export type TextContent = z.infer<typeof textSchema>;
export type ReceiptContent = z.infer<typeof receiptSchema>;
export type TypingContent = z.infer<typeof typingSchema>;
export type PresenceContent = z.infer<typeof presenceSchema>;
export type LeaveContent = z.infer<typeof leaveSchema>;
export type MovedContent = z.infer<typeof movedSchema>;
export type EpochContent = z.infer<typeof epochSchema>;
export type JoinRequestContent = z.infer<typeof joinRequestSchema>;
export type JoinRefusedContent = z.infer<typeof joinRefusedSchema>;
export type RemovedContent = z.infer<typeof removedSchema>;
/** Content carried in chat envelopes. */
export type ChatContent =
  TextContent | ReceiptContent | TypingContent | PresenceContent | LeaveContent | MovedContent;
/** Content carried in direct envelopes. */
export type DirectContent = EpochContent | JoinRequestContent | JoinRefusedContent | RemovedContent;
/** Any content object (§5). */
export type Content = ChatContent | DirectContent;
export type ContentKind = Content['kind'];
export type ChatKind = ChatContent['kind'];
export type DirectKind = DirectContent['kind'];

/** Kinds that travel in chat envelopes. */
export const CHAT_KINDS: readonly ChatKind[] = ['text', 'receipt', 'typing', 'presence', 'leave', 'moved'];
/** Kinds that travel in direct envelopes. */
export const DIRECT_KINDS: readonly DirectKind[] = ['epoch', 'join-request', 'join-refused', 'removed'];

/** True for the kinds that travel in chat envelopes. */
export function isChatContent(content: Content): content is ChatContent {
  return (CHAT_KINDS as readonly string[]).includes(content.kind);
}

const isKind = (kind: string): kind is ContentKind =>
  Object.prototype.hasOwnProperty.call(contentSchemas, kind);

/** Validates an already-parsed JSON value as content; throws 'unknown-version', 'unknown-kind' or 'bad-content'. */
export function parseContent(value: unknown): Content {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('bad-content', 'content: not a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(record, 'v')) fail('bad-content', 'content: missing field v');
  if (record.v !== 1) fail('unknown-version', `content: unknown version ${JSON.stringify(record.v)}`);
  const kind = record.kind;
  if (typeof kind !== 'string') fail('bad-content', 'content: kind must be a string');
  if (!isKind(kind)) fail('unknown-kind', `content: unknown kind ${JSON.stringify(kind.slice(0, 40))}`);
  const parsed = contentSchemas[kind].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    const what =
      issue?.code === 'unrecognized_keys'
        ? `extra field(s) ${issue.keys.join(', ')}`
        : (issue?.message ?? 'invalid');
    fail('bad-content', `content: bad ${kind} (${where}${what})`);
  }
  return parsed.data;
}

/** Encodes content as UTF-8 JSON, validating it first (throws like decodeContent). */
export function encodeContent(content: Content): Uint8Array {
  return utf8(JSON.stringify(parseContent(content)));
}

/** Decodes UTF-8 JSON content strictly into the typed union (§5). */
export function decodeContent(bytes: Uint8Array): Content {
  let value: unknown;
  let text: string;
  try {
    text = fromUtf8(bytes, 'content');
    value = JSON.parse(text);
  } catch {
    return fail('bad-content', 'content: not UTF-8 JSON');
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined)
    fail('bad-content', `content: the key ${JSON.stringify(duplicate)} appears twice`);
  return parseContent(value);
}
