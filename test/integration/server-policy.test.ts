/**
 * A closed deployment of `hush start`: registrations need the token from --registration-token-file, and one
 * address may register only so often (429 with Retry-After).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tryConnect } from '../helpers/mqtt.ts';
import { newSecret, postJson, startHushServer, type HushServer } from './server-harness.ts';

const TOKEN = 'closed-deployment-token-3f9a1c';

describe('registration token and rate limit (hush start)', () => {
  let dir: string;
  let server: HushServer;
  let devicesUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-policy-'));
    await writeFile(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    server = await startHushServer({
      dataDir: path.join(dir, 'data'),
      args: [
        '--registration-token-file',
        path.join(dir, 'token'),
        '--registration-rate',
        '1',
        '--registration-burst',
        '5',
        '--public-url',
        'https://chat.example.com/hush/',
      ],
    });
    devicesUrl = `${server.url}/api/v1/devices`;
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses registrations without the token or with a wrong one (403), accepts the right one', async () => {
    const missing = await postJson(devicesUrl, { secret: newSecret() });
    expect(missing.status).toBe(403);
    expect(missing.body.error).toMatch(/registration token/);
    const wrong = await postJson(devicesUrl, { secret: newSecret(), token: TOKEN.slice(0, -1) + 'x' });
    expect(wrong.status).toBe(403);
    const passwd = await readFile(path.join(dir, 'data', 'passwd'), 'utf8');
    expect(passwd).toBe('');

    const secret = newSecret();
    const right = await postJson(devicesUrl, { secret, token: TOKEN });
    expect(right.status).toBe(201);
    const clientId = right.body.clientId as string;
    // Behind a proxy the broker URL comes from --public-url, not from the Host header.
    expect(right.body.brokerUrl).toBe('wss://chat.example.com/hush/mqtt');
    expect(
      await tryConnect(`ws://127.0.0.1:${server.webPort}/mqtt`, { username: clientId, password: secret }),
    ).toBe('ok');
  });

  it('limits registrations per address: after the burst, 429 with Retry-After and nothing registered', async () => {
    // The burst is 5 and the token test used 3 of them, refusals included (a token cannot be guessed cheaply).
    for (let i = 0; i < 2; i++) {
      expect((await postJson(devicesUrl, { secret: newSecret(), token: TOKEN })).status).toBe(201);
    }
    const limited = await postJson(devicesUrl, { secret: newSecret(), token: TOKEN });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(limited.body.error).toMatch(/too many registrations/);
    const lines = (await readFile(path.join(dir, 'data', 'passwd'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    // Health and revocation are not behind the registration limit.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
