// Device identity, fingerprint and safety numbers (src/core/identity.ts, docs/PROTOCOL.md §1), checked against
// test/vectors/safety-numbers.json, which test/vectors/generate-safety-numbers.ts computes with node:crypto alone.
import { describe, expect, it } from 'vitest';
import { fromB64u } from '../../src/core/bytes.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import {
  createDeviceIdentity,
  fingerprint,
  formatSafetyNumber,
  publicIdentity,
  publicIdentityFromJson,
  publicIdentityToJson,
  safetyNumber,
  safetyNumberHalf,
  type PublicIdentity,
} from '../../src/core/identity.ts';
import vectors from '../vectors/safety-numbers.json' with { type: 'json' };

const provider = defaultProvider();
const device = (name: string): PublicIdentity => {
  const d = vectors.devices.find((v) => v.name === name)!;
  return { id: d.id, sign: fromB64u(d.sign, 'sign', 32), agree: fromB64u(d.agree, 'agree', 32) };
};

describe('a new device identity', () => {
  it('has a 22-character client id, a 32-byte secret and 32-byte public keys, all fresh', async () => {
    const [a, b] = await Promise.all([createDeviceIdentity(provider), createDeviceIdentity(provider)]);
    expect(a.clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(fromB64u(a.deviceSecret, 'secret')).toHaveLength(32);
    expect(a.signing.publicKey).toHaveLength(32);
    expect(a.agreement.publicKey).toHaveLength(32);
    expect(a.clientId).not.toBe(b.clientId);
    expect(a.deviceSecret).not.toBe(b.deviceSecret);
  });

  it('round-trips its public identity through the JSON form {id, sign, agree}', async () => {
    const pub = publicIdentity(await createDeviceIdentity(provider));
    const json = JSON.parse(JSON.stringify(publicIdentityToJson(pub))) as unknown;
    expect(Object.keys(json as object)).toEqual(['id', 'sign', 'agree']);
    expect(publicIdentityFromJson(json)).toEqual(pub);
  });

  it('rejects public identities with extra fields, short keys or a bad id', () => {
    const good = publicIdentityToJson(device('alice'));
    for (const bad of [
      { ...good, name: 'Alice' },
      { ...good, sign: good.sign.slice(0, 42) },
      { ...good, agree: `${good.agree}AA` },
      { ...good, id: 'not/an+id' },
      { id: good.id, sign: good.sign },
      null,
      'alice',
    ]) {
      expect(() => publicIdentityFromJson(bad)).toThrow(HushProtocolError);
    }
  });
});

describe('the fingerprint', () => {
  it('matches the vectors: first 16 bytes of SHA-256 in lowercase hex, groups of 4', async () => {
    for (const d of vectors.devices) {
      expect(await fingerprint(provider, device(d.name))).toBe(d.fingerprint);
    }
    expect(vectors.devices[0]!.fingerprint).toMatch(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
  });
});

describe('the safety number', () => {
  it('reproduces every vector: 30 digits per device, the two halves sorted and joined', async () => {
    const halves = new Map<string, string>();
    for (const d of vectors.devices) {
      const half = await safetyNumberHalf(provider, device(d.name));
      expect(half).toBe(d.safetyNumberHalf);
      halves.set(d.name, half);
    }
    for (const p of vectors.pairs) {
      const [x, y] = [halves.get(p.a)!, halves.get(p.b)!].sort();
      expect(x! + y!).toBe(p.safetyNumber);
      expect(formatSafetyNumber(p.safetyNumber)).toBe(p.formatted);
    }
  });

  it('is 60 digits and the same from both sides', async () => {
    const [a, b] = [device('alice'), device('bob')];
    const ab = await safetyNumber(provider, a, b);
    expect(ab).toMatch(/^[0-9]{60}$/);
    expect(await safetyNumber(provider, b, a)).toBe(ab);
    expect(formatSafetyNumber(ab)).toMatch(/^([0-9]{5} ){11}[0-9]{5}$/);
  });

  it('changes when either device changes its signing key, agreement key or id', () => {
    const numbers = vectors.pairs.filter((p) => p.b === 'bob').map((p) => p.safetyNumber);
    expect(numbers).toHaveLength(4);
    expect(new Set(numbers).size).toBe(4);
  });

  it('changes for freshly generated devices too', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createDeviceIdentity(provider)));
    const ab = await safetyNumber(provider, publicIdentity(a!), publicIdentity(b!));
    const ac = await safetyNumber(provider, publicIdentity(a!), publicIdentity(c!));
    expect(ab).not.toBe(ac);
  });

  it('refuses to format anything but 60 digits', () => {
    expect(() => formatSafetyNumber('1234')).toThrow(HushProtocolError);
    expect(() => formatSafetyNumber(`${'1'.repeat(59)}x`)).toThrow(HushProtocolError);
  });
});
