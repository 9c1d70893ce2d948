import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProfileStore } from '../../src/client/api.ts';
import { backoffDelay } from '../../src/client/backoff.ts';
import {
  checkInviteServer,
  loadDevice,
  useProvisionedDevice,
  registerDevice,
  revokeDevice,
} from '../../src/client/device.ts';
import { HushClientError } from '../../src/client/errors.ts';
import { FileStore } from '../../src/client/node/file-store.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { toB64u } from '../../src/core/bytes.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'hush-store-'));
  dirs.push(d);
  return d;
}
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

const adapters: Array<[string, () => Promise<ProfileStore>]> = [
  ['MemoryStore', async () => new MemoryStore()],
  ['FileStore', async () => new FileStore(path.join(await tempDir(), 'profile'))],
];

describe.each(adapters)('%s', (_name, make) => {
  it('reads back what was written, replaces it, lists by prefix and removes', async () => {
    const store = await make();
    expect(await store.read('chat.a.json')).toBeUndefined();
    await store.write('chat.a.json', bytes('one'));
    await store.write('chat.b.json', bytes('two'));
    await store.write('device.json', bytes('dev'));
    await store.write('chat.a.json', bytes('three'));
    expect(text(await store.read('chat.a.json'))).toBe('three');
    expect(await store.list('chat.')).toEqual(['chat.a.json', 'chat.b.json']);
    await store.remove('chat.a.json');
    await store.remove('chat.a.json');
    expect(await store.list('chat.')).toEqual(['chat.b.json']);
  });

  it('refuses names that could leave the profile or hide files', async () => {
    const store = await make();
    for (const bad of ['../x', 'a/b', '.hidden', '..', 'a..b', '', 'a\\b', 'x'.repeat(200)]) {
      await expect(store.write(bad, bytes('x'))).rejects.toThrow(/storage: bad name/);
      await expect(store.read(bad)).rejects.toThrow(HushClientError);
    }
  });

  it('hands out copies: changing returned bytes does not change the store', async () => {
    const store = await make();
    const data = bytes('abc');
    await store.write('n', data);
    data[0] = 0;
    const read = (await store.read('n'))!;
    read[1] = 0;
    expect(text(await store.read('n'))).toBe('abc');
  });
});

describe('FileStore on disk', () => {
  it('creates the directory 0700 and files 0600, and leaves no temporary files', async () => {
    const dir = path.join(await tempDir(), 'p');
    const store = new FileStore(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write('same', bytes(`v${i}`))));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'same'))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['same']);
    expect(text(await store.read('same'))).toMatch(/^v\d+$/);
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially with full jitter and stops at the cap', () => {
    expect(backoffDelay(0, { random: () => 0.999 })).toBe(499);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(2000);
    expect(backoffDelay(40, { random: () => 0.999 })).toBe(29_970);
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
    for (let i = 0; i < 100; i++) expect(backoffDelay(2)).toBeLessThan(2000);
  });
});

describe('device records', () => {
  const clientId = toB64u(new Uint8Array(16).fill(7));

  it('a provisioned device survives a reload with working keys, and a second device is refused', async () => {
    const store = await adapters[1]![1]();
    const created = await useProvisionedDevice({
      brokerUrl: 'mqtt://127.0.0.1:1883',
      clientId,
      deviceSecret: 'secret',
      server: 'https://hush.example/',
      store,
      provider: nodeCryptoProvider,
    });
    expect(created.record.inbox).toBe(`chats/${clientId}/messages`);
    const loaded = await loadDevice(store, nodeCryptoProvider);
    expect(loaded.record).toEqual(created.record);
    const data = bytes('sign me');
    const signature = await nodeCryptoProvider.sign(loaded.identity.signing.privateKey, data);
    expect(await nodeCryptoProvider.verify(created.identity.signing.publicKey, signature, data)).toBe(true);
    await expect(
      useProvisionedDevice({
        brokerUrl: 'mqtt://x',
        clientId,
        deviceSecret: 's',
        store,
        provider: nodeCryptoProvider,
      }),
    ).rejects.toMatchObject({ code: 'device-exists' });
  });

  it('a profile without a device says so', async () => {
    await expect(loadDevice(new MemoryStore(), nodeCryptoProvider)).rejects.toMatchObject({
      code: 'no-device',
    });
  });

  it('refuses an invite for another server by origin, naming both', async () => {
    const { record } = await useProvisionedDevice({
      brokerUrl: 'mqtt://x',
      clientId,
      deviceSecret: 's',
      server: 'https://hush.example',
      store: new MemoryStore(),
      provider: nodeCryptoProvider,
    });
    expect(() => checkInviteServer(record, 'https://hush.example/')).not.toThrow();
    expect(() => checkInviteServer(record, 'https://evil.example')).toThrow(
      /for https:\/\/evil\.example, but this device is registered with https:\/\/hush\.example/,
    );
  });

  it('registration errors are clear: refused, server error, unreachable', async () => {
    const reply = (status: number, body: string) => async () => new Response(body, { status });
    const attempt = (fetchImpl: typeof fetch) =>
      registerDevice({
        server: 'http://hush.test',
        store: new MemoryStore(),
        provider: nodeCryptoProvider,
        fetchImpl,
      });
    await expect(attempt(reply(403, '{"error":"registration token required"}'))).rejects.toMatchObject({
      code: 'registration-refused',
      message: 'registration: refused with 403: registration token required',
    });
    await expect(attempt(reply(503, 'down'))).rejects.toMatchObject({ code: 'server-error' });
    await expect(attempt(reply(201, '{"nope":1}'))).rejects.toMatchObject({ code: 'server-error' });
    await expect(
      attempt(async () => {
        throw new TypeError('fetch failed');
      }),
    ).rejects.toMatchObject({
      code: 'network',
      message: expect.stringContaining('cannot reach http://hush.test'),
    });
  });

  it('registers with the server’s client id and revokes with basic auth, wiping the profile', async () => {
    const store = new MemoryStore();
    const calls: Array<{ url: string; method: string; auth?: string; body?: string }> = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      calls.push({
        url,
        method: init.method!,
        auth: headers.get('authorization') ?? undefined,
        body: init.body as string,
      });
      if (init.method === 'POST')
        return new Response(
          JSON.stringify({
            clientId,
            inbox: `chats/${clientId}/messages`,
            brokerUrl: 'ws://127.0.0.1:9/mqtt',
          }),
          { status: 201 },
        );
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    const device = await registerDevice({
      server: 'http://hush.test/',
      name: 'alice',
      store,
      provider: nodeCryptoProvider,
      fetchImpl,
    });
    expect(device.record.clientId).toBe(clientId);
    const sent = JSON.parse(calls[0]!.body!) as { secret: string; name: string };
    expect(calls[0]!.url).toBe('http://hush.test/api/v1/devices');
    expect(sent.name).toBe('alice');
    expect(sent.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await revokeDevice({ store, provider: nodeCryptoProvider, fetchImpl })).toEqual({ remote: true });
    expect(calls[1]).toMatchObject({
      url: `http://hush.test/api/v1/devices/${clientId}`,
      method: 'DELETE',
      auth: `Basic ${btoa(`${clientId}:${sent.secret}`)}`,
    });
    expect(await store.list('')).toEqual([]);
  });
});
