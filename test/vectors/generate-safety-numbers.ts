// Generates test/vectors/safety-numbers.json (docs/PROTOCOL.md §1) from fixed seeds, computed with node:crypto
// alone — independently of src/core — so the tests in test/unit/identity.test.ts check the implementation against
// a second one. Run: npx tsx test/vectors/generate-safety-numbers.ts
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const sha = (alg: string, ...parts: Uint8Array[]): Buffer => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
};
const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const seed = (label: string): Buffer => sha('sha256', Buffer.from(`hush/v1 test vector ${label}`));

/** Raw public key of an Ed25519 or X25519 private key given by its 32-byte seed. */
function publicFromSeed(kind: 'ed25519' | 'x25519', secret: Buffer): Buffer {
  // PKCS#8 wrapping of a raw 32-byte private key (RFC 8410): OID 1.3.101.112 (Ed25519) or 1.3.101.110 (X25519).
  const prefix = kind === 'ed25519' ? '302e020100300506032b657004220420' : '302e020100300506032b656e04220420';
  const pkcs8 = Buffer.concat([Buffer.from(prefix, 'hex'), secret]);
  const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
    format: 'jwk',
  });
  return Buffer.from(jwk.x!, 'base64url');
}

function device(name: string, over: { id?: string; sign?: string; agree?: string } = {}) {
  const id = b64u(seed(`${over.id ?? name} id`).subarray(0, 16));
  const sign = publicFromSeed('ed25519', seed(`${over.sign ?? name} sign`));
  const agree = publicFromSeed('x25519', seed(`${over.agree ?? name} agree`));
  const fp = sha('sha256', Buffer.from('hush/v1 fingerprint'), Buffer.from(id, 'base64url'), sign, agree)
    .subarray(0, 16)
    .toString('hex')
    .match(/.{4}/g)!
    .join(' ');
  let h = sha('sha512', Buffer.from([0, 0]), sign, agree, Buffer.from(id, 'utf8'));
  for (let i = 0; i < 5200; i++) h = sha('sha512', h, sign, agree);
  let half = '';
  for (let c = 0; c < 6; c++) half += String(Number(h.readUIntBE(c * 5, 5) % 100000)).padStart(5, '0');
  return { name, id, sign: b64u(sign), agree: b64u(agree), fingerprint: fp, safetyNumberHalf: half };
}

const devices = [
  device('alice'),
  device('bob'),
  device('alice-new-signing-key', { id: 'alice', agree: 'alice', sign: 'alice-2' }),
  device('alice-new-agreement-key', { id: 'alice', sign: 'alice', agree: 'alice-2' }),
  device('alice-new-id', { id: 'alice-2', sign: 'alice', agree: 'alice' }),
];
const byName = new Map(devices.map((d) => [d.name, d]));
const pair = (a: string, b: string) => {
  const [x, y] = [byName.get(a)!.safetyNumberHalf, byName.get(b)!.safetyNumberHalf].sort();
  const number = x! + y!;
  return { a, b, safetyNumber: number, formatted: number.match(/.{5}/g)!.join(' ') };
};

const out = {
  description:
    'Fingerprints and safety numbers (docs/PROTOCOL.md §1). Keys are real Ed25519/X25519 public keys from the seeds ' +
    'SHA-256("hush/v1 test vector <name> sign|agree"); ids are the first 16 bytes of SHA-256("hush/v1 test vector <name> id").',
  devices,
  pairs: [
    pair('alice', 'bob'),
    pair('bob', 'alice'),
    pair('alice-new-signing-key', 'bob'),
    pair('alice-new-agreement-key', 'bob'),
    pair('alice-new-id', 'bob'),
  ],
};
writeFileSync(new URL('./safety-numbers.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
