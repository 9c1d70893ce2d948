/**
 * `hush chat`: the interactive terminal client. Keys go to an input line; Enter sends (or runs a
 * /command); Tab / Shift-Tab switch chats; PageUp / PageDown scroll; Ctrl-C or /quit leaves. Every SDK
 * event redraws the screen from renderScreen (screen.ts), which sanitizes all text it is given.
 */
import { emitKeypressEvents } from 'node:readline';
import type { ChatSummary, ConnectionState, HushEvents, StoredMessage } from '../../client/api.ts';
import { renderScreen, shortId, type TuiState } from './screen.ts';

/** What the TUI needs from the SDK (HushClient and SeedClient satisfy it). */
export interface ChatBackend {
  /** Undefined in seed mode, where each chat has its own client id. */
  readonly clientId?: string;
  /** Seed mode: my own identity in one chat. */
  chatIdentity?(chatId: string): { clientId: string };
  chats(): ChatSummary[];
  history(chatId: string, options?: { limit?: number }): StoredMessage[] | Promise<StoredMessage[]>;
  sendText(chatId: string, text: string): Promise<{ id: string }>;
  createChat(options?: { name?: string }): Promise<string>;
  createInvite(chatId?: string, options?: { uses?: number }): Promise<{ link: string; chatId: string }>;
  acceptInvite(link: string, options?: { timeoutMs?: number }): Promise<string>;
  removeMember(chatId: string, clientId: string): Promise<unknown>;
  leaveChat(chatId: string): Promise<unknown>;
  markRead(chatId: string, ids: string[]): Promise<unknown>;
  setTyping(chatId: string, active: boolean): Promise<unknown>;
  on<E extends keyof HushEvents>(event: E, listener: (...args: HushEvents[E]) => void): unknown;
}

interface Terminal {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

const HELP =
  'Enter sends · Tab next chat · PgUp/PgDn scroll · /new [name] · /invite · /accept LINK · /remove ID · /leave · /quit';

/** Runs the TUI until the user quits; resolves after the terminal is restored. */
export async function runChatTui(
  backend: ChatBackend,
  terminal: Terminal,
  initial: ConnectionState,
): Promise<void> {
  const { input, output } = terminal;
  const state: TuiState = {
    width: output.columns || 80,
    height: output.rows || 24,
    // Seed mode has no device-wide id: the status line says so, chats use their own ids (selfIds).
    me: backend.clientId ?? 'seed mode',
    connection: initial,
    chats: backend.chats(),
    selected: 0,
    messages: [],
    scroll: 0,
    typing: [],
    notice: HELP,
    input: '',
  };
  const typingUntil = new Map<string, number>();
  let typingSent = 0;

  const selectedChat = () => state.chats[state.selected];
  const refresh = async () => {
    state.chats = backend.chats();
    if (backend.chatIdentity) {
      const ids: Record<string, string> = {};
      for (const chat of state.chats) {
        try {
          ids[chat.chatId] = backend.chatIdentity(chat.chatId).clientId;
        } catch {
          // A chat still being joined has no identity yet: its title just lists every member.
        }
      }
      state.selfIds = ids;
    }
    if (state.selected >= state.chats.length) state.selected = Math.max(0, state.chats.length - 1);
    const chat = selectedChat();
    state.messages = chat ? await backend.history(chat.chatId, { limit: 500 }) : [];
    const now = Date.now();
    state.typing = [...typingUntil]
      .filter(([key, until]) => until > now && key.startsWith(`${chat?.chatId}|`))
      .map(([key]) => shortId(key.split('|')[1]!));
    draw();
    const unread = state.messages.filter((m) => m.state === 'received').map((m) => m.id);
    if (chat && chat.unread > 0 && unread.length > 0)
      void backend.markRead(chat.chatId, unread).catch(() => undefined);
  };
  const draw = () => {
    const lines = renderScreen(state);
    // Home, draw every line, clear whatever is below; the cursor then sits at the end of the input line.
    output.write(`\x1b[H${lines.join('\r\n')}\x1b[J`);
  };
  const notify = (text: string) => {
    state.notice = text;
    draw();
  };

  const runCommand = async (line: string): Promise<boolean> => {
    const [command, ...args] = line.slice(1).split(/\s+/);
    const chat = selectedChat();
    switch (command) {
      case 'quit':
      case 'q':
        return false;
      case 'help':
        notify(HELP);
        break;
      case 'new': {
        const chatId = await backend.createChat(args.length ? { name: args.join(' ') } : {});
        await refresh();
        state.selected = Math.max(
          0,
          state.chats.findIndex((c) => c.chatId === chatId),
        );
        const { link } = await backend.createInvite(chatId);
        notify(`invite: ${link}`);
        break;
      }
      case 'invite': {
        const { link } = await backend.createInvite(chat?.chatId);
        notify(`invite: ${link}`);
        break;
      }
      case 'accept': {
        if (!args[0]) return (notify('usage: /accept LINK'), true);
        notify('joining… (waiting for the inviter)');
        const chatId = await backend.acceptInvite(args[0], { timeoutMs: 120_000 });
        await refresh();
        state.selected = Math.max(
          0,
          state.chats.findIndex((c) => c.chatId === chatId),
        );
        notify('joined');
        break;
      }
      case 'remove':
        if (!chat || !args[0]) return (notify('usage: /remove CLIENT_ID (in the open chat)'), true);
        {
          const member = chat.members.find((m) => m.clientId.startsWith(args[0]!));
          if (!member) return (notify(`no member starting with ${args[0]}`), true);
          await backend.removeMember(chat.chatId, member.clientId);
          notify(`removed ${shortId(member.clientId)}: a new key was sent to the others`);
        }
        break;
      case 'leave':
        if (!chat) return (notify('no chat open'), true);
        await backend.leaveChat(chat.chatId);
        notify('left the chat');
        break;
      default:
        notify(`unknown command /${command ?? ''}: ${HELP}`);
    }
    await refresh();
    return true;
  };

  backend.on('message', () => void refresh());
  backend.on('receipt', () => void refresh());
  backend.on('message-state', () => void refresh());
  backend.on('chat', () => void refresh());
  backend.on('typing', (event) => {
    typingUntil.set(`${event.chatId}|${event.from}`, event.active ? Date.now() + 6000 : 0);
    void refresh();
  });
  backend.on('connection', (event) => {
    state.connection = event.state;
    if (event.detail) state.notice = event.detail;
    draw();
  });
  backend.on('warning', (warning) => notify(`warning (${warning.code}): ${warning.detail}`));

  output.write('\x1b[?1049h'); // alternate screen: the user's scrollback is left untouched
  const restore = () => {
    output.write('\x1b[?1049l');
    if (input.isTTY) input.setRawMode(false);
    // Stop reading, or the open stdin would keep the process alive after the chat ends.
    input.pause();
  };
  emitKeypressEvents(input);
  if (input.isTTY) input.setRawMode(true);
  output.on('resize', () => {
    state.width = output.columns || 80;
    state.height = output.rows || 24;
    draw();
  });
  await refresh();

  await new Promise<void>((resolve) => {
    const onKey = (
      text: string | undefined,
      key: { name?: string; ctrl?: boolean; shift?: boolean } = {},
    ) => {
      const finish = () => {
        input.off('keypress', onKey);
        resolve();
      };
      if (key.ctrl && (key.name === 'c' || key.name === 'd')) return finish();
      if (key.name === 'tab') {
        const n = state.chats.length || 1;
        state.selected = (state.selected + (key.shift ? n - 1 : 1)) % n;
        state.scroll = 0;
        return void refresh();
      }
      if (key.name === 'pageup') return ((state.scroll += Math.max(1, state.height - 6)), draw());
      if (key.name === 'pagedown')
        return ((state.scroll = Math.max(0, state.scroll - (state.height - 6))), draw());
      if (key.name === 'backspace') return ((state.input = [...state.input].slice(0, -1).join('')), draw());
      if (key.name === 'return' || key.name === 'enter') {
        const line = state.input.trim();
        state.input = '';
        draw();
        if (!line) return;
        const work = line.startsWith('/')
          ? runCommand(line)
          : (async () => {
              const chat = selectedChat();
              if (!chat) return (notify('no chat open: /new or /accept LINK'), true);
              await backend.sendText(chat.chatId, line);
              state.scroll = 0;
              await refresh();
              return true;
            })();
        work.then(
          (keepGoing) => {
            if (!keepGoing) finish();
          },
          (error: Error) => notify(`error: ${error.message}`),
        );
        return;
      }
      if (text && !key.ctrl && text >= ' ') {
        state.input += text;
        draw();
        const chat = selectedChat();
        if (chat && Date.now() - typingSent > 3000) {
          typingSent = Date.now();
          void backend.setTyping(chat.chatId, true).catch(() => undefined);
        }
      }
    };
    input.on('keypress', onKey);
  });
  restore();
}
