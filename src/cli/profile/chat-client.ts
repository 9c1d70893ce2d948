/**
 * What the CLI needs from a profile's SDK client. Both HushClient (account mode: one device, one client id) and
 * SeedClient (seed mode: a separate random client id per chat, no device id at all) satisfy it, so the holder and
 * the commands work the same in both modes.
 */
import type { ChatSummary, HushEvents, StoredMessage } from '../../client/api.ts';

export type ProfileMode = 'account' | 'seed';

export interface ChatClientLike {
  /** The device's client id (account mode only: a seed profile has one per chat, see SeedClient.chatIdentity). */
  readonly clientId?: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  chats(): ChatSummary[];
  history(chatId: string, options?: { limit?: number }): StoredMessage[];
  createChat(options?: { name?: string }): Promise<string>;
  createInvite(
    chatId?: string,
    options?: { uses?: number; expiresInMs?: number },
  ): Promise<{ link: string; chatId: string }>;
  acceptInvite(link: string, options?: { timeoutMs?: number; displayName?: string }): Promise<string>;
  sendText(chatId: string, text: string): Promise<{ id: string }>;
  markRead(chatId: string, ids: string[]): Promise<unknown>;
  setTyping(chatId: string, active: boolean): Promise<unknown>;
  removeMember(chatId: string, clientId: string): Promise<unknown>;
  leaveChat(chatId: string): Promise<unknown>;
  on<E extends keyof HushEvents>(event: E, listener: (...args: HushEvents[E]) => void): unknown;
  off<E extends keyof HushEvents>(event: E, listener: (...args: HushEvents[E]) => void): unknown;
}
