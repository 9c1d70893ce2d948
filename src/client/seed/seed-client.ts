/**
 * Seed mode (docs/PROTOCOL.md §11): Hush against a broker that has only the seed's setup — anonymous access,
 * `pattern read chats/%c/messages` + `pattern write chats/+/messages`, no registration server, no passwords. There
 * the client id is the only secret (knowing an id = taking its session over), so, as the seed prescribes:
 *
 * - every chat has its own identity (random client id AND keys), run as its own HushClient over a prefixed part
 *   of the profile store, with its own anonymous MQTT connection (clean: false, QoS 1, exact inbox): a peer in one
 *   chat never learns the id that reads another chat, and cannot link the two;
 * - an invite names a throwaway invite inbox, used only for that invite's join requests (forwarded to the chat's
 *   client) and retired — connection closed, session removed with a clean: true connect — after its last use or
 *   at expiry; never an id that reads a chat;
 * - when a chat's membership shrinks (removal or leave), each remaining member moves to a fresh identity: a signed
 *   'moved' message under the NEW epoch (which the departed member lacks), then the switch; the old id keeps
 *   forwarding to the new identity for a handover period and is then retired.
 *
 * The profile store holds `seed.json` (this file's record) and one sub-store per identity (`id<N>.`).
 */

import { toB64u } from '../../core/bytes.ts';
import { GRACE_MS } from '../../core/chat.ts';
import { defaultProvider } from '../../core/crypto/index.ts';
import type { CryptoProvider } from '../../core/crypto/provider.ts';
import { createDeviceIdentity, isClientId } from '../../core/identity.ts';
import { inviteId as deriveInviteId, parseInviteLink } from '../../core/invite.ts';
import type { ChatSummary, HushEvents, ProfileStore, StoredMessage } from '../api.ts';
import { HushConnection, type ConnectionOptions } from '../connection.ts';
import { createSeedIdentity, DEFAULT_INBOX_PATTERN, inboxTopic, type DeviceKeyVault } from '../device.ts';
import { TypedEmitter } from '../emitter.ts';
import { HushClientError } from '../errors.ts';
import { HushClient } from '../hush-client.ts';
import { readJson, writeJson } from '../storage.ts';
import { PrefixStore } from './prefix-store.ts';
import { primeSession, wipeSession } from './session.ts';

/** The store name of a seed profile's record. */
export const SEED_RECORD = 'seed.json';

interface IdentityEntry {
  prefix: string;
  clientId: string;
  /** Undefined while a join is pending. */
  chatId?: string;
  /** The invite this identity was made to accept. */
  inviteId?: string;
}
interface InviteInboxEntry {
  clientId: string;
  chatId: string;
  inviteId: string;
  exp?: number;
}
interface RetiringEntry {
  prefix: string;
  clientId: string;
  chatId: string;
  /** Until then the old id's inbox is still read and forwarded to the chat's current identity. */
  until: number;
}
interface SeedRecord {
  v: 1;
  mode: 'seed';
  brokerUrl: string;
  inboxPattern: string;
  displayName?: string;
  createdAt: number;
  counter: number;
  identities: IdentityEntry[];
  invites: InviteInboxEntry[];
  retiring: RetiringEntry[];
}

/** Creates a seed-mode profile: no server, no account; identities are made per chat as they are needed. */
export async function createSeedDevice(options: {
  brokerUrl: string;
  store: ProfileStore;
  provider?: CryptoProvider;
  inboxPattern?: string;
  displayName?: string;
  now?: () => number;
}): Promise<void> {
  if ((await options.store.read(SEED_RECORD)) !== undefined)
    throw new HushClientError('device-exists', 'seed: this profile already is a seed profile');
  const pattern = options.inboxPattern ?? DEFAULT_INBOX_PATTERN;
  inboxTopic('x', pattern);
  new URL(options.brokerUrl);
  const record: SeedRecord = {
    v: 1,
    mode: 'seed',
    brokerUrl: options.brokerUrl,
    inboxPattern: pattern,
    ...(options.displayName !== undefined ? { displayName: options.displayName } : {}),
    createdAt: (options.now ?? Date.now)(),
    counter: 0,
    identities: [],
    invites: [],
    retiring: [],
  };
  await writeJson(options.store, SEED_RECORD, record);
}

export interface SeedOpenOptions {
  store: ProfileStore;
  provider?: CryptoProvider;
  now?: () => number;
  vault?: DeviceKeyVault;
  /** How long a moved-away id keeps forwarding to the new identity (default: the epoch grace, 120 s). */
  handoverMs?: number;
  /** How long to wait for a 'moved' message to be acknowledged by the broker (default 30 s). */
  moveAckTimeoutMs?: number;
  /** As HushClient's (OpenOptions): when an own text without a receipt counts as not delivered. */
  undeliveredAfterMs?: number;
  /** As HushClient's (OpenOptions): unreadable messages closer together than this make one warning. */
  warningCoalesceMs?: number;
  connection?: Partial<Omit<ConnectionOptions, 'url' | 'clientId' | 'password' | 'inbox' | 'onMessage'>>;
}

const FORWARDED_EVENTS = [
  'message',
  'receipt',
  'typing',
  'presence',
  'chat',
  'warning',
  'connection',
  'message-state',
] as const satisfies ReadonlyArray<keyof HushEvents>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomClientId = (): string => toB64u(crypto.getRandomValues(new Uint8Array(16)));

export class SeedClient extends TypedEmitter<HushEvents> {
  readonly #store: ProfileStore;
  readonly #provider: CryptoProvider;
  readonly #now: () => number;
  readonly #options: SeedOpenOptions;
  #record: SeedRecord;
  /** prefix → client of a current chat identity. */
  readonly #clients = new Map<string, HushClient>();
  /** chat id → last seen epoch and member ids (for rotation). */
  readonly #snapshots = new Map<string, { epoch: number; members: string[] }>();
  readonly #inviteConnections = new Map<string, HushConnection>();
  readonly #forwarders = new Map<string, HushConnection>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #rotations = new Map<string, Promise<void>>();
  #queue: Promise<unknown> = Promise.resolve();
  #connected = false;
  #closed = false;

  private constructor(
    store: ProfileStore,
    provider: CryptoProvider,
    options: SeedOpenOptions,
    record: SeedRecord,
  ) {
    super();
    this.#store = store;
    this.#provider = provider;
    this.#now = options.now ?? Date.now;
    this.#options = options;
    this.#record = record;
  }

  /** Opens a seed profile (made by createSeedDevice): loads every chat identity. Does not connect. */
  static async open(options: SeedOpenOptions): Promise<SeedClient> {
    const record = (await readJson(options.store, SEED_RECORD)) as SeedRecord | undefined;
    if (!record || record.v !== 1 || record.mode !== 'seed')
      throw new HushClientError('no-device', 'seed: this profile is not a seed profile (createSeedDevice)');
    const client = new SeedClient(options.store, options.provider ?? defaultProvider(), options, record);
    for (const entry of record.identities) await client.#openIdentity(entry);
    return client;
  }

  /** The display name of this profile, if any. */
  get displayName(): string | undefined {
    return this.#record.displayName;
  }

  /** Connects every chat identity, invite inbox and handover forwarder; retires what expired. */
  async connect(): Promise<void> {
    if (this.#closed) throw new HushClientError('closed', 'seed: closed');
    this.#connected = true;
    await Promise.all([...this.#clients.values()].map((c) => c.connect()));
    for (const invite of [...this.#record.invites]) {
      if (invite.exp !== undefined && this.#now() >= invite.exp) await this.#retireInvite(invite.clientId);
      else await this.#startInviteInbox(invite);
    }
    for (const entry of [...this.#record.retiring]) await this.#startForwarder(entry);
  }

  /** Closes every connection (sessions stay, so nothing sent meanwhile is lost). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#connected = false;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#rotations.values()]);
    await Promise.all([
      ...[...this.#clients.values()].map((c) => c.close()),
      ...[...this.#inviteConnections.values()].map((c) => c.close()),
      ...[...this.#forwarders.values()].map((c) => c.close()),
    ]);
    this.#inviteConnections.clear();
    this.#forwarders.clear();
    await this.#queue.catch(() => undefined);
  }

  /** The chats of this profile (one identity each). */
  chats(): ChatSummary[] {
    return [...this.#clients.values()].flatMap((c) => c.chats());
  }

  /** A chat's history, oldest first. */
  history(chatId: string, options: { limit?: number } = {}): StoredMessage[] {
    return this.#clientFor(chatId).history(chatId, options);
  }

  /** The identity (client id and inbox) that reads `chatId`'s messages. Keep it secret: it is the inbox key. */
  chatIdentity(chatId: string): { clientId: string; inbox: string } {
    const client = this.#clientFor(chatId);
    return { clientId: client.clientId, inbox: client.inbox };
  }

  /** Throwaway invite inboxes still open (client ids), for UIs and tests. */
  inviteInboxes(): Array<{ clientId: string; chatId: string; inviteId: string; exp?: number }> {
    return this.#record.invites.map((i) => ({ ...i }));
  }

  /** Ids that moved away and still forward to their chat's current identity. */
  retiringIdentities(): Array<{ clientId: string; chatId: string; until: number }> {
    return this.#record.retiring.map(({ clientId, chatId, until }) => ({ clientId, chatId, until }));
  }

  /** Creates a chat under a fresh identity of its own. */
  async createChat({ name }: { name?: string } = {}): Promise<string> {
    const { entry, client } = await this.#newIdentity();
    const chatId = await client.createChat(name !== undefined ? { name } : {});
    await this.#serial(async () => {
      entry.chatId = chatId;
      await this.#save();
    });
    this.#snapshot(chatId, client);
    return chatId;
  }

  /**
   * An invite link to `chatId` (a new chat if none) naming a fresh throwaway invite inbox, which is retired after
   * the invite's last use or at its expiry. Needs connect(): the inbox's session must exist before the link is out.
   */
  async createInvite(
    chatId?: string,
    options: { uses?: number; expiresInMs?: number } = {},
  ): Promise<{ link: string; chatId: string; inviteId: string; inbox: string }> {
    this.#requireConnected();
    const id = chatId ?? (await this.createChat());
    const client = this.#clientFor(id);
    const inbox = randomClientId();
    const entry: InviteInboxEntry = { clientId: inbox, chatId: id, inviteId: '' };
    await this.#startInviteInbox(entry);
    try {
      const created = await client.createInvite(id, { ...options, inbox });
      entry.inviteId = created.inviteId;
      const exp = client.issuedInvite(created.inviteId)?.exp;
      if (exp !== undefined) entry.exp = exp;
      await this.#serial(async () => {
        this.#record.invites.push(entry);
        await this.#save();
      });
      this.#scheduleExpiry(entry);
      return { ...created, inbox };
    } catch (error) {
      await this.#inviteConnections.get(inbox)?.close();
      this.#inviteConnections.delete(inbox);
      await wipeSession(this.#url, inbox, this.#options.connection?.mqttOptions).catch(() => undefined);
      throw error;
    }
  }

  /** Joins through an invite link with a fresh identity made for that chat; resolves with the chat id. */
  async acceptInvite(
    link: string,
    options: { timeoutMs?: number; displayName?: string } = {},
  ): Promise<string> {
    this.#requireConnected();
    const invite = parseInviteLink(link, { now: this.#now() });
    if (this.#record.identities.some((e) => e.clientId === invite.inviter.id))
      throw new HushClientError('not-allowed', 'invite: this is this profile’s own invite');
    const id = toB64u(await deriveInviteId(this.#provider, invite.secret));
    let entry = this.#record.identities.find((e) => e.inviteId === id);
    let client = entry ? this.#clients.get(entry.prefix) : undefined;
    if (!entry || !client) ({ entry, client } = await this.#newIdentity({ inviteId: id }));
    try {
      const chatId = await client.acceptInvite(link, {
        ...options,
        ...(options.displayName === undefined && this.displayName !== undefined
          ? { displayName: this.displayName }
          : {}),
      });
      await this.#joined(entry, chatId);
      return chatId;
    } catch (error) {
      if (error instanceof HushClientError && error.code === 'join-refused') await this.#dropIdentity(entry);
      throw error;
    }
  }

  sendText(chatId: string, text: string): Promise<{ id: string }> {
    return this.#clientFor(chatId).sendText(chatId, text);
  }

  markRead(chatId: string, ids: string[]): Promise<void> {
    return this.#clientFor(chatId).markRead(chatId, ids);
  }

  setTyping(chatId: string, active: boolean): Promise<boolean> {
    return this.#clientFor(chatId).setTyping(chatId, active);
  }

  /** Removes a member (admins); every remaining member then moves to a fresh identity (§11). */
  removeMember(chatId: string, clientId: string): Promise<void> {
    return this.#clientFor(chatId).removeMember(chatId, clientId);
  }

  leaveChat(chatId: string): Promise<void> {
    return this.#clientFor(chatId).leaveChat(chatId);
  }

  /** Resolves when no identity move of `chatId` is in progress (tests, orderly shutdown). */
  async settled(chatId?: string): Promise<void> {
    for (;;) {
      const running = chatId !== undefined ? [this.#rotations.get(chatId)] : [...this.#rotations.values()];
      const list = running.filter((p): p is Promise<void> => p !== undefined);
      if (list.length === 0) return;
      await Promise.allSettled(list);
    }
  }

  // ---- internals ----

  get #url(): string {
    return this.#record.brokerUrl;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #save(): Promise<void> {
    await writeJson(this.#store, SEED_RECORD, this.#record);
  }

  #requireConnected(): void {
    if (this.#closed) throw new HushClientError('closed', 'seed: closed');
    if (!this.#connected)
      throw new HushClientError('offline', 'seed: connect() first (new ids need their broker session)');
  }

  #clientFor(chatId: string): HushClient {
    const entry = this.#record.identities.find((e) => e.chatId === chatId);
    const client = entry ? this.#clients.get(entry.prefix) : undefined;
    if (!client) throw new HushClientError('unknown-chat', `seed: no chat ${JSON.stringify(chatId)}`);
    return client;
  }

  #topic(clientId: string): string {
    return inboxTopic(clientId, this.#record.inboxPattern);
  }

  async #openClient(prefix: string): Promise<HushClient> {
    const client = await HushClient.open({
      store: new PrefixStore(this.#store, prefix),
      provider: this.#provider,
      now: this.#now,
      ...(this.#options.vault ? { vault: this.#options.vault } : {}),
      ...(this.#options.connection ? { connection: this.#options.connection } : {}),
      ...(this.#options.undeliveredAfterMs !== undefined
        ? { undeliveredAfterMs: this.#options.undeliveredAfterMs }
        : {}),
      ...(this.#options.warningCoalesceMs !== undefined
        ? { warningCoalesceMs: this.#options.warningCoalesceMs }
        : {}),
    });
    for (const event of FORWARDED_EVENTS) {
      client.on(event, (...args: unknown[]) =>
        (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args),
      );
    }
    client.on('chat', ({ chatId, change }) => this.#onChatChange(client, chatId, change));
    return client;
  }

  async #openIdentity(entry: IdentityEntry): Promise<HushClient> {
    const client = await this.#openClient(entry.prefix);
    this.#clients.set(entry.prefix, client);
    if (entry.chatId !== undefined) this.#snapshot(entry.chatId, client);
    return client;
  }

  /** A fresh identity in its own sub-store, its session created at the broker, connected if this client is. */
  async #newIdentity(
    extra: { inviteId?: string } = {},
  ): Promise<{ entry: IdentityEntry; client: HushClient }> {
    const prefix = await this.#serial(async () => {
      this.#record.counter += 1;
      await this.#save();
      return `id${this.#record.counter}.`;
    });
    const device = await createSeedIdentity({
      brokerUrl: this.#url,
      inboxPattern: this.#record.inboxPattern,
      ...(this.displayName !== undefined ? { displayName: this.displayName } : {}),
      store: new PrefixStore(this.#store, prefix),
      provider: this.#provider,
      ...(this.#options.vault ? { vault: this.#options.vault } : {}),
      now: this.#now,
    });
    const entry: IdentityEntry = { prefix, clientId: device.record.clientId, ...extra };
    await this.#serial(async () => {
      this.#record.identities.push(entry);
      await this.#save();
    });
    const client = await this.#openIdentity(entry);
    if (this.#connected) await client.connect();
    return { entry, client };
  }

  async #joined(entry: IdentityEntry, chatId: string): Promise<void> {
    if (entry.chatId === chatId) return;
    await this.#serial(async () => {
      entry.chatId = chatId;
      await this.#save();
    });
    const client = this.#clients.get(entry.prefix);
    if (client) this.#snapshot(chatId, client);
  }

  /** Forgets an identity whose join was refused: connection closed, session and files removed. */
  async #dropIdentity(entry: IdentityEntry): Promise<void> {
    const client = this.#clients.get(entry.prefix);
    this.#clients.delete(entry.prefix);
    await client?.close();
    await wipeSession(this.#url, entry.clientId, this.#options.connection?.mqttOptions).catch(
      () => undefined,
    );
    await this.#serial(async () => {
      this.#record.identities = this.#record.identities.filter((e) => e !== entry);
      await this.#save();
      await this.#removeFiles(entry.prefix);
    });
  }

  async #removeFiles(prefix: string): Promise<void> {
    for (const name of await this.#store.list(prefix)) await this.#store.remove(name);
  }

  #snapshot(chatId: string, client: HushClient): void {
    const summary = client.chats().find((c) => c.chatId === chatId);
    if (summary)
      this.#snapshots.set(chatId, { epoch: summary.epoch, members: summary.members.map((m) => m.clientId) });
  }

  /** After a membership change: if someone who knew our ids is gone, move this chat to a fresh identity. */
  #onChatChange(client: HushClient, chatId: string, change: string): void {
    if (change === 'joined') {
      const entry = this.#record.identities.find((e) => e.clientId === client.clientId);
      if (entry) void this.#joined(entry, chatId);
      return;
    }
    if (change !== 'members') return;
    const before = this.#snapshots.get(chatId);
    const summary = client.chats().find((c) => c.chatId === chatId);
    if (!summary) return;
    const members = summary.members.map((m) => m.clientId);
    this.#snapshots.set(chatId, { epoch: summary.epoch, members });
    if (!before || summary.epoch <= before.epoch) return;
    const departed = before.members.filter((id) => !members.includes(id) && id !== client.clientId);
    if (departed.length === 0 || this.#closed) return;
    const previous = this.#rotations.get(chatId) ?? Promise.resolve();
    const run = previous
      .then(() => this.#rotate(chatId))
      .catch((error: unknown) => {
        this.emit('warning', {
          code: 'queue-gap',
          chatId,
          detail: `seed: could not move to a fresh identity after a member left: ${(error as Error).message}`,
        });
      })
      .finally(() => {
        if (this.#rotations.get(chatId) === run) this.#rotations.delete(chatId);
      });
    this.#rotations.set(chatId, run);
  }

  /** The move of §11: fresh identity, 'moved' acknowledged, chat handed over, old id forwarding then retired. */
  async #rotate(chatId: string): Promise<void> {
    if (this.#closed) return;
    const entry = this.#record.identities.find((e) => e.chatId === chatId);
    const old = entry ? this.#clients.get(entry.prefix) : undefined;
    if (!entry || !old) return;
    if (!old.chats().some((c) => c.chatId === chatId)) return;
    const mqttOptions = this.#options.connection?.mqttOptions;
    const next = await createDeviceIdentity(this.#provider, { extractable: true });
    // The new id's session must exist before anyone learns the id, or the broker drops what is sent to it.
    await primeSession(this.#url, next.clientId, this.#topic(next.clientId), mqttOptions);
    await old.announceMove(chatId, next);
    const deadline = this.#now() + (this.#options.moveAckTimeoutMs ?? 30_000);
    while (old.pendingOutgoing(chatId) > 0) {
      if (this.#closed) return;
      if (this.#now() > deadline)
        throw new HushClientError('timeout', 'seed: the move was not acknowledged by the broker');
      await sleep(25);
    }
    await old.close();
    const prefix = await this.#serial(async () => {
      this.#record.counter += 1;
      await this.#save();
      return `id${this.#record.counter}.`;
    });
    const store = new PrefixStore(this.#store, prefix);
    await createSeedIdentity({
      brokerUrl: this.#url,
      inboxPattern: this.#record.inboxPattern,
      ...(this.displayName !== undefined ? { displayName: this.displayName } : {}),
      store,
      provider: this.#provider,
      ...(this.#options.vault ? { vault: this.#options.vault } : {}),
      now: this.#now,
      identity: next,
    });
    await old.transferChat(chatId, store, next);
    const retiring: RetiringEntry = {
      prefix: entry.prefix,
      clientId: entry.clientId,
      chatId,
      until: this.#now() + (this.#options.handoverMs ?? GRACE_MS),
    };
    this.#clients.delete(entry.prefix);
    const fresh: IdentityEntry = { prefix, clientId: next.clientId, chatId };
    await this.#serial(async () => {
      this.#record.identities = this.#record.identities.map((e) => (e === entry ? fresh : e));
      this.#record.retiring.push(retiring);
      await this.#save();
    });
    const client = await this.#openIdentity(fresh);
    if (this.#connected) await client.connect();
    await this.#startForwarder(retiring);
    // Invites name the old identity (its keys): they cannot be answered any more.
    for (const invite of this.#record.invites.filter((i) => i.chatId === chatId))
      await this.#retireInvite(invite.clientId);
    this.emit('chat', { chatId, change: 'members' });
  }

  /** Reads a moved-away id's inbox until its handover ends, handing everything to the chat's current identity. */
  async #startForwarder(entry: RetiringEntry): Promise<void> {
    if (!this.#connected || this.#forwarders.has(entry.clientId)) return;
    const wait = entry.until - this.#now();
    if (wait <= 0) {
      await this.#finishRetiring(entry);
      return;
    }
    const connection = new HushConnection({
      ...this.#options.connection,
      url: this.#url,
      clientId: entry.clientId,
      password: '',
      anonymous: true,
      inbox: this.#topic(entry.clientId),
      expectSession: true,
      onMessage: (payload, info) => this.#clientFor(entry.chatId).receive(payload, info),
    });
    connection.on('warning', (w) => this.emit('warning', { ...w, chatId: entry.chatId }));
    this.#forwarders.set(entry.clientId, connection);
    await connection.connect().catch(() => undefined);
    this.#later(wait, () => this.#finishRetiring(entry));
  }

  async #finishRetiring(entry: RetiringEntry): Promise<void> {
    const connection = this.#forwarders.get(entry.clientId);
    this.#forwarders.delete(entry.clientId);
    await connection?.close();
    await wipeSession(this.#url, entry.clientId, this.#options.connection?.mqttOptions).catch(
      () => undefined,
    );
    await this.#serial(async () => {
      this.#record.retiring = this.#record.retiring.filter((r) => r.clientId !== entry.clientId);
      await this.#save();
      await this.#removeFiles(entry.prefix);
    });
  }

  /** Reads a throwaway invite inbox: join requests go to the chat's identity; retired after the last use. */
  async #startInviteInbox(entry: InviteInboxEntry): Promise<void> {
    if (this.#inviteConnections.has(entry.clientId)) return;
    const connection = new HushConnection({
      ...this.#options.connection,
      url: this.#url,
      clientId: entry.clientId,
      password: '',
      anonymous: true,
      inbox: this.#topic(entry.clientId),
      onMessage: async (payload, info) => {
        const client = this.#clientFor(entry.chatId);
        await client.receive(payload, info);
        const issued = entry.inviteId ? client.issuedInvite(entry.inviteId) : undefined;
        const spent =
          !issued || issued.usesLeft <= 0 || (issued.exp !== undefined && this.#now() >= issued.exp);
        // After the PUBACK of this message: close, then remove the session.
        if (spent && entry.inviteId) this.#later(50, () => this.#retireInvite(entry.clientId));
      },
    });
    connection.on('warning', (w) => this.emit('warning', { ...w, chatId: entry.chatId }));
    this.#inviteConnections.set(entry.clientId, connection);
    await connection.connect();
  }

  #scheduleExpiry(entry: InviteInboxEntry): void {
    if (entry.exp === undefined) return;
    const wait = entry.exp - this.#now();
    if (wait < 2 ** 31 - 1) this.#later(Math.max(0, wait), () => this.#retireInvite(entry.clientId));
  }

  /** Closes a throwaway invite inbox and removes its session: later join requests reach nobody. */
  async #retireInvite(clientId: string): Promise<void> {
    if (!isClientId(clientId)) return;
    const connection = this.#inviteConnections.get(clientId);
    this.#inviteConnections.delete(clientId);
    await connection?.close();
    await wipeSession(this.#url, clientId, this.#options.connection?.mqttOptions).catch(() => undefined);
    await this.#serial(async () => {
      this.#record.invites = this.#record.invites.filter((i) => i.clientId !== clientId);
      await this.#save();
    });
  }

  #later(ms: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) void fn().catch(() => undefined);
    }, ms);
    this.#timers.add(timer);
  }
}
