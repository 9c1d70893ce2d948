/**
 * The `hush chat` screen as a pure function of its state: a status line, the chat list on the left,
 * the open conversation on the right, a notice line and the input line. Pure so it can be tested
 * without a terminal; app.ts diffs nothing and simply redraws (the screen is small).
 */
import type { ChatSummary, ConnectionState, StoredMessage } from '../../client/api.ts';
import { fitToWidth, sanitizeForTerminal, wrapToWidth } from './sanitize.ts';

export interface TuiState {
  width: number;
  height: number;
  me: string;
  /** My client id per chat where it differs from `me` (seed mode: one id per chat). */
  selfIds?: Record<string, string>;
  connection: ConnectionState;
  chats: ChatSummary[];
  selected: number;
  messages: StoredMessage[];
  /** Lines scrolled up from the bottom of the conversation. */
  scroll: number;
  typing: string[];
  notice: string;
  input: string;
}

const STATE_MARK: Record<StoredMessage['state'], string> = {
  sending: '…',
  sent: '✓',
  // A recipient never got it (a later one was receipted first, or none came in time): loud, not a tick.
  undelivered: '✗ not delivered',
  delivered: '✓✓',
  read: '✓✓ read',
  received: '',
};

/** A short, stable name for a client id (its first 6 characters). */
export function shortId(clientId: string): string {
  return clientId.slice(0, 6);
}

function chatTitle(chat: ChatSummary, me: string): string {
  if (chat.name) return chat.name;
  const others = chat.members.filter((m) => m.clientId !== me);
  if (others.length === 0) return `chat ${shortId(chat.chatId)} (waiting)`;
  return others.map((m) => m.displayName ?? shortId(m.clientId)).join(', ');
}

function time(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** Renders the whole screen: exactly `height` lines of exactly `width` columns, all text sanitized. */
export function renderScreen(state: TuiState): string[] {
  const { width, height } = state;
  const listWidth = Math.min(28, Math.max(12, Math.floor(width / 3)));
  const bodyWidth = Math.max(1, width - listWidth - 1);
  const bodyHeight = Math.max(1, height - 4);
  const lines: string[] = [];

  const who = /^[A-Za-z0-9_-]{22}$/.test(state.me) ? shortId(state.me) : state.me;
  const status = `Hush · ${who} · ${state.connection}`;
  lines.push(fitToWidth(status, width));
  lines.push('─'.repeat(listWidth) + '┬' + '─'.repeat(bodyWidth));

  const list = state.chats.map((chat, i) => {
    const unread = chat.unread > 0 ? ` (${chat.unread})` : '';
    const mark = i === state.selected ? '▸ ' : '  ';
    const self = state.selfIds?.[chat.chatId] ?? state.me;
    return fitToWidth(mark + sanitizeForTerminal(chatTitle(chat, self)) + unread, listWidth);
  });
  if (list.length === 0) list.push(fitToWidth('  no chats: /new', listWidth));

  const chat = state.chats[state.selected];
  const body: string[] = [];
  if (chat) {
    const self = state.selfIds?.[chat.chatId] ?? state.me;
    const names = new Map(chat.members.map((m) => [m.clientId, m.displayName ?? shortId(m.clientId)]));
    for (const message of state.messages) {
      const who = message.from === self ? 'me' : (names.get(message.from) ?? shortId(message.from));
      const mark = STATE_MARK[message.state];
      const head = `${time(message.ts)} ${sanitizeForTerminal(who)}: `;
      const text = sanitizeForTerminal(message.text) + (mark ? `  ${mark}` : '');
      const wrapped = wrapToWidth(head + text, bodyWidth);
      body.push(...wrapped);
    }
    if (state.typing.length > 0) body.push(`${state.typing.map(sanitizeForTerminal).join(', ')} typing…`);
  } else {
    body.push('Start a chat with /new, or join one with /accept LINK.');
  }
  const end = Math.max(0, body.length - state.scroll);
  const visible = body.slice(Math.max(0, end - bodyHeight), end);
  while (visible.length < bodyHeight) visible.unshift('');

  for (let row = 0; row < bodyHeight; row++) {
    const left = list[row] ?? ' '.repeat(listWidth);
    lines.push(left + '│' + fitToWidth(visible[row] ?? '', bodyWidth));
  }
  lines.push(fitToWidth(sanitizeForTerminal(state.notice), width));
  const prompt = '> ';
  const input = sanitizeForTerminal(state.input);
  // Keep the end of a long input visible, where the cursor is.
  const room = width - prompt.length;
  const shown = [...input].length > room ? '…' + [...input].slice(-(room - 1)).join('') : input;
  lines.push(fitToWidth(prompt + shown, width));
  return lines.slice(0, height);
}
