/**
 * The running app: lays out the sidebar (chat list, new chat/group, settings) and the conversation pane, and
 * routes the client's events to them. The UI talks to the device only through the AppClient handed to
 * startApp — a HushClient today, a proxy to another tab's client once tabs share one connection (web/tabs).
 */
import type { AppClient } from './app-client.ts';
import { h, mount } from './dom.ts';
import { Announcer } from './ui/announcer.ts';
import { showBanner } from './ui/banner.ts';
import { renderChatList } from './ui/chat-list.ts';
import { Conversation } from './ui/conversation.ts';
import { openDialog } from './ui/dialogs.ts';
import { errorText } from './ui/format.ts';
import { openMembers } from './ui/members.ts';
import { chatTitle, memberName } from './ui/names.ts';
import { Notifier } from './ui/notifications.ts';
import { themePicker } from './ui/theme.ts';
import { openVerification } from './ui/verification.ts';

/** What main.ts (or the tabs integration) can do with the running app. */
export interface AppHandle {
  /** Joins a chat through an invite link (shows progress and errors itself). */
  join(link: string): void;
}

/** Builds the UI for `client` into `root`, with the connection banner in `banner`. */
export function startApp(client: AppClient, root: HTMLElement, banner: HTMLElement): AppHandle {
  const app = new App(client, root, banner);
  return { join: (link) => app.join(link) };
}

class App {
  readonly #client: AppClient;
  readonly #root: HTMLElement;
  readonly #announcer = new Announcer();
  readonly #notifier = new Notifier();
  readonly #conversation: Conversation;
  readonly #chatList = h('ul', { className: 'chat-list', attrs: { id: 'chat-list', 'aria-label': 'Chats' } });
  readonly #status = h('p', { className: 'notice', attrs: { id: 'notice', role: 'status' } });
  #renderQueued = false;
  /** Chat titles as last drawn (a chat one was removed from may be gone from chats() by then). */
  readonly #titles = new Map<string, string>();

  constructor(client: AppClient, root: HTMLElement, banner: HTMLElement) {
    this.#client = client;
    this.#root = root;
    this.#conversation = new Conversation(client, {
      back: () => this.#open(undefined),
      members: (chat) =>
        openMembers(client, chat, {
          verify: (id) => this.#verify(id),
          invite: (chatId) => this.#invite(chatId),
          left: () => this.#open(undefined),
        }),
      verify: (id, chat) => openVerification(client, id, () => this.render(), chat),
      changed: () => this.render(),
      status: (text) => this.#say(text),
    });
    this.#layout();
    showBanner(banner, client.connectionState === 'offline' ? 'connecting' : client.connectionState);
    client.on('connection', ({ state }) => showBanner(banner, state));
    client.on('message', (m) => {
      this.#conversation.received(m.chatId, m.from);
      const chat = client.chats().find((c) => c.chatId === m.chatId);
      const sender = memberName(client, chat, m.from);
      const open = m.chatId === this.#conversation.chatId;
      if (open && document.visibilityState === 'visible') this.#markRead(m.chatId, [m.id]);
      this.#announcer.say(
        open ? `${sender}: ${m.text}` : `New message from ${sender}${chat?.name ? ` in ${chat.name}` : ''}`,
      );
      this.#notifier.notify(sender, m.text, m.chatId, () => this.#open(m.chatId));
      this.render();
    });
    for (const event of ['message-state', 'receipt', 'notice', 'contact'] as const)
      client.on(event, () => this.render());
    client.on('chat', ({ chatId, change }) => {
      if (change === 'removed') {
        // The chat may be gone from chats() already: its title comes from the last drawing.
        const title = this.#titles.get(chatId) ?? 'a chat';
        this.#say(`You were removed from “${title}”: you get no new messages from it.`);
        this.#announcer.say(`You were removed from ${title}.`);
      }
      this.render();
    });
    client.on('warning', (w) => {
      // Warnings tied to a chat show up as notices in it; the rest are told here.
      if (w.chatId === undefined) this.#say(`Warning (${w.code}): ${w.detail}`);
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.#conversation.chatId)
        this.#readAll(this.#conversation.chatId);
    });
    this.render();
  }

  /** Draws everything again, at most once per frame (events come in bursts). */
  render(): void {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    // A hidden tab gets no animation frames; its title (unread count) and list must still follow.
    const schedule =
      document.visibilityState === 'hidden' ? (f: () => void) => setTimeout(f, 50) : requestAnimationFrame;
    schedule(() => {
      this.#renderQueued = false;
      renderChatList(this.#chatList, this.#client, this.#conversation.chatId, (id) => this.#open(id));
      for (const chat of this.#client.chats()) this.#titles.set(chat.chatId, chatTitle(this.#client, chat));
      this.#conversation.update();
      const unread = this.#client.chats().reduce((n, c) => n + c.unread, 0);
      document.title = unread > 0 ? `(${unread}) Hush` : 'Hush';
      this.#root.dataset.view = this.#conversation.chatId ? 'chat' : 'list';
    });
  }

  join(link: string): void {
    this.#say('Joining the chat… (waiting for the inviter to answer)');
    this.#client.acceptInvite(link).then(
      (chatId) => {
        this.#say('');
        this.#open(chatId);
      },
      (error: unknown) => this.#say(`Could not join: ${errorText(error)}`),
    );
  }

  #say(text: string): void {
    this.#status.textContent = text;
  }

  #layout(): void {
    const me = h('p', { className: 'me' }, [
      h('span', { text: this.#client.displayName ?? 'You', attrs: { id: 'my-name' } }),
      h('code', { text: this.#client.clientId, attrs: { id: 'client-id', title: 'Your device id' } }),
    ]);
    const settings = h('details', { className: 'settings' }, [
      h('summary', { text: 'Settings' }),
      themePicker(),
      this.#notifier.controls(),
    ]);
    const actions = h('div', { className: 'new-actions' }, [
      h('button', {
        text: 'New chat',
        attrs: { id: 'new-chat', type: 'button' },
        on: { click: () => this.#invite(undefined) },
      }),
      h('button', {
        text: 'New group',
        className: 'secondary',
        attrs: { id: 'new-group', type: 'button' },
        on: { click: () => this.#newGroup() },
      }),
    ]);
    const sidebar = h('nav', { className: 'sidebar', attrs: { 'aria-label': 'Chats' } }, [
      h('header', {}, [h('h1', { text: 'Hush' }), me]),
      actions,
      this.#status,
      this.#chatList,
      settings,
    ]);
    mount(this.#root, sidebar, this.#conversation.element, this.#announcer.element);
    this.#root.dataset.view = 'list';
  }

  #open(chatId: string | undefined): void {
    const previous = this.#conversation.chatId;
    this.#root.dataset.view = chatId ? 'chat' : 'list';
    this.#conversation.open(chatId);
    if (chatId) this.#readAll(chatId);
    renderChatList(this.#chatList, this.#client, chatId, (id) => this.#open(id));
    // Back to the list (phones): focus the chat the user came from, so keyboard users keep their place.
    if (!chatId) {
      const items = Array.from(this.#chatList.querySelectorAll<HTMLElement>('.chat-item'));
      (items.find((item) => item.dataset.chatId === previous) ?? items[0])?.focus();
    }
  }

  /** Marks the open chat's unread texts read (only while the page is visible: a hidden tab has not read them). */
  #readAll(chatId: string): void {
    const chat = this.#client.chats().find((c) => c.chatId === chatId);
    if (!chat || chat.unread === 0 || document.visibilityState !== 'visible') return;
    const received = this.#client
      .history(chatId)
      .filter((m) => m.state === 'received' && m.kind !== 'notice')
      .slice(-chat.unread)
      .map((m) => m.id);
    this.#markRead(chatId, received);
  }

  #markRead(chatId: string, ids: string[]): void {
    this.#client.markRead(chatId, ids).then(
      () => this.render(),
      (error: unknown) => this.#say(`Could not send read receipts: ${errorText(error)}`),
    );
  }

  /** A one-time invite link to `chatId` (a new 1:1 chat if undefined), shown in that chat. */
  #invite(chatId: string | undefined): void {
    this.#client.createInvite(chatId).then(
      ({ chatId: id, link }) => this.#conversation.showInvite(id, link),
      (error: unknown) => this.#say(`Could not create an invite: ${errorText(error)}`),
    );
  }

  #verify(clientId: string): void {
    const chat = this.#client.chats().find((c) => c.chatId === this.#conversation.chatId);
    openVerification(this.#client, clientId, () => this.render(), chat);
  }

  #newGroup(): void {
    const input = h('input', {
      attrs: { id: 'group-name', required: '', maxlength: '100', autocomplete: 'off' },
    });
    const status = h('p', { className: 'status', attrs: { role: 'status' } });
    const form = h('form', { className: 'stack', attrs: { id: 'new-group-form' } }, [
      h('label', { text: 'Group name', attrs: { for: 'group-name' } }),
      input,
      h('p', {
        className: 'hint',
        text: 'Members see the name. You are the group’s admin: you add people with invite links and can remove them.',
      }),
      h('button', { text: 'Create group', attrs: { type: 'submit', id: 'create-group' } }),
      status,
    ]);
    const { close } = openDialog('group-dialog', 'New group', [form]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (name === '') return;
      this.#client
        .createChat({ name })
        .then((chatId) => {
          close();
          this.#invite(chatId);
        })
        .catch((error: unknown) => (status.textContent = `Could not create the group: ${errorText(error)}`));
    });
    input.focus();
  }
}
