/**
 * The embedded broker as the SDK integration tests use it: an aclfile and password file in a temp dir, accounts
 * provisioned the way the registration server does it, and every client and raw connection closed after each test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/index.ts';
import { hashPassword, parsePasswordFile } from '../../src/broker/passwd/index.ts';
import type { HushEvents, ProfileStore } from '../../src/client/api.ts';
import { HushClient } from '../../src/client/hush-client.ts';
import { toB64u } from '../../src/core/bytes.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { connectClient, sleep, type TestClient } from './mqtt.ts';

export interface SdkBroker {
  readonly dir: string;
  readonly broker: RunningBroker;
  /** mqtt:// URL of the broker. */
  readonly url: string;
  /** What the registration server does: a password entry and a persistent session subscribed to the inbox. */
  provision(): Promise<{ clientId: string; secret: string }>;
  /** Opens a HushClient on `store` with short reconnect backoff; closed after the test. */
  openClient(store: ProfileStore): Promise<HushClient>;
  /** A raw MQTT connection of a fresh, legitimate account (an outsider, or how an attacker's bytes reach an inbox). */
  rawPublisher(): Promise<TestClient>;
}

/** Starts the broker for the calling test file (beforeAll) and cleans up after each test and at the end. */
export function useSdkBroker(prefix: string): SdkBroker {
  let dir = '';
  let broker: RunningBroker | undefined;
  const passwordLines: string[] = [];
  const open: HushClient[] = [];
  const raw: TestClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), prefix));
    await writeFile(`${dir}/aclfile`, 'pattern read chats/%c/messages\npattern write chats/+/messages\n');
    await writeFile(`${dir}/passwd`, '', { mode: 0o600 });
    broker = await startBroker(
      {
        mqttPort: 0,
        aclFile: `${dir}/aclfile`,
        passwordFile: `${dir}/passwd`,
        limits: { connectsPerSecondPerAddress: 0 },
      },
      pino({ level: 'silent' }),
    );
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(raw.splice(0).map((c) => c.end()));
  });

  afterAll(async () => {
    await broker?.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const running = (): RunningBroker => {
    if (!broker) throw new Error('useSdkBroker: the broker starts in beforeAll');
    return broker;
  };

  const env: SdkBroker = {
    get dir() {
      return dir;
    },
    get broker() {
      return running();
    },
    get url() {
      return `mqtt://127.0.0.1:${running().mqttPort}`;
    },
    async provision() {
      const clientId = randomId(16);
      const secret = randomId(32);
      passwordLines.push(`${clientId}:${await hashPassword(secret)}`);
      await running().setPasswords(parsePasswordFile(`${passwordLines.join('\n')}\n`, 'test'));
      await running().provisionSession(clientId, [`chats/${clientId}/messages`]);
      return { clientId, secret };
    },
    async openClient(store) {
      const client = await HushClient.open({
        store,
        provider,
        connection: { backoff: { baseMs: 100, capMs: 1000 } },
      });
      open.push(client);
      return client;
    },
    async rawPublisher() {
      const { clientId, secret } = await env.provision();
      const c = await connectClient(env.url, { clientId, username: clientId, password: secret });
      raw.push(c);
      return c;
    },
  };
  return env;
}

/** `n` random bytes as b64u. */
export const randomId = (n: number): string => toB64u(crypto.getRandomValues(new Uint8Array(n)));

/** Collects every `event` the client emits. */
export function record<K extends keyof HushEvents>(client: HushClient, event: K): HushEvents[K][0][] {
  const seen: HushEvents[K][0][] = [];
  client.on(event, ((arg: HushEvents[K][0]) => seen.push(arg)) as never);
  return seen;
}

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
