/**
 * The SDK's public surface (issue 5), written first so the SDK, the CLI and the web app agree on it.
 * Implemented by hush-client.ts; storage adapters in storage.ts (memory) and node/file-store.ts (Node).
 */

/** Where a device keeps its state: small named blobs, written atomically. */
export interface ProfileStore {
  read(name: string): Promise<Uint8Array | undefined>;
  /** Replaces `name` atomically: a reader sees the old or the new bytes, never a mix or nothing. */
  write(name: string, data: Uint8Array): Promise<void>;
  remove(name: string): Promise<void>;
  /** Names starting with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

/** Connection state, for banners and scripts. */
export type ConnectionState =
  'connecting' | 'online' | 'reconnecting' | 'offline' | 'auth-failed' | 'replaced';

/** Which protection an opened message had (docs/PROTOCOL.md §8). */
export type Protection = 'verified' | 'legacy-unauthenticated';

export interface ChatSummary {
  chatId: string;
  name?: string;
  /** Members of the current epoch, this device included; `isAdmin` for the chat's admins. */
  members: Array<{ clientId: string; displayName?: string; isAdmin?: boolean }>;
  epoch: number;
  /** Received texts not yet marked read (notices never count). */
  unread: number;
  /** The last text, own or received (notices never become it). */
  lastMessage?: { from: string; text: string; ts: number };
  /** This device's role in the chat. */
  me: { admin: boolean };
  /**
   * An admin removed this device (PROTOCOL.md §2): `members` no longer lists it, the history stays readable, and
   * sending fails with 'not-allowed'.
   */
  removed?: true;
}

/**
 * How far this device trusts the sender of a received message, as the sender's contact stood when it arrived:
 * 'verified' (safety number compared), 'unverified' (trust on first use) or 'key-changed' (the sender's client id
 * was seen with other keys and the user has not accepted them: the message is shown, but must be marked).
 */
export type SenderTrust = 'verified' | 'unverified' | 'key-changed';

/** What this device knows about another device it shares a chat with (trust on first use + manual verification). */
export interface ContactInfo {
  clientId: string;
  displayName?: string;
  /** PROTOCOL.md §1 fingerprint text (of the newest keys seen for this client id). */
  fingerprint: string;
  /** The user compared the safety number and marked it verified (cleared automatically by a key change). */
  verified: boolean;
  /**
   * Set when a device with this client id appeared with different keys than first seen; cleared by
   * markVerified(true) or acknowledgeKeyChange.
   */
  keyChanged: boolean;
  firstSeen: number;
  /** When keyChanged: the fingerprint of the keys accepted before the change. */
  previousFingerprint?: string;
  /** When the last key change was seen (ms since 1970). */
  keyChangedAt?: number;
}

export interface ReceivedText {
  chatId: string;
  from: string;
  id: string;
  text: string;
  ts: number;
  protection: Protection;
  /** The sender's contact state when the message arrived (see SenderTrust). */
  senderTrust: SenderTrust;
}

export interface StoredMessage {
  chatId: string;
  id: string;
  from: string;
  text: string;
  ts: number;
  /**
   * For own messages: sending → sent (broker acknowledged) → delivered → read. 'undelivered': a recipient never got
   * it — it receipted a later message of this device first, or none within the bound (OpenOptions
   * undeliveredAfterMs) — until a late receipt moves it to delivered. Notices are 'received'.
   */
  state: 'sending' | 'sent' | 'undelivered' | 'delivered' | 'read' | 'received';
  /** For received texts; own messages and notices: undefined. */
  protection?: Protection;
  /** For received texts: the sender's contact state when it arrived (see SenderTrust). */
  senderTrust?: SenderTrust;
  /** Default 'text'. */
  kind?: 'text' | 'notice';
  /**
   * kind 'notice': a refused/tampered/undecryptable message, a key change or a member change shown in the
   * conversation (never silently hidden). `text` is a human sentence, `from` the client id concerned if known,
   * else ''. Notices do not count as unread and do not become lastMessage.
   */
  notice?: { code: NoticeCode; detail: string };
}

export type WarningCode =
  | 'tampered'
  | 'unverified-sender'
  | 'not-a-member'
  | 'sequence-gap'
  | 'sequence-regression'
  | 'replay'
  | 'old-epoch'
  | 'unknown-key'
  | 'unknown-version'
  | 'legacy'
  | 'queue-gap'
  /**
   * The broker dropped messages for this device while it was offline because its queue was full (`count` says how
   * many; the embedded broker tells, Mosquitto does not), or it sent a malformed notice about it (no `count`).
   */
  | 'queue-overflow'
  | 'second-connection'
  /** Someone's join request was refused (unknown, used or expired invite, wrong proof). */
  | 'bad-invite'
  /** The inviter refused this device's join request. */
  | 'join-refused'
  /** A contact's client id appeared with other keys than the ones this device accepted (see ContactInfo). */
  | 'key-changed';

/** Codes of notices in a chat's history: every warning code, and membership changes. */
export type NoticeCode = WarningCode | 'member-added' | 'member-removed' | 'member-left';

export interface HushWarning {
  code: WarningCode;
  chatId?: string;
  from?: string;
  detail: string;
  /**
   * How many messages the warning stands for, when it counts them: 'queue-overflow' (dropped by the broker),
   * 'sequence-gap' (missing from that sender), 'unknown-key' (unreadable messages coalesced into one warning).
   */
  count?: number;
}

/** Events a UI or script subscribes to. */
export interface HushEvents {
  message: [ReceivedText];
  receipt: [{ chatId: string; from: string; status: 'delivered' | 'read'; ids: string[] }];
  typing: [{ chatId: string; from: string; active: boolean }];
  presence: [{ chatId: string; from: string; state: 'online' | 'away' | 'offline' }];
  chat: [{ chatId: string; change: 'created' | 'joined' | 'members' | 'left' | 'removed' }];
  warning: [HushWarning];
  connection: [{ state: ConnectionState; detail?: string }];
  /** An own message changed state (sending → sent → delivered → read, or 'undelivered'). */
  'message-state': [{ chatId: string; id: string; state: StoredMessage['state'] }];
  /** A contact appeared, was (un)verified, or its keys changed (see ContactInfo). */
  contact: [{ clientId: string; change: 'added' | 'verified' | 'unverified' | 'key-changed' }];
  /** A notice was added to a chat's history (see StoredMessage.notice). */
  notice: [StoredMessage];
}
