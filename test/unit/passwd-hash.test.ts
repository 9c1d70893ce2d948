// Password hashes for Mosquitto password files: known answers from mosquitto_passwd 2.0.11 and Python's
// hashlib, and fast-check properties. See src/broker/passwd/hash.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPassword, parseStoredHash, verifyPassword } from '../../src/broker/passwd/index.ts';

// `mosquitto_passwd -c -b FILE alice secret` (mosquitto 2.0.11, Debian 12).
const MOSQUITTO_7 =
  '$7$101$mZg4OrccQrWkG67d$T0Q5iiu8PLJWy7sstToAZgWXUWtNdzHPITJzJS0JSSq596DdD7fBF6IOPI/e4l4OgQez43QfpFDBkhXNDv7fRg==';
// `mosquitto_passwd -H sha512 -c -b FILE grace 'pässword with spaces'` (mosquitto 2.0.11).
const MOSQUITTO_6 =
  '$6$RkP8Yp0Nm8Cwo+19$/FO4dt5d5lqmn4ab7Q85fvi0e3cUfjNsA2QbMs7walmS1rtXaToVnxcZp10/pQnZMjOc8huDQGCbq26pKeBDzg==';
// Computed independently with Python, salt = bytes(range(12)):
//   base64(hashlib.sha512(b'hunter2' + salt).digest())
//   base64(hashlib.pbkdf2_hmac('sha512', b'hunter2', salt, 101, 64))
const PYTHON_6 =
  '$6$AAECAwQFBgcICQoL$M9uy5baAQVewJoSC57pHtZGlGqRX3jq5tEx8s7W8w29wGLojIaP2qVdfjIolAUlK8fbO0hmJW7cZTx1fVju1PQ==';
const PYTHON_7 =
  '$7$101$AAECAwQFBgcICQoL$VWxVANxkFeHCm5uOn8rOPTQDMK9mSE/ohhmzvuRzpMN2gHRxlNxYm7W8MbMYzkkdo0UinpiCpO1MXzUiHFrHig==';

describe('verifying a password against a stored hash', () => {
  it('accepts the right password for a $7$ hash made by mosquitto_passwd and rejects a wrong one', async () => {
    expect(await verifyPassword('secret', MOSQUITTO_7)).toBe(true);
    expect(await verifyPassword('Secret', MOSQUITTO_7)).toBe(false);
    expect(await verifyPassword('', MOSQUITTO_7)).toBe(false);
  });

  it('accepts the right password for a $6$ hash made by mosquitto_passwd -H sha512, UTF-8 included', async () => {
    expect(await verifyPassword('pässword with spaces', MOSQUITTO_6)).toBe(true);
    expect(await verifyPassword('password with spaces', MOSQUITTO_6)).toBe(false);
  });

  it('agrees with an independent computation: $6$ is SHA-512(password ‖ salt), $7$ is PBKDF2-HMAC-SHA512', async () => {
    expect(await verifyPassword('hunter2', PYTHON_6)).toBe(true);
    expect(await verifyPassword('hunter2', PYTHON_7)).toBe(true);
    expect(await verifyPassword('hunter3', PYTHON_6)).toBe(false);
    expect(await verifyPassword('hunter3', PYTHON_7)).toBe(false);
  });

  it('returns false, never throws, on malformed stored hashes', async () => {
    const garbage = [
      '',
      'secret',
      '$',
      '$$$$',
      '$7$',
      '$7$101$',
      '$5$rounds=5000$salt$hash',
      MOSQUITTO_7.replace('$101$', '$0$'),
      MOSQUITTO_7.replace('$101$', '$-1$'),
      MOSQUITTO_7.replace('$101$', '$101x$'),
      MOSQUITTO_7.replace('$101$', '$99999999999$'),
      MOSQUITTO_7.slice(0, -2),
      MOSQUITTO_7 + '$',
      MOSQUITTO_7 + 'AA==',
      MOSQUITTO_7.replace('mZg4OrccQrWkG67d', 'mZg4OrccQrWkG67'),
      MOSQUITTO_7.replace('mZg4OrccQrWkG67d', 'mZg4OrccQrWkG6-d'),
      MOSQUITTO_7.replace('Rg==', 'Rh=='), // same bytes, but not the canonical base64 spelling
      MOSQUITTO_6.replace('$6$', '$6$10$'),
    ];
    for (const stored of garbage) {
      await expect(verifyPassword('secret', stored), stored).resolves.toBe(false);
    }
    // Callers in plain JavaScript can pass anything.
    await expect(verifyPassword(undefined as unknown as string, MOSQUITTO_7)).resolves.toBe(false);
    await expect(verifyPassword('secret', null as unknown as string)).resolves.toBe(false);
  });

  it('returns false for any string that is not a well-formed hash (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (password, stored) => {
        fc.pre(typeof parseStoredHash(stored) === 'string');
        expect(await verifyPassword(password, stored)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('hashing a password', () => {
  it('writes $7$101$<16 base64 chars of salt>$<88 base64 chars of hash>, like mosquitto_passwd', async () => {
    const stored = await hashPassword('secret');
    expect(stored).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(await verifyPassword('secret', stored)).toBe(true);
  });

  it('uses a fresh salt each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
  });

  it('honours a custom iteration count', async () => {
    const stored = await hashPassword('secret', 1000);
    expect(stored.startsWith('$7$1000$')).toBe(true);
    expect(await verifyPassword('secret', stored)).toBe(true);
  });

  it('accepts the empty password, as mosquitto_passwd does', async () => {
    expect(await verifyPassword('', await hashPassword(''))).toBe(true);
  });

  it('refuses what Mosquitto could not check: a NUL, more than 65535 bytes, a lone surrogate, bad iterations', async () => {
    await expect(hashPassword('a\0b')).rejects.toThrow(/NUL/);
    await expect(hashPassword('é'.repeat(32768))).rejects.toThrow(/65536 bytes/);
    await expect(hashPassword('\ud800')).rejects.toThrow(/surrogate/);
    await expect(hashPassword('x', 0)).rejects.toThrow(/iterations/);
    await expect(hashPassword('x', 1.5)).rejects.toThrow(/iterations/);
    await expect(hashPassword('x', 2 ** 31)).rejects.toThrow(/iterations/);
    expect(await hashPassword('a'.repeat(65535), 1)).toMatch(/^\$7\$1\$/);
  });

  const password = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((p) => !p.includes('\0'));

  it('round-trips any valid password through hash and verify, and a different password fails (property)', async () => {
    await fc.assert(
      fc.asyncProperty(password, password, async (right, wrong) => {
        fc.pre(right !== wrong);
        const stored = await hashPassword(right, 1);
        expect(await verifyPassword(right, stored)).toBe(true);
        expect(await verifyPassword(wrong, stored)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
