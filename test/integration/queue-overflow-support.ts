/**
 * Shared by the queue-overflow tests (issue 13): SDK devices on a given broker URL, a 1:1 chat between two of them,
 * and junk an attacker floods an offline victim's inbox with (well-formed chat envelopes under a key the victim
 * has never had, the `unknown-key` flood of the finding).
 */
import { expect } from 'vitest';
import type { ProfileStore } from '../../src/client/api.ts';
import { useProvisionedDevice } from '../../src/client/device.ts';
import { HushClient, type OpenOptions } from '../../src/client/hush-client.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { createChat, sealMessage } from '../../src/core/chat.ts';
import { createDeviceIdentity } from '../../src/core/identity.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';

export interface Device {
  client: HushClient;
  store: ProfileStore;
  /** Opens the same profile again (after close), with the same options. */
  reopen(): Promise<HushClient>;
}

/** A device on `brokerUrl` with the given credentials; every client opened is pushed to `open` (closed by the test). */
export async function device(
  brokerUrl: string,
  credentials: { clientId: string; secret: string },
  open: HushClient[],
  options: Partial<OpenOptions> = {},
): Promise<Device> {
  const store = new MemoryStore();
  await useProvisionedDevice({
    brokerUrl,
    clientId: credentials.clientId,
    deviceSecret: credentials.secret,
    server: 'http://hush.test',
    store,
    provider,
  });
  const reopen = async () => {
    const client = await HushClient.open({
      store,
      provider,
      connection: { backoff: { baseMs: 100, capMs: 1000 } },
      ...options,
    });
    open.push(client);
    return client;
  };
  return { client: await reopen(), store, reopen };
}

/** Connects both, and has `b` join a chat `a` creates; returns the chat id. */
export async function chatBetween(a: HushClient, b: HushClient): Promise<string> {
  await Promise.all([a.connect(), b.connect()]);
  const { link, chatId } = await a.createInvite();
  expect(await b.acceptInvite(link, { timeoutMs: 8000 })).toBe(chatId);
  return chatId;
}

/** `count` chat envelopes of a chat nobody else is in: every inbox that gets them has no key for them. */
export async function junkEnvelopes(count: number): Promise<Buffer[]> {
  const mallory = await createDeviceIdentity(provider);
  let state = await createChat(provider, mallory, { now: Date.now() });
  const wires: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const sealed = await sealMessage(
      provider,
      state,
      mallory,
      { kind: 'text', text: `junk ${i}` },
      Date.now(),
    );
    state = sealed.state;
    wires.push(Buffer.from(sealed.wire));
  }
  return wires;
}
