/**
 * Holding a profile: the one process that has the device's MQTT connection (DESIGN.md, "One device = one MQTT
 * connection"). `holdProfile` takes the profile lock, opens the SDK client, serves the profile socket so other
 * `hush` commands can hand their work over, then connects. `onProfile` is how a short command runs: ask the
 * holder through the socket first; if nobody holds the profile, hold it just long enough to do the work itself.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { nodeCryptoProvider } from '../../crypto-node/provider.ts';
import type { ConnectionState, ReceivedText } from '../../client/api.ts';
import { loadDevice, type Device } from '../../client/device.ts';
import { HushClientError } from '../../client/errors.ts';
import { HushClient } from '../../client/hush-client.ts';
import { FileStore } from '../../client/node/file-store.ts';
import { SEED_RECORD, SeedClient } from '../../client/seed/seed-client.ts';
import { readJson } from '../../client/storage.ts';
import type { ChatClientLike, ProfileMode } from './chat-client.ts';
import { UserError } from '../shared/errors.ts';
import { CLOSING, askProfileHolder, serveProfileSocket, type IpcRequest, type IpcResults } from './ipc.ts';
import { ProfileLockedError, acquireProfileLock, type ProfileLock } from './lock.ts';
import { appendBacklog } from './backlog.ts';

/** How long a short command waits for a holder that has the lock but is not serving its socket yet. */
const HOLDER_STARTUP_MS = 5_000;
/** How long a short command waits for the broker before giving up. */
const CONNECT_TIMEOUT_MS = 30_000;
/** How long a handed-over request may take beyond its own timeout. */
const HANDOVER_SLACK_MS = 30_000;

/** The profile directory's store, after checking the directory exists (it is created by `device new` only). */
export async function openProfileStore(dir: string, options: { create?: boolean } = {}): Promise<FileStore> {
  if (!options.create) {
    try {
      await access(dir);
    } catch {
      throw new UserError(
        `profile ${dir} does not exist: create it with 'hush device new --profile ${dir} --server URL' ` +
          `(or '--broker URL --seed' for seed mode)`,
      );
    }
  }
  return new FileStore(dir);
}

/** A UserError that keeps the SDK's error code ('timeout', 'unknown-chat'…), also across the socket. */
export class ProfileCommandError extends UserError {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Turns an SDK error into a UserError with the profile named, and rethrows anything else. */
export function asUserError(error: unknown, dir: string): never {
  if (error instanceof UserError) throw error;
  if (error instanceof HushClientError) {
    if (error.code === 'no-device') {
      throw new ProfileCommandError(
        `profile ${dir} has no device yet: run 'hush device new --profile ${dir} --server URL' ` +
          `(or '--broker URL --seed' for seed mode) first`,
        error.code,
      );
    }
    throw new ProfileCommandError(error.message, error.code);
  }
  throw error;
}

/** What a profile is: an account-mode device, or a seed-mode profile (one identity per chat, no device id). */
export type ProfileInfo =
  | { mode: 'account'; brokerUrl: string; device: Device }
  | { mode: 'seed'; brokerUrl: string; displayName?: string };

interface SeedRecordView {
  mode?: unknown;
  brokerUrl?: unknown;
  displayName?: unknown;
}

/** Reads which mode a profile is in: a seed record (`seed.json`, mode 'seed') or the device record. */
async function readProfileInfo(store: FileStore): Promise<ProfileInfo> {
  const seed = (await readJson(store, SEED_RECORD)) as SeedRecordView | undefined;
  if (seed !== undefined && seed.mode === 'seed' && typeof seed.brokerUrl === 'string') {
    return {
      mode: 'seed',
      brokerUrl: seed.brokerUrl,
      ...(typeof seed.displayName === 'string' ? { displayName: seed.displayName } : {}),
    };
  }
  const device = await loadDevice(store, nodeCryptoProvider);
  return { mode: 'account', brokerUrl: device.record.brokerUrl, device };
}

/** Loads what the profile is (no connection): its mode, and in account mode its device record. */
export async function loadProfileInfo(dir: string): Promise<ProfileInfo> {
  const store = await openProfileStore(dir);
  try {
    return await readProfileInfo(store);
  } catch (error) {
    asUserError(error, dir);
  }
}

/** Opens the SDK client that fits the profile's mode (no connection). */
async function openClient(store: FileStore, info: ProfileInfo): Promise<ChatClientLike> {
  if (info.mode === 'seed') return SeedClient.open({ store, provider: nodeCryptoProvider });
  return HushClient.open({ store, provider: nodeCryptoProvider });
}

/** A process holding a profile: its client, connection state and the socket it serves. */
export interface ProfileHolder {
  readonly client: ChatClientLike;
  readonly profile: ProfileInfo;
  connection(): ConnectionState;
  /** Does what a request asks, on this process's connection (what the socket serves too). */
  perform<R extends IpcRequest>(request: R): Promise<IpcResults[R['op']]>;
  /** Stops serving, lets handed-over work finish, closes the connection and releases the lock. */
  release(): Promise<void>;
}

export interface HoldOptions {
  /**
   * Text messages received while this process holds the profile and nobody prints them (a short command) are kept
   * for the next `hush listen`; a listener sets this to false and prints them itself.
   */
  keepBacklog?: boolean;
  /**
   * false: hold the profile without connecting (work that only changes local state); a function decides by the
   * profile's mode. Default true.
   */
  connect?: boolean | ((mode: ProfileMode) => boolean);
  /** Give up if not online within this time (default: keep trying, as a listener should). */
  connectTimeoutMs?: number;
  /** Called with the client before it connects, so no event of the first moments is missed. */
  beforeConnect?: (client: ChatClientLike) => void | Promise<void>;
}

/**
 * Takes the profile: lock, client, socket, connection. Throws ProfileLockedError if another process holds it.
 * Connection failures (wrong secret, revoked device, another connection taking over) become UserErrors.
 */
export async function holdProfile(dir: string, options: HoldOptions = {}): Promise<ProfileHolder> {
  const store = await openProfileStore(dir);
  const lock: ProfileLock = await acquireProfileLock(dir);
  let client: ChatClientLike | undefined;
  let stopServing: (() => Promise<void>) | undefined;
  try {
    const profile = await readProfileInfo(store);
    client = await openClient(store, profile);
    const opened = client;
    let state: ConnectionState = 'offline';
    opened.on('connection', ({ state: next }) => (state = next));
    const backlogWrites: Array<Promise<void>> = [];
    if (options.keepBacklog !== false) {
      opened.on('message', (message: ReceivedText) => {
        backlogWrites.push(appendBacklog(store, message));
      });
    }
    const perform = async <R extends IpcRequest>(request: R): Promise<IpcResults[R['op']]> => {
      const result = await performOn(opened, profile, request, () => state);
      return result as IpcResults[R['op']];
    };
    const server = await serveProfileSocket(dir, {
      send: (r) => perform(r),
      'invite-create': (r) => perform(r),
      'invite-accept': (r) => perform(r),
      status: (r) => perform(r),
    });
    stopServing = () => server.close();
    await options.beforeConnect?.(opened);
    const connect =
      typeof options.connect === 'function' ? options.connect(profile.mode) : options.connect !== false;
    if (connect) {
      await connectWithin(opened, profile.brokerUrl, options.connectTimeoutMs);
      // A seed profile has one connection per chat (none before its first chat): connected means all are up.
      if (profile.mode === 'seed' && state === 'offline') state = 'online';
    }
    return {
      client: opened,
      profile,
      connection: () => state,
      perform,
      async release() {
        try {
          await server.close();
          await Promise.allSettled(backlogWrites);
          await opened.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (error) {
    await stopServing?.().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await lock.release();
    asUserError(error, dir);
  }
}

/** Connects, or fails with a UserError naming the broker if that takes longer than timeoutMs. */
async function connectWithin(
  client: ChatClientLike,
  brokerUrl: string,
  timeoutMs: number | undefined,
): Promise<void> {
  if (timeoutMs === undefined) return client.connect();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UserError(
            `cannot connect to the broker (${brokerUrl}) within ${timeoutMs / 1000} s; is the Hush server running?`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The work behind each socket operation, on a connected client. */
async function performOn(
  client: ChatClientLike,
  profile: ProfileInfo,
  request: IpcRequest,
  state: () => ConnectionState,
): Promise<IpcResults[IpcRequest['op']]> {
  switch (request.op) {
    case 'send':
      return sendAcknowledged(client, request.chat, request.text, SEND_ACK_TIMEOUT_MS);
    case 'invite-create': {
      const { link, chatId } = await client.createInvite(request.chat);
      return { link, chatId };
    }
    case 'invite-accept': {
      const chatId = await client.acceptInvite(request.link, {
        ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
        ...(request.displayName !== undefined ? { displayName: request.displayName } : {}),
      });
      return { chatId };
    }
    case 'status':
      return profile.mode === 'seed'
        ? { pid: process.pid, mode: 'seed', connection: state() }
        : {
            pid: process.pid,
            clientId: profile.device.record.clientId,
            mode: 'account',
            connection: state(),
          };
  }
}

/** How long `send` waits for the broker's acknowledgement before giving up (the message stays in the outbox). */
const SEND_ACK_TIMEOUT_MS = 30_000;

/**
 * Sends a text and resolves once the broker has acknowledged every recipient copy (the SDK has stored it in the
 * outbox before publishing). Rejects 'timeout' if that takes longer than timeoutMs; the message is then still
 * in the outbox and goes out on the profile's next connection.
 */
export async function sendAcknowledged(
  client: ChatClientLike,
  chatId: string,
  text: string,
  timeoutMs: number,
): Promise<{ id: string }> {
  const acknowledged = new Set<string>();
  let wake = () => undefined as void;
  const onState = (event: { chatId: string; id: string; state: string }) => {
    if (event.chatId === chatId && event.state !== 'sending') {
      acknowledged.add(event.id);
      wake();
    }
  };
  client.on('message-state', onState);
  try {
    const { id } = await client.sendText(chatId, text);
    const done = () =>
      acknowledged.has(id) ||
      (client.history(chatId).find((m) => m.id === id)?.state ?? 'sending') !== 'sending';
    if (done()) return { id };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new HushClientError(
            'timeout',
            `send: the broker has not acknowledged message ${id} within ${timeoutMs / 1000} s; it is kept in the ` +
              `outbox and goes out the next time this profile is connected`,
          ),
        );
      }, timeoutMs);
      wake = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    return { id };
  } finally {
    client.off('message-state', onState);
  }
}

/**
 * Runs one request for a short command: handed to the process holding the profile if there is one, otherwise on
 * a connection this process opens for the purpose and closes afterwards. Never opens a second connection.
 */
export async function onProfile<R extends IpcRequest>(
  dir: string,
  request: R,
  options: { timeoutMs?: number } = {},
): Promise<IpcResults[R['op']]> {
  await openProfileStore(dir);
  const timeoutMs = (options.timeoutMs ?? 0) + HANDOVER_SLACK_MS;
  const handed = await handOver(dir, request, timeoutMs);
  if (handed !== undefined) return handed;
  // Several short commands may race for an idle profile: one takes it, the others hand over to it, or take the
  // profile in turn once it is released. Give up only if the same process keeps the lock without answering.
  let holder: ProfileHolder | undefined;
  let silent: { pid: number; since: number } | undefined;
  while (holder === undefined) {
    try {
      // An invite is local state only (join requests wait in the inviter's queue): no connection needed. In seed
      // mode it is not: the invite names a fresh throwaway inbox whose broker session must exist first.
      holder = await holdProfile(dir, {
        connect: (mode) =>
          request.op === 'status' ? false : request.op !== 'invite-create' || mode === 'seed',
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      });
    } catch (error) {
      if (!(error instanceof ProfileLockedError)) throw error;
      if (silent?.pid !== error.pid) silent = { pid: error.pid, since: Date.now() };
      if (Date.now() - silent.since > HOLDER_STARTUP_MS) {
        throw new UserError(
          `profile ${dir} is in use by process ${error.pid}, which does not answer on ${path.join(dir, 'hush.sock')}; ` +
            `if no hush command is running on this profile, remove ${error.lockFile}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const late = await handOver(dir, request, timeoutMs);
      if (late !== undefined) return late;
    }
  }
  try {
    return await holder.perform(request);
  } catch (error) {
    asUserError(error, dir);
  } finally {
    await holder.release();
  }
}

async function handOver<R extends IpcRequest>(
  dir: string,
  request: R,
  timeoutMs: number,
): Promise<IpcResults[R['op']] | undefined> {
  let response;
  try {
    response = await askProfileHolder(dir, request, { timeoutMs });
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  if (response === undefined) return undefined;
  // The holder is letting the profile go and did nothing: the caller takes the profile itself.
  if (!response.ok && response.code === CLOSING) return undefined;
  if (!response.ok) throw new ProfileCommandError(response.error, response.code);
  const { ok: _ok, ...result } = response;
  return result as unknown as IpcResults[R['op']];
}
