/**
 * The one interface through which the UI talks to a Hush device. Today main.ts hands it a HushClient; with several
 * tabs (web/tabs) a follower tab hands it a proxy that forwards to the leader's client, so the UI never needs to
 * know which one it has. Only what the UI uses is listed.
 */
import type {
  ChatSummary,
  ConnectionState,
  ContactInfo,
  HushEvents,
  StoredMessage,
} from '../src/client/api.ts';

/** A listener for one HushEvents event. */
export type Listener<K extends keyof HushEvents> = (...args: HushEvents[K]) => void;

/** What the web UI needs from a device (a subset of HushClient's public surface). */
export interface AppClient {
  readonly clientId: string;
  readonly displayName: string | undefined;
  readonly connectionState: ConnectionState;
  on<K extends keyof HushEvents>(event: K, listener: Listener<K>): unknown;
  off<K extends keyof HushEvents>(event: K, listener: Listener<K>): unknown;
  chats(): ChatSummary[];
  history(chatId: string, options?: { limit?: number }): StoredMessage[];
  createChat(options?: { name?: string }): Promise<string>;
  createInvite(chatId?: string): Promise<{ link: string; chatId: string; inviteId: string }>;
  acceptInvite(link: string): Promise<string>;
  sendText(chatId: string, text: string): Promise<{ id: string }>;
  markRead(chatId: string, ids: string[]): Promise<void>;
  setTyping(chatId: string, active: boolean): Promise<boolean>;
  removeMember(chatId: string, clientId: string): Promise<void>;
  leaveChat(chatId: string): Promise<void>;
  contacts(): ContactInfo[];
  contact(clientId: string): ContactInfo | undefined;
  safetyNumber(clientId: string): Promise<string>;
  safetyNumberQr(clientId: string): Promise<string>;
  markVerified(clientId: string, verified: boolean, options?: { safetyNumber?: string }): Promise<void>;
  acknowledgeKeyChange(clientId: string): Promise<void>;
}
