/**
 * The HushClient as the web app shares it between tabs (shared-client.ts): which methods followers call, which
 * events and reads they see, and what happens to a call whose leader tab closed mid-call.
 *
 * Replay semantics per method (a call the closing leader acknowledged but never answered):
 * - sendText: recovered, never sent twice. The SDK stores the text (history + outbox, one IndexedDB write) before
 *   it publishes; the next leader reopens the store and looks for this tab's text in that chat, from this device,
 *   stored after the call was made, and not already claimed by another recovered call. Found: its id is the
 *   result (the outbox sends it on connect). Not found: the write never committed, so it is sent now.
 * - leaveChat / removeMember: done if the chat is gone / the member is no longer in it; otherwise run.
 * - createChat, and createInvite without a chat: 'leader-lost' (a second, empty chat would appear); the 'chat'
 *   event tells the UI if the first one was created.
 * - Everything else is idempotent or harmless to repeat (acceptInvite is deduplicated by the SDK per invite,
 *   markRead/markVerified/acknowledgeKeyChange converge, setTyping and reads have no lasting effect): retried.
 */
import type { HushEvents, StoredMessage } from '../../src/client/api.ts';
import type { HushClient } from '../../src/client/hush-client.ts';
import { openSharedClient, SharedCallError, type SharedClient } from './shared-client.ts';

export const HUSH_METHODS = [
  'createChat',
  'createInvite',
  'acceptInvite',
  'sendText',
  'markRead',
  'setTyping',
  'removeMember',
  'leaveChat',
  'safetyNumber',
  'safetyNumberQr',
  'markVerified',
  'acknowledgeKeyChange',
] as const;

export const HUSH_EVENTS = [
  'message',
  'receipt',
  'typing',
  'presence',
  'chat',
  'warning',
  'connection',
  'message-state',
  'contact',
  'notice',
] as const satisfies readonly (keyof HushEvents)[];

export const HUSH_GETTERS = ['clientId', 'displayName', 'connectionState', 'chats', 'contacts'] as const;

type Methods = (typeof HUSH_METHODS)[number];
type Getters = (typeof HUSH_GETTERS)[number];
type Reads = 'history' | 'contact';

/** The shared HushClient of one profile. */
export type SharedHush = SharedClient<HushClient, Methods, Getters, Reads, HushEvents>;

function lost(method: string): SharedCallError {
  return new SharedCallError(
    'leader-lost',
    `tabs: the tab that was running ${method} closed before it answered; check whether it took effect`,
  );
}

/**
 * Opens the profile's shared client. `open` runs only in the tab that holds the device (it should open the
 * HushClient and start connect()); every other tab works through that one.
 */
export function openHushTabs(options: {
  profile: string;
  open: () => Promise<HushClient>;
  timeoutMs?: number;
}): Promise<SharedHush> {
  return openSharedClient<HushClient, Methods, Getters, Reads, HushEvents>({
    profile: options.profile,
    open: options.open,
    methods: HUSH_METHODS,
    events: HUSH_EVENTS,
    getters: HUSH_GETTERS,
    reads: {
      history: {
        // Whole histories (the SDK caps each at HISTORY_CAP); patches carry only the chats that changed.
        capture: (client) =>
          Object.fromEntries(client.chats().map((chat) => [chat.chatId, client.history(chat.chatId)])),
        read: (data: unknown, ...args: never[]) => {
          const [chatId, opts] = args as unknown as [string, { limit?: number } | undefined];
          const list = (data as Record<string, StoredMessage[]>)[chatId] ?? [];
          const limit = opts?.limit;
          return limit === undefined ? [...list] : list.slice(Math.max(0, list.length - limit));
        },
      },
      contact: {
        capture: (client) => client.contacts(),
        read: (data: unknown, ...args: never[]) => {
          const [clientId] = args as unknown as [string];
          return (data as ReturnType<HushClient['contacts']>).find((c) => c.clientId === clientId);
        },
      },
    },
    replay: {
      sendText: async (client, [chatId, text], { sentAt, claimed }) => {
        let history: StoredMessage[];
        try {
          history = client.history(chatId);
        } catch {
          return undefined;
        }
        const mine = history.find(
          (m) =>
            m.from === client.clientId &&
            m.text === text &&
            m.ts >= sentAt &&
            !claimed.has(`${chatId}:${m.id}`),
        );
        if (!mine) return undefined;
        claimed.add(`${chatId}:${mine.id}`);
        return { value: { id: mine.id } };
      },
      leaveChat: async (client, [chatId]) =>
        client.chats().some((c) => c.chatId === chatId) ? undefined : { value: undefined },
      removeMember: async (client, [chatId, member]) => {
        const chat = client.chats().find((c) => c.chatId === chatId);
        return chat && !chat.members.some((m) => m.clientId === member) ? { value: undefined } : undefined;
      },
      createChat: async () => {
        throw lost('createChat');
      },
      createInvite: async (_client, [chatId]) => {
        if (chatId === undefined) throw lost('createInvite');
        return undefined;
      },
    },
    // Joining waits for the inviter, who may be offline for long: the SDK call has its own timeout option.
    timeouts: { acceptInvite: 0 },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
}
