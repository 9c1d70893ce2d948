import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPasswordFile, hashPassword } from '../../src/broker/passwd/index.ts';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { tryConnect } from '../helpers/mqtt.ts';

// Every client here comes from 127.0.0.1: one address, as neighbours behind one NAT.
const ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

async function passwordFile(users: Record<string, string>): Promise<string> {
  const entries = new Map<string, string>();
  for (const [user, password] of Object.entries(users)) entries.set(user, await hashPassword(password));
  return formatPasswordFile({ source: 'test', entries });
}

describe('connect limits behind one address (hush broker)', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: ACL,
      allowAnonymous: false,
      passwordFile: await passwordFile({ alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' }),
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('a bad-password storm from the address stops its password checks, not its neighbours with valid passwords', async () => {
    // Alice has connected before the storm; Bob and Carol have not.
    expect(await tryConnect(url, { username: 'alice', password: 'alice-pw' })).toBe('ok');

    const outcomes: string[] = [];
    for (let round = 0; round < 8 && !outcomes.includes('refused:3'); round++) {
      const batch = Array.from({ length: 20 }, (_, i) =>
        tryConnect(url, {
          // Half of the storm guesses Alice's password, half invents users.
          username: i % 2 === 0 ? 'alice' : `nobody${round}-${i}`,
          password: `guess${round}-${i}`,
        }),
      );
      outcomes.push(...(await Promise.all(batch)));
    }
    expect(outcomes).not.toContain('ok');
    expect(outcomes).toContain('refused:5');
    // The address ran out of failed-login tokens: further guesses are refused without a password check.
    expect(outcomes).toContain('refused:3');
    await broker.waitForLog(/too many failed logins from 127\.0\.0\.1/);
    expect(await tryConnect(url, { username: 'mallory', password: 'x' })).toBe('refused:3');

    // Neighbours on the same address still get in: Bob with his own account's allowance, Alice with the
    // password she was verified with (no PBKDF2, so no failure token needed) although her account was the target.
    expect(await tryConnect(url, { username: 'bob', password: 'bob-pw' })).toBe('ok');
    expect(await tryConnect(url, { username: 'alice', password: 'alice-pw' })).toBe('ok');
    expect(await tryConnect(url, { username: 'carol', password: 'carol-pw' })).toBe('ok');
    // And the storm still gets nowhere, on any account.
    expect(await tryConnect(url, { username: 'bob', password: 'bob-pw ' })).not.toBe('ok');
  });
});

describe('the verified-password cache (hush broker)', () => {
  let broker: HushBrokerInstance;
  let url: string;
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: ACL,
      allowAnonymous: false,
      passwordFile: await passwordFile({ alice: 'old-secret', bob: 'bob-pw' }),
    });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(() => broker?.stop());

  it('never lets a wrong password through, however close to a cached one', async () => {
    expect(await tryConnect(url, { username: 'alice', password: 'old-secret' })).toBe('ok');
    expect(await tryConnect(url, { username: 'alice', password: 'old-secret' })).toBe('ok');
    const wrong = ['', 'old-secre', 'old-secret ', 'old-secretx', 'Old-secret', '\0old-secret', 'bob-pw'];
    // Not in the list: "old-secret\0", which is the same password to PBKDF2 (HMAC pads its key with zeros)
    // and to Mosquitto (it hashes strlen() bytes).
    for (const password of wrong) {
      expect(await tryConnect(url, { username: 'alice', password }), JSON.stringify(password)).toBe(
        'refused:5',
      );
    }
    // The right password for another user, and alice's password under another username.
    expect(await tryConnect(url, { username: 'bob', password: 'old-secret' })).toBe('refused:5');
    expect(await tryConnect(url, { username: 'alice\0', password: 'old-secret' })).not.toBe('ok');
    expect(await tryConnect(url, { username: 'alic', password: 'eold-secret' })).toBe('refused:5');
    expect(await tryConnect(url, { username: 'alice', password: 'old-secret' })).toBe('ok');
  });

  it('forgets a password as soon as the file is rewritten and reloaded', async () => {
    expect(await tryConnect(url, { username: 'alice', password: 'old-secret' })).toBe('ok');
    await writeFile(
      path.join(broker.dir, 'passwd'),
      await passwordFile({ alice: 'new-secret', bob: 'bob-pw' }),
    );
    await broker.reload();
    await broker.waitForLog(/acl and password files reloaded/);
    expect(await tryConnect(url, { username: 'alice', password: 'old-secret' })).toBe('refused:5');
    expect(await tryConnect(url, { username: 'alice', password: 'new-secret' })).toBe('ok');
    expect(await tryConnect(url, { username: 'alice', password: 'new-secret' })).toBe('ok');
    // Re-salted with the same password: still accepted (checked in full against the new entry).
    await writeFile(path.join(broker.dir, 'passwd'), await passwordFile({ alice: 'new-secret' }));
    await broker.reload();
    expect(await tryConnect(url, { username: 'alice', password: 'new-secret' })).toBe('ok');
    expect(await tryConnect(url, { username: 'bob', password: 'bob-pw' })).toBe('refused:5');
  });
});
