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
  members: Array<{ clientId: string; displayName?: string }>;
  epoch: number;
  unread: number;
  lastMessage?: { from: string; text: string; ts: number };
}

export interface ReceivedText {
  chatId: string;
  from: string;
  id: string;
  text: string;
  ts: number;
  protection: Protection;
}

export interface StoredMessage {
  chatId: string;
  id: string;
  from: string;
  text: string;
  ts: number;
  /** For own messages: sending → sent (broker acknowledged) → delivered → read. */
  state: 'sending' | 'sent' | 'delivered' | 'read' | 'received';
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
  | 'second-connection'
  /** Someone's join request was refused (unknown, used or expired invite, wrong proof). */
  | 'bad-invite'
  /** The inviter refused this device's join request. */
  | 'join-refused';

export interface HushWarning {
  code: WarningCode;
  chatId?: string;
  from?: string;
  detail: string;
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
  /** An own message changed state (sending → sent → delivered → read). */
  'message-state': [{ chatId: string; id: string; state: StoredMessage['state'] }];
}
