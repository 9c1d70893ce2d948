/**
 * HushClient: one device, its chats and its connection (issue 5). Everything a UI or bot needs: create, invite,
 * join, send, receipts, typing, membership, history — with events for what arrives (api.ts HushEvents).
 *
 * How it keeps its promises:
 * - Exactly-once for the app: an inbox message is opened, its effects (chat state with the dedupe ids, history,
 *   the automatic receipt in the outbox) are written in ONE store write, and only then is it acknowledged to the
 *   broker (connection.ts holds the PUBACK). A redelivered copy is then a 'duplicate' for src/core and dropped.
 * - Outbox: whatever must reach other devices (texts, receipts, epoch announcements, removal notices, refusals,
 *   leave) is written to the chat's record — together with the chat state whose sequence number it used — before
 *   it is published; each recipient copy is removed on PUBACK. On every (re)connect the remaining copies are
 *   published again with the same wire bytes, so a message written offline is sent after a restart, and receivers
 *   drop any second copy.
 * - Nothing a peer sends can stop the client: every protocol failure becomes a 'warning' event (tampered, replay,
 *   old-epoch, unknown-key, …) and the message is acknowledged so it is not redelivered forever. A refused message
 *   that can be attributed to a chat (by its key id, or the chat an epoch announcement names) also leaves a notice
 *   in that chat's history — except replays (duplicate, stale epoch), which the user has already seen.
 * - Contacts (contacts.ts): every member's keys are pinned on first sight; the same client id with other keys is a
 *   'key-changed' warning, a 'contact' event and a notice in every chat the contact is in. Messages from a contact
 *   whose keys changed are still shown (never dropped) but carry senderTrust 'key-changed' until the user verifies
 *   the new safety number (markVerified) or accepts the keys (acknowledgeKeyChange); as long as two chats list the
 *   id with different keys, accepting one set flags the other again: a live conflict is never resolved silently.
 * - Names: a member's display name travels in its join request and, from the admin, in every epoch announcement
 *   (content field `names`), so joiners learn the names of everyone already in the chat. First name seen wins.
 *
 * - Nothing lost silently (issue 13): a broker that dropped messages for this device (its offline queue was full)
 *   and said so is a 'queue-overflow' warning and a notice in every chat; a sender's messages that never arrived
 *   show as a 'sequence-gap' warning and notice in that chat (the only signal on Mosquitto); a flood of messages
 *   this device cannot read becomes ONE counted warning per burst, so it does not drown the real signal; and an
 *   own text that a recipient never receipted (it receipted a later one, or none within `undeliveredAfterMs`) is
 *   'undelivered' until a receipt comes (delivery.ts).
 *
 * Store layout (flat names): device.json, chat.<chatId>.json (state + names + history + outbox), invites.json
 * (issued invites), joins.json (join requests waiting for an answer), direct-seen.json (ids of handled sealed boxes),
 * contacts.json (pinned keys and verification per client id).
 */

import { toB64u, fromB64u } from '../core/bytes.ts';
import {
  acceptAnnouncement,
  acceptRemoval,
  buildEpochChange,
  buildRemovalNotice,
  createChat as coreCreateChat,
  deserializeChat,
  handleJoinRequest,
  handlesLeave,
  joinRequest,
  leave as coreLeave,
  movedInput,
  moveSelf,
  openDirect,
  openJoinRefused,
  openMessage,
  sealMessage,
  serializeChat,
  type Announcement,
  type ChatMessageInput,
  type ChatState,
  type ChatStateJson,
  type OpenedDirect,
} from '../core/chat.ts';
import { defaultProvider } from '../core/crypto/index.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { peekEnvelope } from '../core/envelope.ts';
import { HushProtocolError, type ProtocolErrorCode } from '../core/errors.ts';
import {
  isClientId,
  publicIdentity,
  safetyNumber as coreSafetyNumber,
  publicIdentityFromJson,
  publicIdentityToJson,
  type DeviceIdentity,
  type PublicIdentity,
  type PublicIdentityJson,
} from '../core/identity.ts';
import {
  createInvite as coreCreateInvite,
  inviteId as deriveInviteId,
  InviteBook,
  parseInviteLink,
} from '../core/invite.ts';
import type {
  ChatSummary,
  ConnectionState,
  ContactInfo,
  HushEvents,
  HushWarning,
  NoticeCode,
  ProfileStore,
  StoredMessage,
  WarningCode,
} from './api.ts';
import { HushConnection, type ConnectionOptions } from './connection.ts';
import { ContactBook, CONTACTS_RECORD } from './contacts.ts';
import {
  checkInviteServer,
  inboxTopic,
  inviteServerOf,
  loadDevice,
  saveDeviceRecord,
  type Device,
  type DeviceKeyVault,
} from './device.ts';
import { TypedEmitter } from './emitter.ts';
import { HushClientError } from './errors.ts';
import { readJson, writeJson } from './storage.ts';
import {
  applyReceipt,
  DEFAULT_UNDELIVERED_AFTER_MS,
  expireDeliveries,
  markTaken,
  trackDelivery,
  type DeliveryEntry,
  type StillQueued,
} from './delivery.ts';
import { describeQueueDropped, type QueueDroppedNotice } from './queue-notice.ts';

/** Messages kept per chat in the history. */
export const HISTORY_CAP = 5000;
/**
 * Notices kept per chat (within HISTORY_CAP): beyond it the oldest notice goes first, so a flood of refused messages
 * (anyone who saw a key id can make one) takes at most this many places of the history, never all of it.
 */
export const NOTICE_CAP = 200;
/** How long close() waits for in-flight outbox copies to be acknowledged. */
const CLOSE_DRAIN_MS = 2000;
/** Ids of handled sealed boxes kept for dedupe. */
const DIRECT_SEEN_CAP = 5000;
const RECEIPT_IDS_MAX = 256;
/** Unreadable messages arriving closer together than this are counted into one warning. */
const DEFAULT_COALESCE_QUIET_MS = 500;
/** …but a steady stream still gets a warning at least this often. */
const COALESCE_MAX_MS = 10_000;
/** How often own texts are checked against the delivery bound, at most (a shorter bound checks more often). */
const DELIVERY_CHECK_MAX_MS = 60 * 60 * 1000;

/** One copy of an outgoing envelope still waiting for the broker's PUBACK. */
interface OutboxTarget {
  to: string;
  wire: string;
}
interface OutboxEntry {
  id: string;
  kind: 'text' | 'receipt' | 'epoch' | 'leave' | 'join-refused' | 'moved' | 'removed';
  createdAt: number;
  targets: OutboxTarget[];
}
/** What the store holds for one chat: written in one piece so state, history and outbox never disagree. */
interface ChatRecord {
  v: 1;
  state: ChatStateJson;
  names: Record<string, string>;
  unread: number;
  left?: boolean;
  /**
   * An admin removed this device (a verified 'removed' notice, PROTOCOL.md §2): the chat stays listed and readable,
   * but nothing can be sent in it. Cleared if an admin adds the device again.
   */
  removed?: { by: string; epoch: number };
  history: StoredMessage[];
  outbox: OutboxEntry[];
  /** Own texts still waiting for recipients' receipts (delivery.ts); absent in records from before issue 13. */
  delivery?: DeliveryEntry[];
}
interface LoadedChat {
  state: ChatState;
  record: Omit<ChatRecord, 'state'>;
}
interface PendingJoin {
  inviteId: string;
  inviter: PublicIdentityJson;
  inbox: string;
  wire: string;
  sent: boolean;
  createdAt: number;
  displayName?: string;
}
interface JoinsRecord {
  v: 1;
  pending: PendingJoin[];
  /** inviteId → chatId of joins already completed (so a late acceptInvite call resolves). */
  done: Record<string, string>;
}

const chatName = (chatId: string): string => `chat.${chatId}.json`;
const STATE_RANK: Record<StoredMessage['state'], number> = {
  sending: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  // Not delivered to someone: between 'sent' and 'delivered', so a receipt moves it on (see #receipted).
  undelivered: 1.5,
  received: -1,
};

/** Maps a core error code to the warning a UI shows. */
export function warningCodeOf(code: ProtocolErrorCode): WarningCode {
  switch (code) {
    case 'not-a-member':
      return 'not-a-member';
    case 'old-epoch':
      return 'old-epoch';
    case 'unknown-key':
      return 'unknown-key';
    case 'unknown-version':
      return 'unknown-version';
    case 'duplicate':
    case 'stale-epoch':
      return 'replay';
    case 'unsigned':
    case 'bad-signature':
    case 'not-authorized':
      return 'unverified-sender';
    case 'bad-invite':
    case 'invite-expired':
    case 'invite-used':
      return 'bad-invite';
    default:
      return 'tampered';
  }
}

export interface OpenOptions {
  store: ProfileStore;
  provider?: CryptoProvider;
  now?: () => number;
  vault?: DeviceKeyVault;
  /** Connect to the record's plain MQTT URL (mqttUrl) instead of the WebSocket brokerUrl, when it has one (Node). */
  preferMqttUrl?: boolean;
  /**
   * An own text that a recipient has not receipted this long after the broker took it is 'undelivered' (default
   * 7 days); it turns 'delivered' if a receipt comes later.
   */
  undeliveredAfterMs?: number;
  /** Unreadable messages closer together than this are counted into one warning (default 500 ms). */
  warningCoalesceMs?: number;
  /** Connection tuning (backoff, takeover detection, TLS options) — mostly for tests. */
  connection?: Partial<Omit<ConnectionOptions, 'url' | 'clientId' | 'password' | 'inbox' | 'onMessage'>>;
}

export class HushClient extends TypedEmitter<HushEvents> {
  readonly #store: ProfileStore;
  readonly #provider: CryptoProvider;
  readonly #now: () => number;
  readonly #device: Device;
  readonly #chats = new Map<string, LoadedChat>();
  readonly #book: InviteBook;
  readonly #contacts: ContactBook;
  /** Safety numbers already computed (5200 SHA-512 rounds per side), by the other side's keys. */
  readonly #safetyNumbers = new Map<string, string>();
  #joins: JoinsRecord;
  #directSeen: string[];
  #connection: HushConnection | undefined;
  readonly #connectionTuning: OpenOptions['connection'];
  #preferMqttUrl = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** Recipient copies published on the current connection: `${entryId}:${to}` → connection generation. */
  readonly #inflight = new Map<string, number>();
  readonly #joinWaiters = new Map<
    string,
    { resolve: (chatId: string) => void; reject: (e: Error) => void }
  >();
  #closed = false;
  #undeliveredAfterMs = DEFAULT_UNDELIVERED_AFTER_MS;
  #coalesceMs = DEFAULT_COALESCE_QUIET_MS;
  /** Unreadable messages counted since the last warning about them, by warning code. */
  readonly #unreadable = new Map<WarningCode, { count: number; detail: string }>();
  #unreadableSince = 0;
  #unreadableTimer: ReturnType<typeof setTimeout> | undefined;
  #deliveryTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    store: ProfileStore,
    provider: CryptoProvider,
    now: () => number,
    device: Device,
    book: InviteBook,
    contacts: ContactBook,
    joins: JoinsRecord,
    directSeen: string[],
    tuning: OpenOptions['connection'],
  ) {
    super();
    this.#store = store;
    this.#provider = provider;
    this.#now = now;
    this.#device = device;
    this.#book = book;
    this.#contacts = contacts;
    this.#joins = joins;
    this.#directSeen = directSeen;
    this.#connectionTuning = tuning;
  }

  /** Opens a profile: loads the device, chats, invites and pending joins. Does not connect. */
  static async open(options: OpenOptions): Promise<HushClient> {
    const provider = options.provider ?? defaultProvider();
    const store = options.store;
    const device = await loadDevice(store, provider, options.vault);
    const bookJson = await readJson(store, 'invites.json');
    const book = bookJson === undefined ? new InviteBook() : InviteBook.fromJSON(bookJson);
    const joins = ((await readJson(store, 'joins.json')) as JoinsRecord | undefined) ?? {
      v: 1,
      pending: [],
      done: {},
    };
    const seen = ((await readJson(store, 'direct-seen.json')) as string[] | undefined) ?? [];
    const contacts = await ContactBook.load(store, provider, device.record.clientId);
    const client = new HushClient(
      store,
      provider,
      options.now ?? Date.now,
      device,
      book,
      contacts,
      joins,
      seen,
      options.connection,
    );
    client.#preferMqttUrl = options.preferMqttUrl ?? false;
    if (options.undeliveredAfterMs !== undefined) client.#undeliveredAfterMs = options.undeliveredAfterMs;
    if (options.warningCoalesceMs !== undefined) client.#coalesceMs = options.warningCoalesceMs;
    for (const name of await store.list('chat.')) {
      const json = (await readJson(store, name)) as ChatRecord | undefined;
      if (!json || json.v !== 1) continue;
      const { state: stateJson, ...record } = json;
      const state = await deserializeChat(provider, stateJson);
      client.#chats.set(state.id, { state, record });
    }
    // Profiles from before contacts existed, or a crash between a chat write and the contacts write: every
    // current member is (re)checked against the pinned keys.
    for (const chat of client.#chats.values()) {
      if (chat.record.left || chat.record.removed) continue;
      const changed = await client.#observe(chat, chat.state.current.members);
      if (changed.length > 0) await client.#save(chat);
    }
    return client;
  }

  /** This device's client id (MQTT client id and username). */
  get clientId(): string {
    return this.#device.record.clientId;
  }

  /** This device's inbox topic. */
  get inbox(): string {
    return this.#device.record.inbox;
  }

  /** The device's display name, if it has one. */
  get displayName(): string | undefined {
    return this.#device.record.displayName;
  }

  /** Connection state ('offline' before connect()). */
  get connectionState(): ConnectionState {
    return this.#connection?.state ?? 'offline';
  }

  /**
   * Connects and stays connected (reconnecting with backoff) until close(). Resolves when online and subscribed;
   * rejects with HushClientError 'auth-failed' (wrong secret, revoked) or 'replaced' (another connection holds the
   * device), without retrying.
   */
  async connect(): Promise<void> {
    if (this.#closed) throw new HushClientError('closed', 'client: closed');
    if (!this.#connection) {
      const record = this.#device.record;
      const connection = new HushConnection({
        ...this.#connectionTuning,
        url: this.#preferMqttUrl && record.mqttUrl ? record.mqttUrl : record.brokerUrl,
        // Seed mode: an anonymous broker, where the client id is the only secret (docs/PROTOCOL.md §11).
        anonymous: record.mode === 'seed',
        clientId: record.clientId,
        password: record.deviceSecret,
        inbox: record.inbox,
        expectSession: record.sessionSeen ?? false,
        onMessage: (payload, info) => this.#serial(() => this.#handleInbound(payload, info.dup)),
      });
      connection.on('state', (event) => this.emit('connection', event));
      connection.on('warning', (warning) => this.emit('warning', warning));
      connection.on('queue-dropped', (notice) => {
        void this.#serial(() => this.#queueDropped(notice)).catch(() => undefined);
      });
      connection.on('online', () => {
        this.#startDeliveryChecks();
        void this.#serial(async () => {
          if (!this.#device.record.sessionSeen) {
            this.#device.record.sessionSeen = true;
            await saveDeviceRecord(this.#store, this.#device.record);
          }
        });
        this.#flush();
      });
      this.#connection = connection;
    }
    await this.#connection.connect();
  }

  /** Disconnects and waits for work in progress to be stored. */
  async close(): Promise<void> {
    // Let copies already in flight (say, the receipts a short-lived process sent) be acknowledged before the
    // connection goes: otherwise the next process republishes them and the receiver sees a harmless 'replay'.
    if (this.#connection?.online) {
      const deadline = Date.now() + CLOSE_DRAIN_MS;
      while (Date.now() < deadline && (this.#inflight.size > 0 || this.#outboxCopies() > 0)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await this.#queue.catch(() => undefined);
    }
    this.#closed = true;
    if (this.#deliveryTimer !== undefined) clearInterval(this.#deliveryTimer);
    this.#deliveryTimer = undefined;
    await this.#connection?.close();
    await this.#queue.catch(() => undefined);
    this.#reportUnreadable();
    for (const waiter of this.#joinWaiters.values())
      waiter.reject(new HushClientError('closed', 'client: closed'));
    this.#joinWaiters.clear();
  }

  /** The chats this device is in. */
  chats(): ChatSummary[] {
    const out: ChatSummary[] = [];
    for (const { state, record } of this.#chats.values()) {
      if (record.left) continue;
      let last: StoredMessage | undefined;
      for (let i = record.history.length - 1; i >= 0 && !last; i--) {
        const m = record.history[i]!;
        if (m.kind !== 'notice') last = m;
      }
      const admins = state.current.admins;
      const removed = record.removed !== undefined;
      // A removed device is no longer a member: it is left out of the list it last knew.
      const members = removed
        ? state.current.members.filter((m) => m.id !== this.clientId)
        : state.current.members;
      out.push({
        chatId: state.id,
        ...(state.name !== undefined ? { name: state.name } : {}),
        members: members.map((m) => ({
          clientId: m.id,
          ...(record.names[m.id] !== undefined ? { displayName: record.names[m.id] } : {}),
          isAdmin: admins.includes(m.id),
        })),
        epoch: state.current.number,
        unread: record.unread,
        ...(last ? { lastMessage: { from: last.from, text: last.text, ts: last.ts } } : {}),
        me: { admin: !removed && admins.includes(this.clientId) },
        ...(removed ? { removed: true as const } : {}),
      });
    }
    return out;
  }

  /** Every other device this device shares (or shared) a chat with, oldest contact first. */
  contacts(): ContactInfo[] {
    return this.#contacts.list();
  }

  /** One contact, if this device has seen that client id in a chat. */
  contact(clientId: string): ContactInfo | undefined {
    return this.#contacts.get(clientId);
  }

  /**
   * The 60-digit safety number (PROTOCOL.md §1, no spaces) of this device and a contact, from the newest keys seen
   * for it: both sides compute the same digits iff each holds the other's real keys. Rejects 'unknown-contact'.
   */
  async safetyNumber(clientId: string): Promise<string> {
    const theirs = this.#contacts.newestKeys(clientId);
    if (!theirs)
      throw new HushClientError('unknown-contact', `contacts: no contact ${JSON.stringify(clientId)}`);
    const key = `${theirs.id}:${toB64u(theirs.sign)}:${toB64u(theirs.agree)}`;
    let digits = this.#safetyNumbers.get(key);
    if (digits === undefined) {
      digits = await coreSafetyNumber(this.#provider, publicIdentity(this.#device.identity), theirs);
      this.#safetyNumbers.set(key, digits);
    }
    return digits;
  }

  /** The text to show as a QR code for scanning the safety number: "hush-sn:1:<60 digits>:<mine>:<theirs>". */
  async safetyNumberQr(clientId: string): Promise<string> {
    return `hush-sn:1:${await this.safetyNumber(clientId)}:${this.clientId}:${clientId}`;
  }

  /**
   * Marks a contact verified (the user compared the safety number) or not. Verifying a contact whose keys changed
   * accepts the new keys (the safety number is always of the newest). Pass the `safetyNumber` the user compared:
   * if the keys changed since it was shown, this rejects 'not-allowed' instead of verifying keys nobody compared.
   * Persisted; a 'contact' event follows.
   */
  markVerified(
    clientId: string,
    verified: boolean,
    { safetyNumber }: { safetyNumber?: string } = {},
  ): Promise<void> {
    return this.#serial(async () => {
      if (!this.#contacts.get(clientId))
        throw new HushClientError('unknown-contact', `contacts: no contact ${JSON.stringify(clientId)}`);
      if (verified && safetyNumber !== undefined && safetyNumber !== (await this.safetyNumber(clientId)))
        throw new HushClientError(
          'not-allowed',
          'contacts: the keys changed since this safety number was shown; compare the new one',
        );
      this.#contacts.setVerified(clientId, verified);
      await this.#contacts.save();
      this.emit('contact', { clientId, change: verified ? 'verified' : 'unverified' });
      if (verified) await this.#recheck(clientId);
    });
  }

  /**
   * Accepts a contact's new keys without verifying them (keyChanged and verified become false). If another chat
   * still lists the client id with the keys given up, that is flagged again at once (a live conflict).
   */
  acknowledgeKeyChange(clientId: string): Promise<void> {
    return this.#serial(async () => {
      if (!this.#contacts.acknowledge(clientId))
        throw new HushClientError('unknown-contact', `contacts: no contact ${JSON.stringify(clientId)}`);
      await this.#contacts.save();
      this.emit('contact', { clientId, change: 'unverified' });
      await this.#recheck(clientId);
    });
  }

  /** The last `limit` messages of a chat (all by default), oldest first. */
  history(chatId: string, { limit }: { limit?: number } = {}): StoredMessage[] {
    const chat = this.#chat(chatId, true);
    const list = chat.record.history;
    return (limit === undefined ? list : list.slice(Math.max(0, list.length - limit))).map((m) => ({ ...m }));
  }

  /** Creates a chat with this device as its only member, creator and admin. */
  createChat({ name }: { name?: string } = {}): Promise<string> {
    return this.#serial(async () => {
      const state = await coreCreateChat(this.#provider, this.#device.identity, {
        ...(name !== undefined ? { name } : {}),
        now: this.#now(),
      });
      const names: Record<string, string> = {};
      if (this.displayName !== undefined) names[this.clientId] = this.displayName;
      const chat: LoadedChat = { state, record: { v: 1, names, unread: 0, history: [], outbox: [] } };
      await this.#save(chat);
      this.emit('chat', { chatId: state.id, change: 'created' });
      return state.id;
    });
  }

  /**
   * Creates an invite link to `chatId` (a new chat if none). Single-use by default; `uses` and `expiresInMs`
   * widen or bound it. The link is a bearer secret until used. `inbox` names another client id whose inbox
   * receives the join requests (seed mode: a throwaway invite inbox whose messages the caller hands to receive()).
   */
  async createInvite(
    chatId?: string,
    { uses, expiresInMs, inbox }: { uses?: number; expiresInMs?: number; inbox?: string } = {},
  ): Promise<{ link: string; chatId: string; inviteId: string }> {
    if (inbox !== undefined && !isClientId(inbox))
      throw new HushClientError('not-allowed', 'invite: the invite inbox must be a client id');
    const id = chatId ?? (await this.createChat());
    return this.#serial(async () => {
      const chat = this.#chat(id);
      if (!chat.state.current.admins.includes(this.clientId))
        throw new HushClientError('not-allowed', 'invite: only an admin of the chat may invite');
      const exp = expiresInMs !== undefined ? this.#now() + expiresInMs : undefined;
      const created = await coreCreateInvite(this.#provider, {
        inviter: publicIdentity(this.#device.identity),
        inbox: inbox ?? this.clientId,
        server: inviteServerOf(this.#device.record),
        ...(exp !== undefined ? { exp } : {}),
        ...(uses !== undefined ? { uses } : {}),
      });
      this.#book.issue({
        inviteId: created.inviteId,
        secret: created.secret,
        chat: id,
        ...(uses !== undefined ? { uses } : {}),
        ...(exp !== undefined ? { exp } : {}),
      });
      await writeJson(this.#store, 'invites.json', this.#book.toJSON());
      return { link: created.link, chatId: id, inviteId: toB64u(created.inviteId) };
    });
  }

  /**
   * Joins a chat through an invite link: sends the join request (sealed to the inviter) to the invite's inbox and
   * resolves with the chat id once the inviter's epoch announcement has arrived — which may be much later if the
   * inviter is offline (the request waits in its queue). Rejects 'wrong-server', 'join-refused', or 'timeout' when
   * `timeoutMs` passes (the join stays pending and completes whenever the answer comes).
   */
  async acceptInvite(
    link: string,
    { timeoutMs, displayName }: { timeoutMs?: number; displayName?: string } = {},
  ): Promise<string> {
    const invite = parseInviteLink(link, { now: this.#now() });
    checkInviteServer(this.#device.record, invite.server);
    if (invite.inviter.id === this.clientId)
      throw new HushClientError('not-allowed', 'invite: this is this device’s own invite');
    const name = displayName ?? this.displayName;
    const inviteId = await this.#serial(async () => {
      const wire = await joinRequest(this.#provider, this.#device.identity, invite, name, this.#now());
      const id = toB64u(await deriveInviteId(this.#provider, invite.secret));
      if (this.#joins.done[id] === undefined && !this.#joins.pending.some((p) => p.inviteId === id)) {
        this.#joins.pending.push({
          inviteId: id,
          inviter: publicIdentityToJson(invite.inviter),
          inbox: invite.inbox,
          wire: toB64u(wire),
          sent: false,
          createdAt: this.#now(),
          ...(name !== undefined ? { displayName: name } : {}),
        });
        await this.#saveJoins();
      }
      return id;
    });
    const done = this.#joins.done[inviteId];
    if (done !== undefined) return done;
    const joined = new Promise<string>((resolve, reject) =>
      this.#joinWaiters.set(inviteId, { resolve, reject }),
    );
    this.#flush();
    if (timeoutMs === undefined) return joined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HushClientError(
              'timeout',
              `invite: no answer from the inviter after ${timeoutMs} ms (the request stays pending)`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([joined, timeout]);
    } finally {
      clearTimeout(timer);
      this.#joinWaiters.delete(inviteId);
    }
  }

  /**
   * Handles one message that arrived on another connection than this client's own (seed mode: a throwaway invite
   * inbox, or a retired chat identity's inbox during its handover), exactly as if it came to this client's inbox.
   */
  receive(payload: Uint8Array, { dup = false }: { dup?: boolean } = {}): Promise<void> {
    return this.#serial(() => this.#handleInbound(payload, dup));
  }

  /** An issued invite's remaining uses and expiry (undefined if this device never issued it). */
  issuedInvite(inviteId: string): { chatId: string; usesLeft: number; exp?: number } | undefined {
    const issued = this.#book.get(inviteId);
    if (!issued) return undefined;
    return {
      chatId: issued.chat,
      usesLeft: issued.usesLeft,
      ...(issued.exp !== undefined ? { exp: issued.exp } : {}),
    };
  }

  /** How many recipient copies of a chat's outgoing messages still wait for the broker's acknowledgement. */
  pendingOutgoing(chatId: string): number {
    const chat = this.#chat(chatId, true);
    return chat.record.outbox.reduce((n, e) => n + e.targets.length, 0);
  }

  /**
   * Seed mode (docs/PROTOCOL.md §11): tells the chat's other members that this device continues as `next` (a fresh
   * identity): a 'moved' message signed by this identity, carrying `next`'s proof, queued like any message. Once it
   * is acknowledged (pendingOutgoing), close this client and hand the chat over with transferChat.
   */
  announceMove(chatId: string, next: DeviceIdentity): Promise<{ id: string }> {
    return this.#serial(async () => {
      const chat = this.#chat(chatId);
      const input = await movedInput(this.#provider, chat.state, this.#device.identity, next);
      const { id } = await this.#sealToOutbox(chat, input, 'moved');
      await this.#save(chat);
      this.#flush();
      return { id };
    });
  }

  /**
   * Writes this chat, as seen by `next` (this device's identity replaced by `next`, history and names kept), into
   * another profile store. Call after announceMove was acknowledged and this client is closed.
   */
  async transferChat(chatId: string, target: ProfileStore, next: DeviceIdentity): Promise<void> {
    await this.#queue.catch(() => undefined);
    const chat = this.#chat(chatId);
    const state = moveSelf(chat.state, this.#device.identity, next);
    const names = { ...chat.record.names };
    if (names[this.clientId] !== undefined) {
      names[next.clientId] = names[this.clientId]!;
      delete names[this.clientId];
    }
    const record: ChatRecord = {
      ...chat.record,
      names,
      // Copies still unsent were sealed by the old identity and would be refused after the move.
      outbox: [],
      history: chat.record.history.map((m) => (m.from === this.clientId ? { ...m, from: next.clientId } : m)),
      state: serializeChat(state),
    };
    await writeJson(target, chatName(chatId), record);
    // The new identity keeps what the user verified: contacts are about the other devices, not this id.
    const contacts = await this.#store.read(CONTACTS_RECORD);
    if (contacts !== undefined && (await target.read(CONTACTS_RECORD)) === undefined)
      await target.write(CONTACTS_RECORD, contacts);
  }

  /** Sends a text to every other member (one publish per member inbox). Stored first; sent when online. */
  sendText(chatId: string, text: string): Promise<{ id: string }> {
    return this.#serial(async () => {
      const chat = this.#chat(chatId);
      const { id, ts, others } = await this.#sealToOutbox(chat, { kind: 'text', text }, 'text');
      const message: StoredMessage = {
        chatId,
        id,
        from: this.clientId,
        text,
        ts,
        state: others.length > 0 ? 'sending' : 'sent',
      };
      chat.record.history = capHistory([...chat.record.history, message]);
      chat.record.delivery = trackDelivery(chat.record.delivery ?? [], id, others, ts);
      await this.#save(chat);
      this.#flush();
      return { id };
    });
  }

  /** Marks received messages as read: a 'read' receipt to the chat, unread count to zero. */
  markRead(chatId: string, ids: string[]): Promise<void> {
    return this.#serial(async () => {
      const chat = this.#chat(chatId, { removed: true });
      if (chat.record.removed) {
        // Nobody to tell any more: the others are in an epoch this device has no key of.
        chat.record.unread = 0;
        await this.#save(chat);
        return;
      }
      const known = new Set(
        chat.record.history.filter((m) => m.state === 'received' && m.kind !== 'notice').map((m) => m.id),
      );
      const wanted = [...new Set(ids)].filter((id) => known.has(id));
      for (let i = 0; i < wanted.length; i += RECEIPT_IDS_MAX) {
        await this.#sealToOutbox(
          chat,
          { kind: 'receipt', status: 'read', ids: wanted.slice(i, i + RECEIPT_IDS_MAX) },
          'receipt',
        );
      }
      chat.record.unread = 0;
      await this.#save(chat);
      this.#flush();
    });
  }

  /** Tells the others this device is typing; QoS 0, only when online, never queued. Returns false if not sent. */
  setTyping(chatId: string, active: boolean): Promise<boolean> {
    return this.#serial(async () => {
      const connection = this.#connection;
      if (!connection?.online) return false;
      const chat = this.#chat(chatId);
      const others = this.#others(chat);
      if (others.length === 0) return false;
      const sealed = await sealMessage(
        this.#provider,
        chat.state,
        this.#device.identity,
        { kind: 'typing', active },
        this.#now(),
      );
      chat.state = sealed.state;
      await this.#save(chat);
      for (const to of others) connection.publishEphemeral(this.#topic(to), sealed.wire);
      return true;
    });
  }

  /**
   * Removes a member (admins only): a new epoch whose key the removed member never gets, and a signed 'removed'
   * notice to that member so its app can say so (PROTOCOL.md §2).
   */
  removeMember(chatId: string, clientId: string): Promise<void> {
    return this.#serial(async () => {
      const chat = this.#chat(chatId);
      await this.#epochChange(chat, { remove: [clientId] });
      this.emit('chat', { chatId, change: 'members' });
    });
  }

  /** Leaves a chat: a 'leave' to the others and, for an admin, the next epoch without this device. */
  leaveChat(chatId: string): Promise<void> {
    return this.#serial(async () => {
      const chat = this.#chat(chatId, { removed: true });
      if (chat.record.removed) {
        // Already out: leaving only drops the chat from the list (the history stays in the store).
        chat.record.left = true;
        await this.#save(chat);
        this.emit('chat', { chatId, change: 'left' });
        return;
      }
      const others = this.#others(chat);
      const { wire, announcements } = await coreLeave(
        this.#provider,
        chat.state,
        this.#device.identity,
        this.#now(),
      );
      const now = this.#now();
      if (others.length > 0) {
        chat.record.outbox.push({
          id: `leave-${toB64u(crypto.getRandomValues(new Uint8Array(8)))}`,
          kind: 'leave',
          createdAt: now,
          targets: others.map((to) => ({ to, wire: toB64u(wire) })),
        });
      }
      this.#queueAnnouncements(chat, announcements);
      chat.record.left = true;
      await this.#save(chat);
      this.emit('chat', { chatId, change: 'left' });
      this.#flush();
    });
  }

  // ---- internals ----

  /** Runs `fn` after everything queued before it: one change to the profile at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The chat to act on. By default it must be writable: a left chat is 'unknown-chat', a chat this device was
   * removed from is 'not-allowed'. `read` allows both (history); `removed` allows a removed chat only.
   */
  #chat(chatId: string, allow: boolean | { removed: true } = false): LoadedChat {
    const chat = this.#chats.get(chatId);
    if (!chat || (chat.record.left && allow !== true))
      throw new HushClientError('unknown-chat', `client: no chat ${JSON.stringify(chatId)} on this device`);
    if (chat.record.removed && allow === false) {
      const by = this.#nameOf(chat, chat.record.removed.by);
      throw new HushClientError(
        'not-allowed',
        `client: ${by} removed this device from chat ${JSON.stringify(chatId)}: its history can be read, but nothing can be sent to it; ask an admin to add you again`,
      );
    }
    return chat;
  }

  #others(chat: LoadedChat): string[] {
    return chat.state.current.members.map((m) => m.id).filter((id) => id !== this.clientId);
  }

  #topic(clientId: string): string {
    return inboxTopic(clientId, this.#device.record.inboxPattern);
  }

  async #save(chat: LoadedChat): Promise<void> {
    this.#chats.set(chat.state.id, chat);
    const record: ChatRecord = { ...chat.record, state: serializeChat(chat.state) };
    await writeJson(this.#store, chatName(chat.state.id), record);
  }

  /** A member's name for notices: its display name, else the start of its client id. */
  #nameOf(chat: LoadedChat, clientId: string): string {
    return chat.record.names[clientId] ?? this.#contacts.get(clientId)?.displayName ?? clientId.slice(0, 8);
  }

  /**
   * Adds a notice to a chat's history (caller saves): at most NOTICE_CAP per chat, the oldest notice dropped first.
   * Returns the 'notice' event to emit once the write is done.
   */
  #addNotice(chat: LoadedChat, code: NoticeCode, text: string, detail: string, from = ''): () => void {
    const notice: StoredMessage = {
      chatId: chat.state.id,
      id: toB64u(crypto.getRandomValues(new Uint8Array(16))),
      from,
      text,
      ts: this.#now(),
      state: 'received',
      kind: 'notice',
      notice: { code, detail },
    };
    const history = [...chat.record.history, notice];
    if (history.filter((m) => m.kind === 'notice').length > NOTICE_CAP)
      history.splice(
        history.findIndex((m) => m.kind === 'notice'),
        1,
      );
    chat.record.history = capHistory(history);
    return () => this.emit('notice', { ...notice, notice: { code, detail } });
  }

  /** A notice for a refused message that belongs to `chat`; replays get none (the user saw the original). */
  #refusalNotice(chat: LoadedChat, error: unknown, what: string): (() => void) | undefined {
    const code: WarningCode =
      error instanceof HushProtocolError ? warningCodeOf(error.code) : ('tampered' as const);
    if (code === 'replay') return undefined;
    const detail = error instanceof Error ? error.message : String(error);
    const text: Record<string, string> = {
      tampered: `A ${what} could not be opened: it was damaged or tampered with.`,
      'unknown-version': `A ${what} uses a protocol version this app does not know; it was not shown.`,
      'not-a-member': `A ${what} came from someone who is not a member of the chat; it was refused.`,
      'old-epoch': `A ${what} sealed with an old key of this chat arrived too late; it was refused.`,
      'unverified-sender': `A ${what} whose sender could not be verified was refused.`,
    };
    return this.#addNotice(chat, code, text[code] ?? `A ${what} was refused (${code}).`, detail);
  }

  /**
   * Records members' identities in the contact book (with the names this chat knows). A key change adds a notice to
   * `chat` and to every other chat the contact is in (those are saved here; `chat` is saved by the caller, after
   * this). Returns the events to emit once the caller's write is done.
   */
  async #observe(chat: LoadedChat, members: readonly PublicIdentity[]): Promise<Array<() => void>> {
    const after: Array<() => void> = [];
    const touched = new Set<LoadedChat>();
    for (const member of members) {
      if (member.id === this.clientId) continue;
      const change = await this.#contacts.observe(member, this.#now(), chat.record.names[member.id]);
      if (change === 'added')
        after.push(() => this.emit('contact', { clientId: member.id, change: 'added' }));
      if (change !== 'key-changed') continue;
      const contact = this.#contacts.get(member.id)!;
      const who = this.#nameOf(chat, member.id);
      const detail = `${member.id} appeared in chat ${chat.state.id} with keys ${contact.fingerprint}, not the accepted ${contact.previousFingerprint ?? '?'}`;
      const text = `The keys of ${who} changed. Their messages are marked until you compare the safety number again.`;
      for (const other of [chat, ...this.#chats.values()]) {
        if (touched.has(other) || other.record.left) continue;
        if (other !== chat && !other.state.current.members.some((m) => m.id === member.id)) continue;
        touched.add(other);
        after.push(this.#addNotice(other, 'key-changed', text, detail, member.id));
      }
      after.push(() => {
        this.emit('contact', { clientId: member.id, change: 'key-changed' });
        this.emit('warning', { code: 'key-changed', chatId: chat.state.id, from: member.id, detail });
      });
    }
    await this.#contacts.saveIfChanged();
    for (const other of touched) if (other !== chat) await this.#save(other);
    return after;
  }

  /** After the user accepted a contact's keys: a chat that still lists it with other keys flags it again. */
  async #recheck(clientId: string): Promise<void> {
    for (const chat of [...this.#chats.values()]) {
      if (chat.record.left) continue;
      const member = chat.state.current.members.find((m) => m.id === clientId);
      if (!member) continue;
      const after = await this.#observe(chat, [member]);
      if (after.length === 0) continue;
      await this.#save(chat);
      for (const f of after) f();
    }
  }

  /** Notices for who joined, was removed or left between two member lists (caller saves). */
  #memberNotices(chat: LoadedChat, before: readonly PublicIdentity[], departed: readonly string[]) {
    const after: Array<() => void> = [];
    const epoch = chat.state.current.number;
    const current = chat.state.current.members;
    for (const m of current) {
      if (m.id === this.clientId || before.some((b) => b.id === m.id)) continue;
      const who = this.#nameOf(chat, m.id);
      after.push(
        this.#addNotice(
          chat,
          'member-added',
          `${who} joined the chat.`,
          `${m.id} added in epoch ${epoch}`,
          m.id,
        ),
      );
    }
    for (const b of before) {
      if (b.id === this.clientId || current.some((m) => m.id === b.id)) continue;
      const who = this.#nameOf(chat, b.id);
      after.push(
        departed.includes(b.id)
          ? this.#addNotice(
              chat,
              'member-left',
              `${who} left the chat.`,
              `${b.id} left (epoch ${epoch})`,
              b.id,
            )
          : this.#addNotice(
              chat,
              'member-removed',
              `${who} was removed from the chat.`,
              `${b.id} removed in epoch ${epoch}`,
              b.id,
            ),
      );
    }
    return after;
  }

  /** Names learned from an epoch announcement: first name seen wins, and nobody names this device. */
  #learnNames(chat: LoadedChat, names: Record<string, string> | undefined): void {
    if (!names) return;
    for (const [id, name] of Object.entries(names)) {
      if (id === this.clientId || chat.record.names[id] !== undefined) continue;
      if (!chat.state.current.members.some((m) => m.id === id)) continue;
      chat.record.names[id] = name;
      this.#contacts.name(id, name);
    }
  }

  async #saveJoins(): Promise<void> {
    await writeJson(this.#store, 'joins.json', this.#joins);
  }

  /** Seals a chat message to the current epoch and queues one copy per other member (caller saves). */
  async #sealToOutbox(
    chat: LoadedChat,
    input: ChatMessageInput,
    kind: OutboxEntry['kind'],
  ): Promise<{ id: string; ts: number; others: string[] }> {
    const now = this.#now();
    const sealed = await sealMessage(this.#provider, chat.state, this.#device.identity, input, now);
    chat.state = sealed.state;
    const others = this.#others(chat);
    const wire = toB64u(sealed.wire);
    if (others.length > 0) {
      chat.record.outbox.push({
        id: sealed.content.id,
        kind,
        createdAt: now,
        targets: others.map((to) => ({ to, wire })),
      });
    }
    return { id: sealed.content.id, ts: now, others };
  }

  #queueAnnouncements(chat: LoadedChat, announcements: Announcement[]): void {
    if (announcements.length === 0) return;
    chat.record.outbox.push({
      id: `epoch-${chat.state.current.number}-${toB64u(crypto.getRandomValues(new Uint8Array(8)))}`,
      kind: 'epoch',
      createdAt: this.#now(),
      targets: announcements.map((a) => ({ to: a.to.id, wire: toB64u(a.wire) })),
    });
  }

  async #epochChange(chat: LoadedChat, change: { remove?: string[] }): Promise<void> {
    const before = chat.state.current.members;
    const now = this.#now();
    const { newState, announcements } = await buildEpochChange(
      this.#provider,
      chat.state,
      this.#device.identity,
      { ...change, names: chat.record.names, now },
    );
    chat.state = newState;
    this.#queueAnnouncements(chat, announcements);
    // Each removed member is told, in the same write as the new epoch, so a crash cannot keep one and lose the other.
    for (const id of change.remove ?? []) {
      const removed = before.find((m) => m.id === id);
      if (!removed) continue;
      const notice = await buildRemovalNotice(this.#provider, newState, this.#device.identity, removed, now);
      chat.record.outbox.push({
        id: `removed-${newState.current.number}-${toB64u(crypto.getRandomValues(new Uint8Array(8)))}`,
        kind: 'removed',
        createdAt: now,
        targets: [{ to: id, wire: toB64u(notice.wire) }],
      });
    }
    const after = this.#memberNotices(chat, before, []);
    await this.#save(chat);
    for (const f of after) f();
    this.#flush();
  }

  /** Outbox copies not yet acknowledged, over every chat. */
  #outboxCopies(): number {
    let n = 0;
    for (const chat of this.#chats.values())
      for (const entry of chat.record.outbox) n += entry.targets.length;
    return n;
  }

  /** Publishes every outbox copy and pending join request not yet in flight on the current connection. */
  #flush(): void {
    const connection = this.#connection;
    if (!connection?.online) return;
    const generation = connection.generation;
    for (const chat of this.#chats.values()) {
      const chatId = chat.state.id;
      for (const entry of chat.record.outbox) {
        for (const target of entry.targets) {
          const key = `${entry.id}:${target.to}`;
          if (this.#inflight.get(key) === generation) continue;
          this.#inflight.set(key, generation);
          connection.publish(this.#topic(target.to), fromB64u(target.wire, 'outbox wire')).then(
            () => {
              // Stays in flight until the ack is recorded: a flush in between would publish the copy again.
              void this.#serial(() => this.#acked(chatId, entry.id, target.to))
                .finally(() => {
                  if (this.#inflight.get(key) === generation) this.#inflight.delete(key);
                })
                // A failed store write leaves the copy in the outbox: the next flush publishes it again.
                .catch(() => undefined);
            },
            () => {
              if (this.#inflight.get(key) === generation) this.#inflight.delete(key);
            },
          );
        }
      }
    }
    for (const join of this.#joins.pending) {
      if (join.sent) continue;
      const key = `join:${join.inviteId}`;
      if (this.#inflight.get(key) === generation) continue;
      this.#inflight.set(key, generation);
      connection.publish(this.#topic(join.inbox), fromB64u(join.wire, 'join wire')).then(
        () => {
          void this.#serial(async () => {
            const pending = this.#joins.pending.find((p) => p.inviteId === join.inviteId);
            if (pending && !pending.sent) {
              pending.sent = true;
              await this.#saveJoins();
            }
          })
            .finally(() => {
              if (this.#inflight.get(key) === generation) this.#inflight.delete(key);
            })
            .catch(() => undefined);
        },
        () => {
          if (this.#inflight.get(key) === generation) this.#inflight.delete(key);
        },
      );
    }
  }

  /** The broker acknowledged one recipient copy: drop it from the outbox; a text with none left is 'sent'. */
  async #acked(chatId: string, entryId: string, to: string): Promise<void> {
    const chat = this.#chats.get(chatId);
    if (!chat) return;
    const entry = chat.record.outbox.find((e) => e.id === entryId);
    if (!entry) return;
    const before = entry.targets.length;
    entry.targets = entry.targets.filter((t) => t.to !== to);
    if (entry.targets.length === before) return;
    let changed: StoredMessage | undefined;
    if (entry.targets.length === 0) {
      chat.record.outbox = chat.record.outbox.filter((e) => e !== entry);
      if (entry.kind === 'text') {
        changed = this.#promote(chat, entryId, 'sent');
        if (chat.record.delivery)
          chat.record.delivery = markTaken(chat.record.delivery, entryId, this.#now());
      }
    }
    await this.#save(chat);
    if (changed) this.emit('message-state', { chatId, id: changed.id, state: changed.state });
  }

  /** Moves an own message forward (never back) to `state`; returns it if it changed. */
  #promote(chat: LoadedChat, id: string, state: StoredMessage['state']): StoredMessage | undefined {
    const message = chat.record.history.find((m) => m.id === id && m.from === this.clientId);
    if (!message || STATE_RANK[state] <= STATE_RANK[message.state]) return undefined;
    message.state = state;
    return message;
  }

  #warn(error: unknown, extra: { chatId?: string; from?: string } = {}): void {
    const code: WarningCode =
      error instanceof HushProtocolError ? warningCodeOf(error.code) : ('tampered' as const);
    const detail = error instanceof Error ? error.message : String(error);
    const warning: HushWarning = { code, detail, ...extra };
    this.emit('warning', warning);
  }

  /**
   * A message that no chat of this device can open (no key for it, not a sealed box for this device, not even an
   * envelope): anyone who can publish to the inbox can send thousands, so they are counted and reported as one
   * warning per burst ("N messages could not be read"), not one each.
   */
  #unreadableMessage(error: unknown): void {
    const code: WarningCode =
      error instanceof HushProtocolError ? warningCodeOf(error.code) : ('tampered' as const);
    const detail = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    if (this.#unreadable.size === 0) this.#unreadableSince = now;
    const seen = this.#unreadable.get(code);
    this.#unreadable.set(code, { count: (seen?.count ?? 0) + 1, detail: seen?.detail ?? detail });
    if (this.#unreadableTimer !== undefined) clearTimeout(this.#unreadableTimer);
    const wait = Math.max(0, Math.min(this.#coalesceMs, this.#unreadableSince + COALESCE_MAX_MS - now));
    this.#unreadableTimer = setTimeout(() => this.#reportUnreadable(), wait);
  }

  /** Emits the counted warning(s) for unreadable messages seen since the last one. */
  #reportUnreadable(): void {
    if (this.#unreadableTimer !== undefined) clearTimeout(this.#unreadableTimer);
    this.#unreadableTimer = undefined;
    const counted = [...this.#unreadable];
    this.#unreadable.clear();
    for (const [code, { count, detail }] of counted) {
      const what = count === 1 ? '1 message' : `${count} messages`;
      this.emit('warning', {
        code,
        count,
        detail: `${what} could not be read (${code}; first: ${detail}): sent under keys this device does not have, or junk sent to fill its queue`,
      });
    }
  }

  /** The broker said it dropped messages for this device: a notice in every chat it is in (the warning is out). */
  async #queueDropped(notice: QueueDroppedNotice): Promise<void> {
    const plural = notice.dropped === 1 ? 'message' : 'messages';
    const text = `The server dropped ${notice.dropped} ${plural} sent to you while you were offline (your queue was full): some messages in this chat may be missing.`;
    const detail = describeQueueDropped(notice);
    for (const chat of this.#chats.values()) {
      if (chat.record.left || chat.record.removed) continue;
      const emit = this.#addNotice(chat, 'queue-overflow', text, detail);
      await this.#save(chat);
      emit();
    }
  }

  /** Checks own texts against the delivery bound now and then while connected (and once now). */
  #startDeliveryChecks(): void {
    void this.#serial(() => this.#expireDeliveries()).catch(() => undefined);
    if (this.#deliveryTimer !== undefined) return;
    const every = Math.max(50, Math.min(DELIVERY_CHECK_MAX_MS, Math.floor(this.#undeliveredAfterMs / 2)));
    this.#deliveryTimer = setInterval(() => {
      if (!this.#closed) void this.#serial(() => this.#expireDeliveries()).catch(() => undefined);
    }, every);
    (this.#deliveryTimer as { unref?: () => void }).unref?.();
  }

  /** True while the copy of text `id` for `to` waits in the outbox (the broker has not taken it yet). */
  #stillQueued(chat: LoadedChat): StillQueued {
    return (id, to) => chat.record.outbox.some((e) => e.id === id && e.targets.some((t) => t.to === to));
  }

  /** Marks own texts with no receipt within the bound 'undelivered'. */
  async #expireDeliveries(): Promise<void> {
    const now = this.#now();
    for (const chat of this.#chats.values()) {
      const list = chat.record.delivery;
      if (!list || list.length === 0 || chat.record.left) continue;
      if (!list.some((e) => e.waiting.length > 0 && now - e.sentAt >= this.#undeliveredAfterMs)) continue;
      const members = new Set(chat.state.current.members.map((m) => m.id));
      const change = expireDeliveries(list, now, this.#undeliveredAfterMs, members, this.#stillQueued(chat));
      chat.record.delivery = change.list;
      const events = this.#markUndelivered(chat, change.missed);
      await this.#save(chat);
      for (const f of events) f();
    }
  }

  /** Sets own texts to 'undelivered' (caller saves); returns the events to emit after the write. */
  #markUndelivered(chat: LoadedChat, ids: readonly string[]): Array<() => void> {
    const chatId = chat.state.id;
    const after: Array<() => void> = [];
    for (const id of ids) {
      const message = chat.record.history.find((m) => m.id === id && m.from === this.clientId);
      if (!message || message.state === 'undelivered') continue;
      message.state = 'undelivered';
      after.push(() => this.emit('message-state', { chatId, id, state: 'undelivered' }));
    }
    return after;
  }

  /**
   * A delivery or read receipt from `from`: its texts move on (an 'undelivered' one only once nobody else is
   * missing it), and earlier texts it never receipted are 'undelivered'. Returns the events to emit.
   */
  #receipted(
    chat: LoadedChat,
    from: string,
    ids: readonly string[],
    status: 'delivered' | 'read',
  ): Array<() => void> {
    const chatId = chat.state.id;
    const after: Array<() => void> = [];
    const change = applyReceipt(chat.record.delivery ?? [], from, ids, this.#stillQueued(chat));
    chat.record.delivery = change.list;
    for (const id of ids) {
      const message = chat.record.history.find((m) => m.id === id && m.from === this.clientId);
      if (!message) continue;
      let changed = false;
      if (message.state === 'undelivered') {
        if (!change.stillMissing.has(id)) {
          message.state = status;
          changed = true;
        }
      } else changed = this.#promote(chat, id, status) !== undefined;
      if (changed) after.push(() => this.emit('message-state', { chatId, id, state: message.state }));
    }
    after.push(...this.#markUndelivered(chat, change.missed));
    return after;
  }

  /**
   * Handles one inbox message. Protocol failures become warnings and the message counts as handled (acked); a
   * store failure throws, so the message is not acknowledged and comes again.
   */
  async #handleInbound(wire: Uint8Array, dup: boolean): Promise<void> {
    let peeked: ReturnType<typeof peekEnvelope>;
    try {
      peeked = peekEnvelope(wire);
    } catch (error) {
      this.#unreadableMessage(error);
      return;
    }
    if (peeked.version === 2) await this.#handleDirect(wire, dup);
    else await this.#handleChat(wire, toB64u(peeked.keyId), dup);
  }

  /** The chat whose current or previous epoch has this key id, or one that retired it. */
  #chatForKey(keyId: string): LoadedChat | undefined {
    let retired: LoadedChat | undefined;
    for (const chat of this.#chats.values()) {
      // A removed device answers nothing in that chat (no receipts to members it is no longer with).
      if (chat.record.left || chat.record.removed) continue;
      const s = chat.state;
      if (toB64u(s.current.keys.keyId) === keyId) return chat;
      if (s.previous && toB64u(s.previous.keys.keyId) === keyId) return chat;
      if (s.retiredKeyIds.includes(keyId)) retired = chat;
    }
    return retired;
  }

  async #handleChat(wire: Uint8Array, keyId: string, dup: boolean): Promise<void> {
    const chat = this.#chatForKey(keyId);
    if (!chat) {
      this.#unreadableMessage(
        new HushProtocolError('unknown-key', 'client: a message under a key this device does not have'),
      );
      return;
    }
    const chatId = chat.state.id;
    let opened: Awaited<ReturnType<typeof openMessage>>;
    try {
      opened = await openMessage(this.#provider, chat.state, this.#device.identity, wire, this.#now());
    } catch (error) {
      // A QoS 1 redelivery (dup flag) of something already stored is expected: drop it quietly.
      if (error instanceof HushProtocolError && error.code === 'duplicate' && dup) return;
      this.#warn(error, { chatId });
      const notice = this.#refusalNotice(chat, error, 'message');
      if (notice) {
        await this.#save(chat);
        notice();
      }
      return;
    }
    const content = opened.content;
    const from = content.from;
    const highestBefore = Object.prototype.hasOwnProperty.call(chat.state.seqs, from)
      ? chat.state.seqs[from]
      : undefined;
    chat.state = opened.state;
    // The sender's keys as this chat knows them, checked against the pinned ones (a conflict is flagged here
    // too, not only when an epoch arrives) before the message is marked with the resulting trust.
    const after: Array<() => void> = await this.#observe(chat, [opened.sender]);
    const senderTrust = this.#contacts.trustOf(from);
    for (const w of opened.warnings) {
      if (w === 'gap') {
        const missing = content.seq - (highestBefore ?? 0) - 1;
        const detail = `${missing} message(s) from ${from} are missing or still on their way (sequence ${(highestBefore ?? 0) + 1} to ${content.seq - 1})`;
        // Shown in the chat too: on Mosquitto, which drops a full queue silently, this is the only sign of it.
        const who = this.#nameOf(chat, from);
        const what = missing === 1 ? '1 message' : `${missing} messages`;
        after.push(
          this.#addNotice(
            chat,
            'sequence-gap',
            `${what} from ${who} did not arrive (lost on the way, e.g. a full queue on the server, or still coming).`,
            detail,
            from,
          ),
        );
        after.push(() =>
          this.emit('warning', { code: 'sequence-gap', chatId, from, count: missing, detail }),
        );
      } else {
        after.push(() =>
          this.emit('warning', {
            code: 'sequence-regression',
            chatId,
            from,
            detail: `a message from ${from} arrived out of order (sequence ${content.seq})`,
          }),
        );
      }
    }
    switch (content.kind) {
      case 'text': {
        const message: StoredMessage = {
          chatId,
          id: content.id,
          from,
          text: content.text,
          ts: content.ts,
          state: 'received',
          protection: opened.protection,
          senderTrust,
        };
        chat.record.history = capHistory([...chat.record.history, message]);
        chat.record.unread += 1;
        await this.#sealToOutbox(
          chat,
          { kind: 'receipt', status: 'delivered', ids: [content.id] },
          'receipt',
        );
        after.push(() =>
          this.emit('message', {
            chatId,
            from,
            id: content.id,
            text: content.text,
            ts: content.ts,
            protection: opened.protection,
            senderTrust,
          }),
        );
        break;
      }
      case 'receipt': {
        after.push(...this.#receipted(chat, from, content.ids, content.status));
        after.push(() =>
          this.emit('receipt', { chatId, from, status: content.status, ids: [...content.ids] }),
        );
        break;
      }
      case 'typing':
        after.push(() => this.emit('typing', { chatId, from, active: content.active }));
        break;
      case 'presence':
        after.push(() => this.emit('presence', { chatId, from, state: content.state }));
        break;
      case 'moved': {
        const old = chat.record.names[from];
        if (old !== undefined) chat.record.names[content.member.id] = old;
        const next = chat.state.current.members.find((m) => m.id === content.member.id);
        if (next) {
          after.push(...(await this.#observe(chat, [next])));
          // The old identity signed the move and the new one proved its key: a verification carries over.
          if (this.#contacts.inheritVerification(from, next.id)) await this.#contacts.save();
        }
        after.push(() => this.emit('chat', { chatId, change: 'members' }));
        break;
      }
      case 'leave': {
        if (handlesLeave(chat.state, this.#device.identity, from)) {
          const before = chat.state.current.members;
          const { newState, announcements } = await buildEpochChange(
            this.#provider,
            chat.state,
            this.#device.identity,
            { remove: [from], names: chat.record.names, now: this.#now() },
          );
          chat.state = newState;
          this.#queueAnnouncements(chat, announcements);
          after.push(...this.#memberNotices(chat, before, [from]));
          after.push(() => this.emit('chat', { chatId, change: 'members' }));
        }
        break;
      }
    }
    await this.#save(chat);
    for (const f of after) f();
    this.#flush();
  }

  async #rememberDirect(id: string): Promise<void> {
    this.#directSeen = [...this.#directSeen.slice(-(DIRECT_SEEN_CAP - 1)), id];
    await writeJson(this.#store, 'direct-seen.json', this.#directSeen);
  }

  async #handleDirect(wire: Uint8Array, dup: boolean): Promise<void> {
    let opened: OpenedDirect;
    try {
      opened = await openDirect(this.#provider, this.#device.identity, wire);
    } catch (error) {
      // Whatever failed (a crypto library's own error included), the message is unreadable, not a store failure:
      // throwing would leave it unacknowledged and redelivered forever.
      this.#unreadableMessage(error);
      return;
    }
    const content = opened.content;
    if (this.#directSeen.includes(content.id)) {
      if (!dup)
        this.#warn(new HushProtocolError('duplicate', 'client: a sealed box that was already handled'));
      return;
    }
    const now = this.#now();
    try {
      switch (content.kind) {
        case 'join-request': {
          const issued = this.#book.get(content.invite);
          const chat = issued ? this.#chats.get(issued.chat) : undefined;
          if (!chat || chat.record.left) {
            this.#warn(new HushProtocolError('bad-invite', 'client: join request for an unknown invite'), {
              from: content.from,
            });
            break;
          }
          const before = chat.state.current.members;
          const outcome = await handleJoinRequest(
            this.#provider,
            chat.state,
            this.#device.identity,
            this.#book,
            opened,
            now,
            { names: chat.record.names },
          );
          const after: Array<() => void> = [];
          if (outcome.accepted) {
            chat.state = outcome.newState;
            if (outcome.displayName !== undefined) chat.record.names[outcome.joiner.id] = outcome.displayName;
            this.#queueAnnouncements(chat, outcome.announcements);
            after.push(...this.#memberNotices(chat, before, []));
            after.push(...(await this.#observe(chat, [outcome.joiner])));
          } else {
            chat.record.outbox.push({
              id: `refused-${content.id}`,
              kind: 'join-refused',
              createdAt: now,
              targets: [{ to: outcome.to.id, wire: toB64u(outcome.wire) }],
            });
          }
          await writeJson(this.#store, 'invites.json', this.#book.toJSON());
          await this.#save(chat);
          await this.#rememberDirect(content.id);
          for (const f of after) f();
          if (outcome.accepted) this.emit('chat', { chatId: chat.state.id, change: 'members' });
          else
            this.emit('warning', {
              code: 'bad-invite',
              chatId: chat.state.id,
              from: content.from,
              detail: `refused a join request: ${outcome.reason}`,
            });
          this.#flush();
          return;
        }
        case 'epoch': {
          const known = this.#chats.get(content.chat);
          if (known) {
            if (known.record.left) break;
            const before = known.state.current.members;
            const departed = known.state.departed;
            known.state = await acceptAnnouncement(
              this.#provider,
              known.state,
              this.#device.identity,
              opened,
              {
                now,
              },
            );
            this.#learnNames(known, content.names);
            const after = this.#memberNotices(known, before, departed);
            after.push(...(await this.#observe(known, known.state.current.members)));
            // An admin added this device again (it listed this device with its keys, checked above).
            delete known.record.removed;
            const rejoin = this.#joins.pending.find((p) => p.inviter.id === content.from);
            if (rejoin) {
              this.#joins.pending = this.#joins.pending.filter((p) => p !== rejoin);
              this.#joins.done[rejoin.inviteId] = content.chat;
              await this.#saveJoins();
            }
            await this.#save(known);
            await this.#rememberDirect(content.id);
            for (const f of after) f();
            this.emit('chat', { chatId: content.chat, change: 'members' });
            if (rejoin) {
              this.#joinWaiters.get(rejoin.inviteId)?.resolve(content.chat);
              this.#joinWaiters.delete(rejoin.inviteId);
            }
            this.#flush();
            return;
          }
          const pending = this.#joins.pending.find((p) => p.inviter.id === content.from);
          if (!pending) {
            this.#warn(
              new HushProtocolError(
                'not-authorized',
                'client: an epoch announcement for a chat this device never asked to join',
              ),
              { from: content.from },
            );
            break;
          }
          const state = await acceptAnnouncement(this.#provider, undefined, this.#device.identity, opened, {
            expectedSigner: publicIdentityFromJson(pending.inviter),
            now,
          });
          const names: Record<string, string> = {};
          if (pending.displayName !== undefined) names[this.clientId] = pending.displayName;
          const chat: LoadedChat = { state, record: { v: 1, names, unread: 0, history: [], outbox: [] } };
          this.#learnNames(chat, content.names);
          const after = await this.#observe(chat, state.current.members);
          await this.#save(chat);
          this.#joins.pending = this.#joins.pending.filter((p) => p !== pending);
          this.#joins.done[pending.inviteId] = state.id;
          await this.#saveJoins();
          await this.#rememberDirect(content.id);
          for (const f of after) f();
          this.emit('chat', { chatId: state.id, change: 'joined' });
          this.#joinWaiters.get(pending.inviteId)?.resolve(state.id);
          this.#joinWaiters.delete(pending.inviteId);
          this.#flush();
          return;
        }
        case 'removed': {
          const known = this.#chats.get(content.chat);
          if (!known || known.record.left || known.record.removed) {
            // Nothing to evict: an unknown chat, one this device left, or a second notice for a removal it knows.
            this.#warn(
              new HushProtocolError(
                known ? 'stale-epoch' : 'not-authorized',
                'client: a removal notice for a chat this device is not a member of',
              ),
              { from: content.from, ...(known ? { chatId: known.state.id } : {}) },
            );
            break;
          }
          const { by, epoch } = await acceptRemoval(
            this.#provider,
            known.state,
            this.#device.identity,
            opened,
          );
          known.record.removed = { by, epoch };
          const who = this.#nameOf(known, by);
          const notice = this.#addNotice(
            known,
            'member-removed',
            `You were removed from the chat by ${who}.`,
            `${this.clientId} removed by ${by} in epoch ${epoch}`,
            by,
          );
          await this.#save(known);
          await this.#rememberDirect(content.id);
          notice();
          this.emit('chat', { chatId: known.state.id, change: 'removed' });
          return;
        }
        case 'join-refused': {
          const pending = this.#joins.pending.find((p) => p.inviteId === content.invite);
          if (!pending) {
            this.#warn(new HushProtocolError('not-authorized', 'client: a join refusal for no pending join'));
            break;
          }
          const refusal = await openJoinRefused(
            this.#provider,
            this.#device.identity,
            opened,
            publicIdentityFromJson(pending.inviter),
          );
          this.#joins.pending = this.#joins.pending.filter((p) => p !== pending);
          await this.#saveJoins();
          await this.#rememberDirect(content.id);
          const message = `invite: the inviter refused the join: ${refusal.reason}`;
          this.emit('warning', { code: 'join-refused', from: content.from, detail: message });
          this.#joinWaiters.get(pending.inviteId)?.reject(new HushClientError('join-refused', message));
          this.#joinWaiters.delete(pending.inviteId);
          return;
        }
      }
    } catch (error) {
      if (!(error instanceof HushProtocolError)) throw error;
      const known =
        content.kind === 'epoch' || content.kind === 'removed' ? this.#chats.get(content.chat) : undefined;
      this.#warn(error, { from: content.from, ...(known ? { chatId: known.state.id } : {}) });
      // A refused announcement for a chat of this device (a forged key change, an admin change by a non-admin, …)
      // is shown in that chat; the sender's keys are not pinned from it, as nothing in it was accepted.
      const notice =
        known && !known.record.left && !known.record.removed
          ? this.#refusalNotice(known, error, 'membership change')
          : undefined;
      if (notice) {
        await this.#save(known!);
        notice();
      }
    }
  }
}

function capHistory(list: StoredMessage[]): StoredMessage[] {
  return list.length > HISTORY_CAP ? list.slice(list.length - HISTORY_CAP) : list;
}
