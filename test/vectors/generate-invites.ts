// Generates test/vectors/invites.json (docs/PROTOCOL.md §6) from fixed inputs, computed with node:crypto alone —
// independently of src/core — so test/unit/invite.test.ts checks the implementation against a second one: link
// encoding (canonical JSON, field order as in §6), invite id, proof key and join proof, plus links that must be
// rejected. Run: npx tsx test/vectors/generate-invites.ts
import { createHash, createHmac, createPrivateKey, createPublicKey, hkdfSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
const seed = (label: string): Buffer => createHash('sha256').update(`hush/v1 test vector ${label}`).digest();
const hkdf = (ikm: Buffer, info: string, n: number): Buffer =>
  Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, n));

/** Raw public key from a 32-byte seed (PKCS#8 per RFC 8410: OID 1.3.101.112 Ed25519, 1.3.101.110 X25519). */
function publicFromSeed(kind: 'ed25519' | 'x25519', secret: Buffer): Buffer {
  const prefix = kind === 'ed25519' ? '302e020100300506032b657004220420' : '302e020100300506032b656e04220420';
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from(prefix, 'hex'), secret]),
    format: 'der',
    type: 'pkcs8',
  });
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
}
const identity = (name: string) => ({
  id: b64u(seed(`${name} id`).subarray(0, 16)),
  sign: b64u(publicFromSeed('ed25519', seed(`${name} sign`))),
  agree: b64u(publicFromSeed('x25519', seed(`${name} agree`))),
});

const alice = identity('alice');
const bob = identity('bob');
const inbox = b64u(seed('invite inbox').subarray(0, 16));

function valid(name: string, server: string, extra: { exp?: number; uses?: number }, inboxId: string) {
  const secret = seed(`${name} secret`);
  const json: Record<string, unknown> = {
    v: 1,
    secret: b64u(secret),
    inviter: alice,
    inbox: inboxId,
    server,
  };
  if (extra.exp !== undefined) json.exp = extra.exp;
  if (extra.uses !== undefined) json.uses = extra.uses;
  const link = `${server.replace(/\/+$/, '')}/#invite=${b64u(JSON.stringify(json))}`;
  const proofKey = hkdf(secret, 'hush/v1 invite proof', 32);
  const proof = createHmac('sha256', proofKey)
    .update(
      Buffer.concat([
        Buffer.from('hush/v1 join'),
        Buffer.from(bob.id, 'base64url'),
        Buffer.from(bob.sign, 'base64url'),
        Buffer.from(bob.agree, 'base64url'),
      ]),
    )
    .digest();
  return {
    name,
    secret: b64u(secret),
    inviter: alice,
    inbox: inboxId,
    server,
    ...extra,
    link,
    inviteId: b64u(hkdf(secret, 'hush/v1 invite id', 16)),
    proofKey: b64u(proofKey),
    joiner: bob,
    proof: b64u(proof),
  };
}

const validVectors = [
  valid('single-use, own inbox', 'https://hush.example', {}, alice.id),
  valid(
    'group invite with expiry and uses, seed-mode inbox',
    'https://chat.example.org:8443/hush',
    { exp: 1767225600000, uses: 5 },
    inbox,
  ),
  valid('plain http on localhost, trailing slash', 'http://127.0.0.1:8080/', { uses: 1 }, alice.id),
];

const base = {
  v: 1,
  secret: b64u(seed('invalid secret')),
  inviter: alice,
  inbox: alice.id,
  server: 'https://hush.example',
};
const link = (json: unknown, server = 'https://hush.example') =>
  `${server}/#invite=${b64u(JSON.stringify(json))}`;
const invalid = [
  { name: 'unknown version', link: link({ ...base, v: 2 }) },
  { name: 'unknown field', link: link({ ...base, chat: alice.id }) },
  { name: 'unknown field in inviter', link: link({ ...base, inviter: { ...alice, name: 'Alice' } }) },
  { name: 'secret of 31 bytes', link: link({ ...base, secret: b64u(seed('x').subarray(0, 31)) }) },
  { name: 'inbox not 16 bytes', link: link({ ...base, inbox: 'short' }) },
  {
    name: 'server is not http(s)',
    link: link({ ...base, server: 'ftp://hush.example' }, 'ftp://hush.example'),
  },
  {
    name: 'server with credentials',
    link: link({ ...base, server: 'https://u:p@hush.example' }, 'https://u:p@hush.example'),
  },
  { name: 'link base is not the invite server', link: link(base, 'https://evil.example') },
  { name: 'uses zero', link: link({ ...base, uses: 0 }) },
  { name: 'exp not an integer', link: link({ ...base, exp: 1.5 }) },
  {
    name: 'fields out of order (not canonical)',
    link: link({ secret: base.secret, v: 1, inviter: alice, inbox: alice.id, server: base.server }),
  },
  {
    name: 'whitespace in JSON (not canonical)',
    link: `https://hush.example/#invite=${b64u(JSON.stringify(base, null, 1))}`,
  },
  {
    name: 'padded base64',
    link: `${link(base)}${'='.repeat((4 - (link(base).split('=').pop()!.length % 4)) % 4 || 2)}`,
  },
  { name: 'no invite fragment', link: 'https://hush.example/#join=abc' },
  { name: 'payload is not JSON', link: `https://hush.example/#invite=${b64u('not json')}` },
].map((v) => ({ ...v, error: 'bad-invite' }));

const out = {
  description:
    'Invite links, invite ids and join proofs (docs/PROTOCOL.md §6). Public keys are real Ed25519/X25519 keys from the seeds ' +
    'SHA-256("hush/v1 test vector <name> sign|agree"); secrets are SHA-256("hush/v1 test vector <vector name> secret"). ' +
    'The proof is for `joiner`. Every `invalid` link must be rejected with the given error code.',
  valid: validVectors,
  invalid,
};
writeFileSync(new URL('./invites.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
