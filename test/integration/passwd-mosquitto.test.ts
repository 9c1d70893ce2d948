// Password files interoperate with the real mosquitto 2.0.11 binaries, both ways: Hush reads what
// mosquitto_passwd writes, and the mosquitto broker accepts logins from what `hush passwd` writes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashPassword,
  loadPasswordFile,
  savePasswordFile,
  verifyPassword,
} from '../../src/broker/passwd/index.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { tryConnect } from '../helpers/mqtt.ts';

const run = promisify(execFile);
const HUSH = path.resolve(import.meta.dirname, '../../bin/hush.js');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hush-passwd-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a password file written by mosquitto_passwd', () => {
  it('is read by Hush, which accepts the right passwords and rejects wrong ones', async () => {
    const file = path.join(dir, 'from-mosquitto');
    await run('mosquitto_passwd', ['-c', '-b', file, 'alice', 'correct horse']);
    await run('mosquitto_passwd', ['-b', file, 'bob', 'bätteries ✓']);
    await run('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'carol', 'old style']);
    await run('mosquitto_passwd', ['-I', '1000', '-b', file, 'dave', 'slow']);

    const table = await loadPasswordFile(file);
    expect([...table.entries.keys()]).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(table.entries.get('carol')).toMatch(/^\$6\$/);
    expect(table.entries.get('dave')).toMatch(/^\$7\$1000\$/);
    const check = (user: string, password: string) => verifyPassword(password, table.entries.get(user) ?? '');
    expect(await check('alice', 'correct horse')).toBe(true);
    expect(await check('alice', 'correct horse ')).toBe(false);
    expect(await check('bob', 'bätteries ✓')).toBe(true);
    expect(await check('bob', 'batteries ✓')).toBe(false);
    expect(await check('carol', 'old style')).toBe(true);
    expect(await check('carol', 'new style')).toBe(false);
    expect(await check('dave', 'slow')).toBe(true);
  });

  it('can be rewritten by Hush and then edited again by mosquitto_passwd', async () => {
    const file = path.join(dir, 'both-ways');
    await run('mosquitto_passwd', ['-c', '-b', file, 'alice', 'one']);
    const table = await loadPasswordFile(file);
    table.entries.set('bob', await hashPassword('two'));
    await savePasswordFile(file, table);
    await run('mosquitto_passwd', ['-b', file, 'carol', 'three']);
    const back = await loadPasswordFile(file);
    expect([...back.entries.keys()]).toEqual(['alice', 'bob', 'carol']);
    expect(await verifyPassword('two', back.entries.get('bob') ?? '')).toBe(true);
  });
});

describe('a password file written by `hush passwd`', () => {
  it('lets the real mosquitto broker log in the right passwords and refuse wrong ones', async () => {
    const file = path.join(dir, 'from-hush');
    await run(process.execPath, [HUSH, 'passwd', '-c', '-b', file, 'alice', 's3cret pass']);
    await run(process.execPath, [HUSH, 'passwd', '-b', file, 'bob', 'zwölf']);
    await run(process.execPath, [HUSH, 'passwd', '-I', '5000', '-b', file, 'carol', '--', '-dash']);

    const mosquitto = await startMosquitto({
      passwordFile: await readFile(file, 'utf8'),
      allowAnonymous: false,
    });
    try {
      const url = `mqtt://127.0.0.1:${mosquitto.mqttPort}`;
      expect(await tryConnect(url, { username: 'alice', password: 's3cret pass' })).toBe('ok');
      expect(await tryConnect(url, { username: 'bob', password: 'zwölf' })).toBe('ok');
      expect(await tryConnect(url, { username: 'carol', password: '-dash' })).toBe('ok');
      expect(await tryConnect(url, { username: 'alice', password: 's3cret pas' })).toMatch(/^refused/);
      expect(await tryConnect(url, { username: 'bob', password: 'zwolf' })).toMatch(/^refused/);
      expect(await tryConnect(url, { username: 'mallory', password: 's3cret pass' })).toMatch(/^refused/);
      expect(await tryConnect(url, {})).toMatch(/^refused/);
      // Mosquitto logs "removing entry" for any line it could not use; a Hush file has none.
      expect(mosquitto.log()).not.toMatch(/removing entry|Invalid line/);
    } finally {
      await mosquitto.stop();
    }
  });
});
