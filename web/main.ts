/**
 * The Hush web app (issue 6, first slice): onboarding, chat list, invite links, conversations with message
 * states, a connection banner. Device keys are non-extractable CryptoKeys in IndexedDB; the profile (device
 * record, chats, history) lives in IndexedDB too, so everything survives a reload.
 */
import './style.css';
import type { ChatSummary, ConnectionState, StoredMessage } from '../src/client/api.ts';
import {
  cryptoKeyVault,
  IndexedDbStore,
  openProfileDatabase,
} from '../src/client/browser/indexeddb-store.ts';
import { DEVICE_RECORD, registerDevice, type DeviceKeyVault } from '../src/client/device.ts';
import { HushClient } from '../src/client/hush-client.ts';
import { webCryptoProvider } from '../src/core/crypto/webcrypto.ts';
import { h, mount } from './dom.ts';

const provider = webCryptoProvider;
const app = document.getElementById('app')!;
const banner = document.getElementById('banner')!;

/** An invite link in the address bar is read once, then removed (it is a bearer secret). */
let pendingInvite = readInviteFragment();

function readInviteFragment(): string | undefined {
  if (!location.hash.startsWith('#invite=')) return undefined;
  const link = location.href;
  history.replaceState(null, '', location.pathname + location.search);
  return link;
}

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Connection lost — reconnecting…',
  offline: 'Offline — messages will be sent when the connection is back',
  'auth-failed': 'The server refused this device (revoked?)',
  replaced: 'This device is open in another tab or window',
};

function showBanner(state: ConnectionState | 'error', text?: string): void {
  banner.dataset.state = state;
  banner.textContent = text ?? (state === 'error' ? 'Error' : CONNECTION_TEXT[state]);
  banner.hidden = state === 'online';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const db = await openProfileDatabase('default');
  const store = new IndexedDbStore(db);
  const vault = cryptoKeyVault(db);
  if ((await store.read(DEVICE_RECORD)) === undefined) showOnboarding(store, vault);
  else await startApp(store, vault);
}

function showOnboarding(store: IndexedDbStore, vault: DeviceKeyVault): void {
  const input = h('input', {
    attrs: { id: 'display-name', name: 'name', required: '', maxlength: '100', autocomplete: 'nickname' },
  });
  const button = h('button', { text: 'Start chatting', attrs: { type: 'submit', id: 'onboard-submit' } });
  const status = h('p', { className: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
  const form = h(
    'form',
    {
      className: 'onboarding',
      attrs: { id: 'onboarding' },
      on: {
        submit: (event) => {
          event.preventDefault();
          const name = input.value.trim();
          if (name === '') return;
          button.disabled = true;
          status.textContent = 'Creating this device’s keys…';
          registerDevice({ server: location.origin, name, store, provider, vault })
            .then(() => startApp(store, vault))
            .catch((error: unknown) => {
              button.disabled = false;
              status.textContent = `Could not register: ${errorText(error)}`;
            });
        },
      },
    },
    [
      h('h1', { text: 'Welcome to Hush' }),
      h('p', {
        text: 'End-to-end encrypted chat. Your keys are created in this browser and never leave it.',
      }),
      h('label', { text: 'Display name', attrs: { for: 'display-name' } }),
      input,
      button,
      status,
    ],
  );
  mount(app, form);
  input.focus();
}

async function startApp(store: IndexedDbStore, vault: DeviceKeyVault): Promise<void> {
  const client = await HushClient.open({ store, provider, vault });
  const ui = new ChatUi(client);
  ui.render();
  showBanner('connecting');
  client.on('connection', ({ state }) => showBanner(state));
  client.connect().catch((error: unknown) => showBanner('error', `Cannot connect: ${errorText(error)}`));
  const invite = pendingInvite;
  pendingInvite = undefined;
  if (invite !== undefined) ui.join(invite);
  joinLater = (link) => ui.join(link);
}

/** Once the app runs, an invite link opened in this tab (a same-document navigation) joins right away. */
let joinLater: ((link: string) => void) | undefined;
window.addEventListener('hashchange', () => {
  const link = readInviteFragment();
  if (link === undefined) return;
  if (joinLater) joinLater(link);
  else pendingInvite = link;
});

class ChatUi {
  readonly #client: HushClient;
  #current: string | undefined;
  #invite: { chatId: string; link: string } | undefined;
  #notice = '';

  readonly #chatList = h('ul', { className: 'chat-list', attrs: { id: 'chat-list', 'aria-label': 'Chats' } });
  readonly #invitePanel = h('div', { className: 'invite', attrs: { id: 'invite-panel' }, hidden: true });
  readonly #notices = h('p', { className: 'notice', attrs: { id: 'notice', role: 'status' } });
  readonly #title = h('h2', { attrs: { id: 'chat-title' } });
  readonly #messages = h('ol', { className: 'messages', attrs: { id: 'messages', 'aria-live': 'polite' } });
  readonly #input = h('input', {
    attrs: { id: 'message-input', autocomplete: 'off', maxlength: '4000', 'aria-label': 'Message' },
  });
  readonly #composer = h(
    'form',
    {
      className: 'composer',
      attrs: { id: 'composer' },
      on: { submit: (event) => this.#send(event) },
    },
    [this.#input, h('button', { text: 'Send', attrs: { type: 'submit', id: 'send' } })],
  );
  readonly #conversation = h(
    'section',
    { className: 'conversation', attrs: { 'aria-label': 'Conversation' } },
    [this.#title, this.#messages, this.#composer],
  );

  constructor(client: HushClient) {
    this.#client = client;
    client.on('message', (m) => {
      if (m.chatId === this.#current && document.visibilityState === 'visible')
        this.#markRead(m.chatId, [m.id]);
      this.render();
    });
    client.on('message-state', () => this.render());
    client.on('receipt', () => this.render());
    client.on('chat', () => this.render());
    client.on('warning', (w) => {
      this.#notice = `Warning (${w.code}): ${w.detail}`;
      this.render();
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.#current) this.#openChat(this.#current);
    });
  }

  render(): void {
    if (!this.#chatList.isConnected) this.#layout();
    this.#renderList();
    this.#renderConversation();
    this.#notices.textContent = this.#notice;
  }

  join(link: string): void {
    this.#notice = 'Joining the chat… (waiting for the inviter)';
    this.render();
    this.#client.acceptInvite(link).then(
      (chatId) => {
        this.#notice = '';
        this.#openChat(chatId);
      },
      (error: unknown) => {
        this.#notice = `Could not join: ${errorText(error)}`;
        this.render();
      },
    );
  }

  #layout(): void {
    const me = h('p', { className: 'me' }, [
      h('span', { text: this.#client.displayName ?? 'You', attrs: { id: 'my-name' } }),
      h('code', { text: this.#client.clientId, attrs: { id: 'client-id', title: 'Your device id' } }),
    ]);
    const newChat = h('button', {
      text: 'New chat',
      attrs: { id: 'new-chat', type: 'button' },
      on: { click: () => this.#newChat() },
    });
    const sidebar = h('aside', { className: 'sidebar' }, [
      h('header', {}, [h('h1', { text: 'Hush' }), me]),
      newChat,
      this.#invitePanel,
      this.#notices,
      this.#chatList,
    ]);
    mount(app, sidebar, this.#conversation);
  }

  #summaries(): ChatSummary[] {
    return this.#client
      .chats()
      .sort(
        (a, b) =>
          (b.lastMessage?.ts ?? Number.MAX_SAFE_INTEGER) - (a.lastMessage?.ts ?? Number.MAX_SAFE_INTEGER),
      );
  }

  #chatTitle(chat: ChatSummary): string {
    if (chat.name) return chat.name;
    const others = chat.members.filter((m) => m.clientId !== this.#client.clientId);
    if (others.length === 0) return 'New chat (waiting for someone to join)';
    return others.map((m) => m.displayName ?? m.clientId.slice(0, 8)).join(', ');
  }

  #renderList(): void {
    const items = this.#summaries().map((chat) => {
      const unread =
        chat.unread > 0
          ? h('span', { className: 'unread', text: String(chat.unread), attrs: { 'aria-label': 'unread' } })
          : undefined;
      return h('li', {}, [
        h(
          'button',
          {
            className: chat.chatId === this.#current ? 'chat-item current' : 'chat-item',
            attrs: { type: 'button', 'data-chat-id': chat.chatId },
            on: { click: () => this.#openChat(chat.chatId) },
          },
          [
            h('span', { className: 'chat-name', text: this.#chatTitle(chat) }),
            unread,
            h('span', { className: 'last', text: chat.lastMessage?.text ?? '' }),
          ],
        ),
      ]);
    });
    if (items.length === 0) items.push(h('li', { className: 'empty', text: 'No chats yet.' }));
    mount(this.#chatList, ...items);
    if (this.#invite) {
      const link = this.#invite.link;
      const field = h('input', {
        attrs: { id: 'invite-link', readonly: '', 'aria-label': 'Invite link' },
      });
      field.value = link;
      const copied = h('span', { className: 'copied', attrs: { role: 'status' } });
      const copy = h('button', {
        text: 'Copy',
        attrs: { id: 'copy-invite', type: 'button' },
        on: {
          click: () => {
            navigator.clipboard.writeText(link).then(
              () => (copied.textContent = 'Copied'),
              () => {
                field.select();
                copied.textContent = 'Select the link and copy it';
              },
            );
          },
        },
      });
      mount(
        this.#invitePanel,
        h('p', { text: 'Send this one-time link to the person you want to chat with:' }),
        field,
        copy,
        copied,
      );
      this.#invitePanel.hidden = false;
    } else {
      this.#invitePanel.hidden = true;
    }
  }

  #renderConversation(): void {
    const chat = this.#current ? this.#summaries().find((c) => c.chatId === this.#current) : undefined;
    this.#conversation.hidden = chat === undefined;
    if (!chat) return;
    this.#title.textContent = this.#chatTitle(chat);
    const names = new Map(chat.members.map((m) => [m.clientId, m.displayName ?? m.clientId.slice(0, 8)]));
    const history = this.#client.history(chat.chatId, { limit: 500 });
    const atBottom =
      this.#messages.scrollHeight - this.#messages.scrollTop - this.#messages.clientHeight < 40;
    mount(this.#messages, ...history.map((m) => this.#messageItem(m, names)));
    if (atBottom) this.#messages.scrollTop = this.#messages.scrollHeight;
  }

  #messageItem(m: StoredMessage, names: Map<string, string>): HTMLLIElement {
    const mine = m.from === this.#client.clientId;
    const time = new Date(m.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return h('li', { className: mine ? 'message mine' : 'message theirs', attrs: { 'data-id': m.id } }, [
      mine ? undefined : h('span', { className: 'from', text: names.get(m.from) ?? m.from.slice(0, 8) }),
      h('span', { className: 'text', text: m.text }),
      h('span', { className: 'meta' }, [
        h('time', { text: time, attrs: { datetime: new Date(m.ts).toISOString() } }),
        mine ? h('span', { className: 'state', text: m.state, attrs: { 'data-state': m.state } }) : undefined,
      ]),
    ]);
  }

  #openChat(chatId: string): void {
    this.#current = chatId;
    if (this.#invite && this.#invite.chatId !== chatId) this.#invite = undefined;
    const chat = this.#client.chats().find((c) => c.chatId === chatId);
    if (chat && chat.unread > 0 && document.visibilityState === 'visible') {
      const received = this.#client
        .history(chatId)
        .filter((m) => m.state === 'received')
        .slice(-chat.unread)
        .map((m) => m.id);
      this.#markRead(chatId, received);
    }
    this.render();
    this.#input.focus();
  }

  #markRead(chatId: string, ids: string[]): void {
    this.#client.markRead(chatId, ids).then(
      () => this.render(),
      (error: unknown) => {
        this.#notice = `Could not send read receipts: ${errorText(error)}`;
        this.render();
      },
    );
  }

  #newChat(): void {
    this.#client.createInvite().then(
      ({ chatId, link }) => {
        this.#invite = { chatId, link };
        this.#openChat(chatId);
      },
      (error: unknown) => {
        this.#notice = `Could not create a chat: ${errorText(error)}`;
        this.render();
      },
    );
  }

  #send(event: SubmitEvent): void {
    event.preventDefault();
    const chatId = this.#current;
    const text = this.#input.value;
    if (!chatId || text.trim() === '') return;
    this.#input.value = '';
    this.#client.sendText(chatId, text).then(
      () => this.render(),
      (error: unknown) => {
        this.#notice = `Could not send: ${errorText(error)}`;
        this.render();
      },
    );
  }
}

main().catch((error: unknown) => {
  showBanner('error', `Hush could not start: ${errorText(error)}`);
});
