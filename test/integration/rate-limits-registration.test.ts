import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRegistry, type AccountBroker } from '../../src/server/device-registry.ts';
import { createRegistrationApi, DEVICES_PATH } from '../../src/server/registration-api.ts';

const log = pino({ level: 'silent' });
const noBroker: AccountBroker = {
  install: async () => undefined,
  beforeRemove: async () => undefined,
  beforeSave: async () => undefined,
  undoBeforeSave: async () => undefined,
  afterSave: async () => undefined,
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The registration API on a real loopback HTTP server: 1 registration a minute, a burst of 2. */
async function startApi(trustedProxies: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hush-reg-limits-'));
  const passwordFile = path.join(dir, 'passwd');
  await writeFile(passwordFile, '', { mode: 0o600 });
  const registry = await DeviceRegistry.open(passwordFile, noBroker, log);
  let port = 0;
  const api = createRegistrationApi({
    registry,
    log,
    registrationsPerMinute: 1,
    registrationBurst: 2,
    tls: false,
    fallbackHost: '127.0.0.1',
    port: () => port,
    trustedProxies,
  });
  const server = http.createServer((req, res) => {
    void api(req, res, new URL(req.url ?? '/', 'http://x').pathname);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  return `http://127.0.0.1:${port}${DEVICES_PATH}`;
}

async function register(url: string, forwardedFor?: string): Promise<number> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(forwardedFor !== undefined ? { 'x-forwarded-for': forwardedFor } : {}),
    },
    body: JSON.stringify({ secret }),
  });
  return response.status;
}

describe('registration rate limit per client address', () => {
  it('behind a trusted proxy counts each forwarded client on its own, and an IPv6 /64 as one', async () => {
    const url = await startApi(['127.0.0.1']);
    expect([await register(url, '203.0.113.1'), await register(url, '203.0.113.1')]).toEqual([201, 201]);
    expect(await register(url, '203.0.113.1')).toBe(429);
    // A neighbour behind the same proxy is not locked out by the first one.
    expect(await register(url, '203.0.113.2')).toBe(201);
    // A client that writes its own X-Forwarded-For gets the address the proxy appended, not its choice.
    expect(await register(url, '198.51.100.77, 203.0.113.1')).toBe(429);
    // One /64: other addresses in it share the bucket; the next /64 has its own.
    expect(await register(url, '2001:db8:1:2::1')).toBe(201);
    expect(await register(url, '2001:db8:1:2::2')).toBe(201);
    expect(await register(url, '2001:db8:1:2:ffff::3')).toBe(429);
    expect(await register(url, '::ffff:203.0.113.1')).toBe(429);
    expect(await register(url, '2001:db8:1:3::1')).toBe(201);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const url = await startApi([]);
    expect(await register(url, '203.0.113.1')).toBe(201);
    expect(await register(url, '203.0.113.2')).toBe(201);
    // A fresh spoofed address per request buys nothing: the peer (127.0.0.1) is the key.
    expect(await register(url, '203.0.113.3')).toBe(429);
    expect(await register(url)).toBe(429);
  });
});
