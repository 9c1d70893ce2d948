/**
 * The chat list: one button per chat with its title (and verified mark for a verified 1:1 contact), the unread
 * count, the last message and its time; newest activity first. A chat with a changed key carries a warning.
 */
import type { ChatSummary } from '../../src/client/api.ts';
import type { AppClient } from '../app-client.ts';
import { h, mount } from '../dom.ts';
import { clockTime, dayKey } from './format.ts';
import { chatTitle, isGroup, memberName, otherMembers, verifiedMark } from './names.ts';

/** Chats sorted by their last message, chats without one (new, waiting) first. */
export function sortedChats(client: AppClient): ChatSummary[] {
  return client
    .chats()
    .sort(
      (a, b) =>
        (b.lastMessage?.ts ?? Number.MAX_SAFE_INTEGER) - (a.lastMessage?.ts ?? Number.MAX_SAFE_INTEGER),
    );
}

function lastLine(client: AppClient, chat: ChatSummary): string {
  const last = chat.lastMessage;
  if (!last)
    return otherMembers(client, chat).length === 0 ? 'Waiting for someone to join' : 'No messages yet';
  const who =
    last.from === client.clientId ? 'You' : isGroup(chat) ? memberName(client, chat, last.from) : '';
  return who ? `${who}: ${last.text}` : last.text;
}

function when(ts: number): string {
  return dayKey(ts) === dayKey(Date.now())
    ? clockTime(ts)
    : new Date(ts).toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** Draws the list into `list` (an <ul>); `open` is called with the chosen chat id. */
export function renderChatList(
  list: HTMLUListElement,
  client: AppClient,
  current: string | undefined,
  open: (chatId: string) => void,
): void {
  const items = sortedChats(client).map((chat) => {
    const others = otherMembers(client, chat);
    const keyChanged = others.some((m) => client.contact(m.clientId)?.keyChanged);
    const title = chatTitle(client, chat);
    const mark =
      !isGroup(chat) && others.length === 1 ? verifiedMark(client, others[0]!.clientId) : undefined;
    const label = `${title}${chat.unread > 0 ? `, ${chat.unread} unread` : ''}${keyChanged ? ', safety number changed' : ''}`;
    return h('li', {}, [
      h(
        'button',
        {
          className: chat.chatId === current ? 'chat-item current' : 'chat-item',
          attrs: {
            type: 'button',
            'data-chat-id': chat.chatId,
            'aria-label': label,
            ...(chat.chatId === current ? { 'aria-current': 'true' } : {}),
          },
          on: { click: () => open(chat.chatId) },
        },
        [
          h('span', { className: 'chat-name' }, [
            document.createTextNode(title),
            mark,
            keyChanged ? h('span', { className: 'badge warn', text: '⚠ key changed' }) : undefined,
          ]),
          h('span', { className: 'when', text: chat.lastMessage ? when(chat.lastMessage.ts) : '' }),
          h('span', { className: 'last', text: lastLine(client, chat) }),
          chat.unread > 0
            ? h('span', { className: 'unread', text: String(chat.unread), attrs: { 'aria-hidden': 'true' } })
            : undefined,
        ],
      ),
    ]);
  });
  if (items.length === 0)
    items.push(h('li', { className: 'empty', text: 'No chats yet. Start one, or open an invite link.' }));
  // Redrawing must not throw a keyboard user out of the list: the focused chat keeps the focus.
  const active = document.activeElement;
  const focused = active instanceof HTMLElement && list.contains(active) ? active.dataset.chatId : undefined;
  mount(list, ...items);
  if (focused !== undefined)
    Array.from(list.querySelectorAll<HTMLElement>('.chat-item'))
      .find((item) => item.dataset.chatId === focused)
      ?.focus();
}
