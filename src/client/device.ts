/**
 * The device record: who this installation is to the broker and to other devices (docs/PROTOCOL.md §1).
 *
 * Stored as `device.json` (versioned JSON): client id, device secret (the MQTT password), display name, server
 * URL, broker URLs, inbox topic, mode, public keys and the private keys. In Node the private keys are PKCS#8 (b64u)
 * exported from an extractable identity; a browser keeps non-extractable CryptoKeys in IndexedDB instead and plugs
 * in its own DeviceKeyVault (the seam below). A device comes from `registerDevice` (POST to a Hush server, which
 * creates the broker account and its persistent session) or `useProvisionedDevice` (credentials made elsewhere).
 */

import { z } from 'zod';
import { fromB64u, toB64u } from '../core/bytes.ts';
import type { AgreementPrivateKey, CryptoProvider, SigningPrivateKey } from '../core/crypto/provider.ts';
import { createDeviceIdentity, isClientId, type DeviceIdentity } from '../core/identity.ts';
import type { ProfileStore } from './api.ts';
import { HushClientError } from './errors.ts';
import { readJson, writeJson } from './storage.ts';

/** The store name of the device record. */
export const DEVICE_RECORD = 'device.json';
/** The inbox topic pattern of DESIGN.md; `%c` is the client id. */
export const DEFAULT_INBOX_PATTERN = 'chats/%c/messages';

/** How the private keys are kept: PKCS#8 in the record (Node), or a reference to a vault (browser IndexedDB). */
export type StoredKeys =
  { kind: 'pkcs8'; signing: string; agreement: string } | { kind: 'vault'; ref: string };

/** Saves and loads a device's private keys. The default keeps PKCS#8 inside the record. */
export interface DeviceKeyVault {
  /**
   * Whether new identities for this vault are generated extractable (default true: PKCS#8 needs it). A browser
   * vault that stores CryptoKeys sets false, so the private keys can never be exported.
   */
  readonly extractable?: boolean;
  save(identity: DeviceIdentity): Promise<StoredKeys>;
  load(stored: StoredKeys): Promise<{ signing: SigningPrivateKey; agreement: AgreementPrivateKey }>;
  remove?(stored: StoredKeys): Promise<void>;
}

/** Keys as PKCS#8 in the record; needs an extractable identity (Node profiles, files 0600). */
export function pkcs8KeyVault(provider: CryptoProvider): DeviceKeyVault {
  return {
    async save(identity) {
      return {
        kind: 'pkcs8',
        signing: toB64u(await provider.exportPrivateKey(identity.signing.privateKey)),
        agreement: toB64u(await provider.exportPrivateKey(identity.agreement.privateKey)),
      };
    },
    async load(stored) {
      if (stored.kind !== 'pkcs8')
        throw new HushClientError('bad-record', 'device: keys are kept in a vault');
      return {
        signing: await provider.importSigningPrivateKey(fromB64u(stored.signing, 'signing key'), true),
        agreement: await provider.importAgreementPrivateKey(
          fromB64u(stored.agreement, 'agreement key'),
          true,
        ),
      };
    },
  };
}

const topicSchema = z
  .string()
  .min(1)
  .max(256)
  .refine(
    (t) => !t.includes('+') && !t.includes('#') && !t.includes(String.fromCharCode(0)),
    'a topic has no wildcards',
  );

const recordSchema = z.strictObject({
  v: z.literal(1),
  clientId: z.string().refine(isClientId, 'client id: b64u of 16 bytes'),
  deviceSecret: z.string().min(1).max(512),
  displayName: z.string().max(100).optional(),
  server: z.string().url().optional(),
  brokerUrl: z.string().url(),
  mqttUrl: z.string().url().optional(),
  inbox: topicSchema,
  inboxPattern: z.string().min(1).max(256),
  mode: z.enum(['account', 'seed']),
  signPublic: z.string(),
  agreePublic: z.string(),
  keys: z.union([
    z.strictObject({ kind: z.literal('pkcs8'), signing: z.string(), agreement: z.string() }),
    z.strictObject({ kind: z.literal('vault'), ref: z.string() }),
  ]),
  /** True once a connection has seen the broker's persistent session (for 'queue-gap' detection). */
  sessionSeen: z.boolean().optional(),
  createdAt: z.number().int(),
});

/** The stored device record (version 1). It holds the device secret and private keys: keep it like a key. */
export type DeviceRecord = z.infer<typeof recordSchema>;

/** A loaded device: its record and its usable identity. */
export interface Device {
  record: DeviceRecord;
  identity: DeviceIdentity;
}

/** The inbox topic for a client id under `pattern` ('chats/%c/messages'). */
export function inboxTopic(clientId: string, pattern = DEFAULT_INBOX_PATTERN): string {
  if (!pattern.includes('%c')) throw new HushClientError('bad-record', 'device: inbox pattern needs %c');
  return pattern.replaceAll('%c', clientId);
}

async function refuseExisting(store: ProfileStore): Promise<void> {
  if ((await store.read(DEVICE_RECORD)) !== undefined) {
    throw new HushClientError(
      'device-exists',
      'device: this profile already has a device; revoke it or use another profile',
    );
  }
}

async function saveNew(
  store: ProfileStore,
  identity: DeviceIdentity,
  vault: DeviceKeyVault,
  fields: Omit<DeviceRecord, 'v' | 'clientId' | 'deviceSecret' | 'signPublic' | 'agreePublic' | 'keys'>,
): Promise<Device> {
  const record: DeviceRecord = {
    v: 1,
    clientId: identity.clientId,
    deviceSecret: identity.deviceSecret,
    ...fields,
    signPublic: toB64u(identity.signing.publicKey),
    agreePublic: toB64u(identity.agreement.publicKey),
    keys: await vault.save(identity),
  };
  const checked = recordSchema.safeParse(record);
  if (!checked.success)
    throw new HushClientError('bad-record', `device: invalid record (${checked.error.issues[0]?.message})`);
  await writeJson(store, DEVICE_RECORD, record);
  return { record, identity };
}

/** A registration server's 201 answer. */
const registrationSchema = z.object({
  clientId: z.string().refine(isClientId, 'client id: b64u of 16 bytes'),
  inbox: topicSchema,
  brokerUrl: z.string().url(),
  mqttUrl: z.string().url().optional(),
});

/** Normalizes a server URL to its origin plus path without trailing slashes ("https://host:8443"). */
export function normalizeServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new HushClientError('network', `device: server ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new HushClientError('network', `device: server must be http(s), got ${url.protocol}`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

async function request(
  fetchImpl: typeof fetch,
  url: string,
  init: RequestInit,
  what: string,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new HushClientError(
      'network',
      `${what}: cannot reach ${url}: ${(error as Error).message}${(error as { cause?: Error }).cause ? ` (${(error as { cause: Error }).cause.message})` : ''}`,
      { cause: error },
    );
  }
  if (response.status >= 400) {
    let detail = '';
    try {
      const text = (await response.text()).slice(0, 300);
      try {
        const json = JSON.parse(text) as { error?: unknown; message?: unknown };
        detail = String(json.error ?? json.message ?? text);
      } catch {
        detail = text;
      }
    } catch {
      // no body
    }
    const suffix = detail ? `: ${detail}` : '';
    if (response.status >= 500)
      throw new HushClientError('server-error', `${what}: server error ${response.status}${suffix}`);
    throw new HushClientError('registration-refused', `${what}: refused with ${response.status}${suffix}`);
  }
  return response;
}

/**
 * Creates a device and registers it with a Hush server (POST {server}/api/v1/devices). The server creates the
 * broker account and its persistent session, so messages sent to the device wait from now on. Refuses a profile
 * that already holds a device.
 */
export async function registerDevice(options: {
  server: string;
  name?: string;
  token?: string;
  store: ProfileStore;
  provider: CryptoProvider;
  fetchImpl?: typeof fetch;
  vault?: DeviceKeyVault;
  now?: () => number;
}): Promise<Device> {
  const { store, provider } = options;
  const server = normalizeServer(options.server);
  await refuseExisting(store);
  const vault = options.vault ?? pkcs8KeyVault(provider);
  const identity = await createDeviceIdentity(provider, { extractable: vault.extractable ?? true });
  const body: Record<string, string> = { secret: identity.deviceSecret };
  if (options.name !== undefined) body.name = options.name;
  if (options.token !== undefined) body.token = options.token;
  const response = await request(
    options.fetchImpl ?? globalThis.fetch,
    `${server}/api/v1/devices`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    'registration',
  );
  let parsed: z.infer<typeof registrationSchema>;
  try {
    const result = registrationSchema.safeParse(await response.json());
    if (!result.success) throw new Error(result.error.issues[0]?.message ?? 'invalid');
    parsed = result.data;
  } catch (error) {
    throw new HushClientError(
      'server-error',
      `registration: the server's answer is not a device (${(error as Error).message})`,
    );
  }
  const registered: DeviceIdentity = { ...identity, clientId: parsed.clientId };
  return saveNew(store, registered, vault, {
    ...(options.name !== undefined ? { displayName: options.name } : {}),
    server,
    brokerUrl: parsed.brokerUrl,
    ...(parsed.mqttUrl !== undefined ? { mqttUrl: parsed.mqttUrl } : {}),
    inbox: parsed.inbox,
    inboxPattern: parsed.inbox.replace(parsed.clientId, '%c'),
    mode: 'account',
    createdAt: (options.now ?? Date.now)(),
  });
}

/**
 * Stores a device whose broker credentials were provisioned elsewhere (an operator's password file and session):
 * no server is contacted. `server` (optional) is the URL invites name; without it, an http(s) URL derived from the
 * broker's host is used for invites and invites from any server are accepted.
 */
export async function useProvisionedDevice(options: {
  brokerUrl: string;
  clientId: string;
  deviceSecret: string;
  inboxPattern?: string;
  server?: string;
  displayName?: string;
  store: ProfileStore;
  provider: CryptoProvider;
  vault?: DeviceKeyVault;
  now?: () => number;
}): Promise<Device> {
  const { store, provider } = options;
  if (!isClientId(options.clientId))
    throw new HushClientError('bad-record', 'device: client id must be b64u of 16 bytes (22 characters)');
  await refuseExisting(store);
  const identity = await createDeviceIdentity(provider, { extractable: true });
  const device: DeviceIdentity = {
    ...identity,
    clientId: options.clientId,
    deviceSecret: options.deviceSecret,
  };
  const pattern = options.inboxPattern ?? DEFAULT_INBOX_PATTERN;
  return saveNew(store, device, options.vault ?? pkcs8KeyVault(provider), {
    ...(options.displayName !== undefined ? { displayName: options.displayName } : {}),
    ...(options.server !== undefined ? { server: normalizeServer(options.server) } : {}),
    brokerUrl: options.brokerUrl,
    inbox: inboxTopic(options.clientId, pattern),
    inboxPattern: pattern,
    mode: 'account',
    createdAt: (options.now ?? Date.now)(),
  });
}

/**
 * Seed mode (docs/PROTOCOL.md §11): stores a fresh anonymous identity — random client id and fresh keys — for an
 * anonymous broker with the seed's ACL; no server, no password (the stored secret is never sent). The seed client
 * (src/client/seed) keeps one such identity per chat, each in its own sub-store.
 */
export async function createSeedIdentity(options: {
  brokerUrl: string;
  inboxPattern?: string;
  displayName?: string;
  store: ProfileStore;
  provider: CryptoProvider;
  vault?: DeviceKeyVault;
  now?: () => number;
  /** A ready identity (already announced, e.g. in a 'moved' message) instead of a fresh one. */
  identity?: DeviceIdentity;
}): Promise<Device> {
  const { store, provider } = options;
  await refuseExisting(store);
  const identity = options.identity ?? (await createDeviceIdentity(provider, { extractable: true }));
  const pattern = options.inboxPattern ?? DEFAULT_INBOX_PATTERN;
  return saveNew(store, identity, options.vault ?? pkcs8KeyVault(provider), {
    ...(options.displayName !== undefined ? { displayName: options.displayName } : {}),
    brokerUrl: options.brokerUrl,
    inbox: inboxTopic(identity.clientId, pattern),
    inboxPattern: pattern,
    mode: 'seed',
    createdAt: (options.now ?? Date.now)(),
  });
}

/** Loads the device of a profile; 'no-device' when there is none, 'bad-record' when it is damaged. */
export async function loadDevice(
  store: ProfileStore,
  provider: CryptoProvider,
  vault: DeviceKeyVault = pkcs8KeyVault(provider),
): Promise<Device> {
  const json = await readJson(store, DEVICE_RECORD);
  if (json === undefined)
    throw new HushClientError('no-device', 'device: this profile has no device yet (register one first)');
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HushClientError(
      'bad-record',
      `device: damaged device record (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'})`,
    );
  }
  const record = parsed.data;
  const keys = await vault.load(record.keys);
  const identity: DeviceIdentity = {
    clientId: record.clientId,
    deviceSecret: record.deviceSecret,
    signing: { privateKey: keys.signing, publicKey: fromB64u(record.signPublic, 'signing public key', 32) },
    agreement: {
      privateKey: keys.agreement,
      publicKey: fromB64u(record.agreePublic, 'agreement public key', 32),
    },
  };
  return { record, identity };
}

/** Rewrites the device record (for flags such as sessionSeen). */
export async function saveDeviceRecord(store: ProfileStore, record: DeviceRecord): Promise<void> {
  await writeJson(store, DEVICE_RECORD, record);
}

/**
 * Revokes the device: DELETE {server}/api/v1/devices/{clientId} with its credentials (the server removes the broker
 * account and session), then wipes the profile (keys, chats, history). A provisioned device without a server is
 * only wiped locally (`remote: false`).
 */
export async function revokeDevice(options: {
  store: ProfileStore;
  provider: CryptoProvider;
  fetchImpl?: typeof fetch;
  vault?: DeviceKeyVault;
}): Promise<{ remote: boolean }> {
  const { store, provider } = options;
  const { record } = await loadDevice(store, provider, options.vault);
  let remote = false;
  if (record.server !== undefined && record.mode === 'account') {
    const basic = b64(`${record.clientId}:${record.deviceSecret}`);
    await request(
      options.fetchImpl ?? globalThis.fetch,
      `${record.server}/api/v1/devices/${encodeURIComponent(record.clientId)}`,
      { method: 'DELETE', headers: { authorization: `Basic ${basic}` } },
      'revocation',
    );
    remote = true;
  }
  await options.vault?.remove?.(record.keys);
  for (const name of await store.list('')) await store.remove(name);
  return { remote };
}

const b64 = (text: string): string => {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
};

/**
 * Refuses an invite for another server than the device's (compared by origin): the device has no account there,
 * so its join request could never be answered. Devices without a server (provisioned) accept any.
 */
export function checkInviteServer(record: DeviceRecord, inviteServer: string): void {
  if (record.server === undefined) return;
  const mine = new URL(record.server).origin;
  const theirs = new URL(inviteServer).origin;
  if (mine !== theirs) {
    throw new HushClientError(
      'wrong-server',
      `invite: this invite is for ${theirs}, but this device is registered with ${mine}; ` +
        `create a profile on ${theirs} to join it`,
    );
  }
}

/** The server URL invites of this device name: its server, or http(s) on the broker's host. */
export function inviteServerOf(record: DeviceRecord): string {
  if (record.server !== undefined) return record.server;
  const broker = new URL(record.brokerUrl);
  const secure = broker.protocol === 'wss:' || broker.protocol === 'mqtts:';
  return `${secure ? 'https' : 'http'}://${broker.host}`;
}
