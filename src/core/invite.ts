// Invite links, join proofs and the inviter's book of issued invites: docs/PROTOCOL.md §6.
//
// A link is `<server>/#invite=<b64u(JSON)>`; the JSON carries a one-time 256-bit secret, the inviter's public
// identity, the inbox that receives join requests, the server URL and optional `exp`/`uses`. The fragment never
// reaches the server but is a bearer secret. inviteId and the proof key are HKDF outputs of the secret; a joiner
// proves knowledge of the secret with HMAC(proofKey, "hush/v1 join" ‖ joiner's public identity).
// Parsing is strict: one spelling per invite (canonical JSON, field order as in §6), unknown fields and versions
// rejected, the link's base must be the server it names.

import { z } from 'zod';
import * as bytes from './bytes.ts';
import { concat, equalBytes, fromB64u, fromUtf8, toB64u, utf8 } from './bytes.ts';
import type { CryptoProvider } from './crypto/provider.ts';
import { fail, HushProtocolError } from './errors.ts';
import {
  b64uBytes,
  checkPublicIdentity,
  clientIdSchema,
  ID_BYTES,
  publicIdentityFromJson,
  publicIdentityJsonSchema,
  publicIdentityToJson,
  type PublicIdentity,
} from './identity.ts';

/** Bytes in an invite secret. */
export const INVITE_SECRET_BYTES = 32;
/** The fragment parameter that carries the invite. */
const FRAGMENT = '#invite=';
const MAX_SERVER_LENGTH = 2048;
const MAX_LINK_LENGTH = 8192;
const EMPTY = new Uint8Array(0);
const INVITE_ID_INFO = utf8('hush/v1 invite id');
const PROOF_KEY_INFO = utf8('hush/v1 invite proof');
const JOIN_LABEL = utf8('hush/v1 join');

/** A parsed, validated invite (§6). `uses` defaults to 1, `exp` to none. */
export interface Invite {
  v: 1;
  secret: Uint8Array;
  inviter: PublicIdentity;
  inbox: string;
  server: string;
  exp?: number;
  uses?: number;
}

const inviteJsonSchema = z.strictObject({
  v: z.literal(1),
  secret: b64uBytes(INVITE_SECRET_BYTES),
  inviter: publicIdentityJsonSchema,
  inbox: clientIdSchema,
  server: z.string(),
  exp: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  uses: z.number().int().min(1).max(0xffffffff).optional(),
});

/** Checks a server URL for an invite: absolute http(s), printable ASCII, no credentials, query or fragment. */
export function checkServerUrl(server: string): string {
  if (typeof server !== 'string' || server.length === 0 || server.length > MAX_SERVER_LENGTH) {
    fail('bad-invite', `invite: server must be a URL of 1..${MAX_SERVER_LENGTH} characters`);
  }
  if (!/^[\x21-\x7e]+$/.test(server))
    fail('bad-invite', 'invite: server URL has spaces or non-ASCII characters');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail('bad-invite', `invite: server is not a URL: ${JSON.stringify(server.slice(0, 80))}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    fail('bad-invite', `invite: server must be http(s), got ${JSON.stringify(url.protocol)}`);
  }
  if (url.username || url.password) fail('bad-invite', 'invite: server URL must not carry credentials');
  if (server.includes('#') || server.includes('?'))
    fail('bad-invite', 'invite: server URL must not have a query or fragment');
  return server;
}

/** The link prefix for a server: the URL without trailing slashes, then "/". */
const linkBase = (server: string): string => `${server.replace(/\/+$/, '')}/`;

/** The canonical JSON of an invite: fields in the order of §6, no whitespace. */
function canonicalInviteJson(invite: Invite): string {
  const json: Record<string, unknown> = {
    v: 1,
    secret: toB64u(invite.secret),
    inviter: publicIdentityToJson(invite.inviter),
    inbox: invite.inbox,
    server: invite.server,
  };
  if (invite.exp !== undefined) json.exp = invite.exp;
  if (invite.uses !== undefined) json.uses = invite.uses;
  return JSON.stringify(json);
}

/** Validates an invite's fields; throws 'bad-invite' ("invite: …"). */
function checkInvite(invite: Invite): Invite {
  const parsed = inviteJsonSchema.safeParse({
    v: invite.v,
    secret: invite.secret instanceof Uint8Array ? toB64u(invite.secret) : invite.secret,
    inviter: wrap(() => publicIdentityToJson(invite.inviter)),
    inbox: invite.inbox,
    server: invite.server,
    ...(invite.exp !== undefined ? { exp: invite.exp } : {}),
    ...(invite.uses !== undefined ? { uses: invite.uses } : {}),
  });
  if (!parsed.success) fail('bad-invite', `invite: ${describeIssue(parsed.error)}`);
  checkServerUrl(invite.server);
  return invite;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  if (issue.code === 'unrecognized_keys') return `${where}unknown field(s) ${issue.keys.join(', ')}`;
  return `${where}${issue.message}`;
}

/** Runs `f`, turning any protocol error into 'bad-invite' with the same message. */
function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof HushProtocolError) fail('bad-invite', `invite: ${error.message}`);
    throw error;
  }
}

/** Encodes an invite as a link `<server>/#invite=<b64u(canonical JSON)>` (validated first). */
export function encodeInviteLink(invite: Invite): string {
  checkInvite(invite);
  return `${linkBase(invite.server)}${FRAGMENT}${toB64u(utf8(canonicalInviteJson(invite)))}`;
}

/**
 * Parses and validates an invite link; throws 'bad-invite' (with the reason) for anything but one canonical,
 * version-1 invite whose link base is its own server, and 'invite-expired' when `now` is given and past `exp`.
 */
export function parseInviteLink(link: string, { now }: { now?: number } = {}): Invite {
  if (typeof link !== 'string' || link.length > MAX_LINK_LENGTH)
    fail('bad-invite', 'invite: link too long or not text');
  const at = link.indexOf(FRAGMENT);
  if (at < 0) fail('bad-invite', 'invite: link has no "#invite=" fragment');
  const payload = link.slice(at + FRAGMENT.length);
  const raw = wrap(() => fromB64u(payload, 'invite payload'));
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(raw, 'invite payload'));
  } catch {
    return fail('bad-invite', 'invite: payload is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('bad-invite', 'invite: not a JSON object');
  const version = (value as Record<string, unknown>).v;
  if (version !== 1) fail('bad-invite', `invite: unknown version ${JSON.stringify(version)}`);
  const parsed = inviteJsonSchema.safeParse(value);
  if (!parsed.success) fail('bad-invite', `invite: ${describeIssue(parsed.error)}`);
  const json = parsed.data;
  checkServerUrl(json.server);
  const invite: Invite = {
    v: 1,
    secret: fromB64u(json.secret, 'invite secret', INVITE_SECRET_BYTES),
    inviter: wrap(() => publicIdentityFromJson(json.inviter)),
    inbox: json.inbox,
    server: json.server,
    ...(json.exp !== undefined ? { exp: json.exp } : {}),
    ...(json.uses !== undefined ? { uses: json.uses } : {}),
  };
  if (canonicalInviteJson(invite) !== fromUtf8(raw, 'invite payload')) {
    fail(
      'bad-invite',
      'invite: payload is not in canonical form (field order, whitespace or escapes differ)',
    );
  }
  if (link.slice(0, at) !== linkBase(invite.server)) {
    fail(
      'bad-invite',
      `invite: link does not start with its server ${JSON.stringify(linkBase(invite.server))}`,
    );
  }
  if (now !== undefined && invite.exp !== undefined && now >= invite.exp) {
    fail('invite-expired', `invite: expired at ${new Date(invite.exp).toISOString()}`);
  }
  return invite;
}

/** inviteId = HKDF(secret, "", "hush/v1 invite id", 16). */
export function inviteId(provider: CryptoProvider, secret: Uint8Array): Promise<Uint8Array> {
  checkSecret(secret);
  return provider.hkdfSha256(secret, EMPTY, INVITE_ID_INFO, ID_BYTES);
}

function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length !== INVITE_SECRET_BYTES) {
    fail('bad-invite', `invite: secret must be ${INVITE_SECRET_BYTES} bytes`);
  }
}

/** proof = HMAC-SHA256(HKDF(secret, "", "hush/v1 invite proof", 32), "hush/v1 join" ‖ joinerId[16] ‖ sign ‖ agree). */
export async function joinProof(
  provider: CryptoProvider,
  secret: Uint8Array,
  joiner: PublicIdentity,
): Promise<Uint8Array> {
  checkSecret(secret);
  wrap(() => checkPublicIdentity(joiner));
  const proofKey = await provider.hkdfSha256(secret, EMPTY, PROOF_KEY_INFO, 32);
  try {
    return await provider.hmacSha256(
      proofKey,
      concat(JOIN_LABEL, fromB64u(joiner.id, 'joiner id', ID_BYTES), joiner.sign, joiner.agree),
    );
  } finally {
    proofKey.fill(0);
  }
}

/** Checks a join proof in constant time; false for any mismatch. */
export async function verifyJoinProof(
  provider: CryptoProvider,
  secret: Uint8Array,
  joiner: PublicIdentity,
  proof: Uint8Array,
): Promise<boolean> {
  const expected = await joinProof(provider, secret, joiner);
  return proof instanceof Uint8Array && equalBytes(expected, proof);
}

/** Creates a fresh invite (random secret) and its link; `uses` defaults to 1 (single-use), `exp` to none. */
export async function createInvite(
  provider: CryptoProvider,
  options: { inviter: PublicIdentity; inbox: string; server: string; exp?: number; uses?: number },
): Promise<{ link: string; secret: Uint8Array; inviteId: Uint8Array; invite: Invite }> {
  const invite: Invite = {
    v: 1,
    secret: bytes.randomBytes(INVITE_SECRET_BYTES),
    inviter: options.inviter,
    inbox: options.inbox,
    server: options.server,
    ...(options.exp !== undefined ? { exp: options.exp } : {}),
    ...(options.uses !== undefined ? { uses: options.uses } : {}),
  };
  const link = encodeInviteLink(invite);
  return { link, secret: invite.secret, inviteId: await inviteId(provider, invite.secret), invite };
}

/** One invite the inviter issued: which chat it admits to, how many uses are left, when it expires. */
export interface IssuedInvite {
  /** b64u of the 16-byte invite id. */
  inviteId: string;
  secret: Uint8Array;
  /** The chat a join through this invite adds the joiner to. */
  chat: string;
  usesLeft: number;
  exp?: number;
  /** Client ids that joined with this invite: a replayed request of one of them is 'invite-used'. */
  joiners: string[];
}

/** Result of checking or consuming an invite. */
export type InviteCheck =
  | { ok: true; invite: IssuedInvite }
  | { ok: false; code: 'bad-invite' | 'invite-used' | 'invite-expired'; reason: string };

const issuedJsonSchema = z.strictObject({
  inviteId: b64uBytes(ID_BYTES),
  secret: b64uBytes(INVITE_SECRET_BYTES),
  chat: b64uBytes(ID_BYTES),
  usesLeft: z.number().int().min(0).max(0xffffffff),
  exp: z.number().int().min(1).optional(),
  joiners: z.array(z.string()).max(100_000).optional(),
});
/** The JSON form of an InviteBook, for storage. */
export type InviteBookJson = z.infer<typeof issuedJsonSchema>[];

const idKey = (id: Uint8Array | string): string => (typeof id === 'string' ? id : toB64u(id));

/** The inviter's record of issued invites: counts uses and expiry; used-up invites stay so reuse says 'invite-used'. */
export class InviteBook {
  readonly #entries = new Map<string, IssuedInvite>();

  /** Records an issued invite for `chat`; `uses` defaults to 1. */
  issue(entry: {
    inviteId: Uint8Array | string;
    secret: Uint8Array;
    chat: string;
    uses?: number;
    exp?: number;
  }): IssuedInvite {
    const issued: IssuedInvite = {
      inviteId: idKey(entry.inviteId),
      secret: entry.secret.slice(),
      chat: entry.chat,
      usesLeft: entry.uses ?? 1,
      ...(entry.exp !== undefined ? { exp: entry.exp } : {}),
      joiners: [],
    };
    const check = issuedJsonSchema.safeParse({ ...issued, secret: toB64u(issued.secret) });
    if (!check.success || issued.usesLeft < 1)
      fail(
        'bad-invite',
        `invite: cannot issue: ${check.success ? 'uses must be ≥ 1' : describeIssue(check.error)}`,
      );
    this.#entries.set(issued.inviteId, issued);
    return issued;
  }

  /** The issued invite with this id, if any. */
  get(id: Uint8Array | string): IssuedInvite | undefined {
    const entry = this.#entries.get(idKey(id));
    return entry ? { ...entry, joiners: [...entry.joiners] } : undefined;
  }

  /** Says whether the invite could be used now (by `joiner`, when given), without using it. */
  check(id: Uint8Array | string, now: number, joiner?: string): InviteCheck {
    const entry = this.#entries.get(idKey(id));
    if (!entry) return { ok: false, code: 'bad-invite', reason: 'invite: unknown invite' };
    if (joiner !== undefined && entry.joiners.includes(joiner)) {
      // A captured request replayed (say, after its sender was removed) must not re-admit anyone.
      return { ok: false, code: 'invite-used', reason: 'invite: this device already joined with it' };
    }
    if (entry.exp !== undefined && now >= entry.exp) {
      return {
        ok: false,
        code: 'invite-expired',
        reason: `invite: expired at ${new Date(entry.exp).toISOString()}`,
      };
    }
    if (entry.usesLeft <= 0) return { ok: false, code: 'invite-used', reason: 'invite: already used' };
    return { ok: true, invite: { ...entry, joiners: [...entry.joiners] } };
  }

  /** Uses the invite once (for `joiner`, remembered) if it is known, unexpired and has uses left. */
  consume(id: Uint8Array | string, now: number, joiner?: string): InviteCheck {
    const result = this.check(id, now, joiner);
    if (!result.ok) return result;
    const entry = this.#entries.get(idKey(id))!;
    entry.usesLeft -= 1;
    if (joiner !== undefined) entry.joiners.push(joiner);
    return { ok: true, invite: { ...entry, joiners: [...entry.joiners] } };
  }

  /** Forgets an invite: later uses are 'bad-invite'. */
  revoke(id: Uint8Array | string): boolean {
    return this.#entries.delete(idKey(id));
  }

  /** Every issued invite. */
  list(): IssuedInvite[] {
    return [...this.#entries.values()].map((e) => ({ ...e, joiners: [...e.joiners] }));
  }

  /** The book as JSON (secrets as b64u): store it like a private key. */
  toJSON(): InviteBookJson {
    return this.list().map((e) => ({
      inviteId: e.inviteId,
      secret: toB64u(e.secret),
      chat: e.chat,
      usesLeft: e.usesLeft,
      ...(e.exp !== undefined ? { exp: e.exp } : {}),
      joiners: [...e.joiners],
    }));
  }

  /** Restores a book from its JSON form; throws 'bad-invite' when it is malformed. */
  static fromJSON(json: unknown): InviteBook {
    const parsed = z.array(issuedJsonSchema).safeParse(json);
    if (!parsed.success) fail('bad-invite', `invite: bad invite book (${describeIssue(parsed.error)})`);
    const book = new InviteBook();
    for (const e of parsed.data) {
      book.#entries.set(e.inviteId, {
        inviteId: e.inviteId,
        secret: fromB64u(e.secret, 'invite secret', INVITE_SECRET_BYTES),
        chat: e.chat,
        usesLeft: e.usesLeft,
        ...(e.exp !== undefined ? { exp: e.exp } : {}),
        joiners: [...(e.joiners ?? [])],
      });
    }
    return book;
  }
}
