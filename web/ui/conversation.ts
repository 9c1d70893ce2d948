/**
 * The conversation pane: header (back button on phones, title, members and verification buttons), the key-change
 * alert, the invite panel, the virtualised message list, the typing indicator and the composer. Typing state is
 * sent while the user types (at most one "typing" per TYPING_IDLE_MS burst, then "stopped"), and shown for the
 * others until they stop or TYPING_SHOWN_MS pass without news.
 */
import type { ChatSummary } from '../../src/client/api.ts';
import type { AppClient } from '../app-client.ts';
import { h, mount } from '../dom.ts';
import { errorText } from './format.ts';
import { invitePanel } from './invite.ts';
import { VirtualList } from './message-list.ts';
import { renderRow, rowEstimate, rowKey, rowVersion } from './message-row.ts';
import { chatTitle, isGroup, memberName, otherMembers, verifiedMark } from './names.ts';
import { timelineRows, type TimelineRow } from './timeline.ts';
import { keyChangeAlert } from './verification.ts';

const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 8000;

export interface ConversationHost {
  back(): void;
  members(chat: ChatSummary): void;
  verify(clientId: string, chat: ChatSummary): void;
  /** Something changed that other parts show too (verified marks, acknowledged key changes). */
  changed(): void;
  status(text: string): void;
}

/** The conversation pane for the open chat. */
export class Conversation {
  readonly #client: AppClient;
  readonly #host: ConversationHost;
  #chatId: string | undefined;
  #chat: ChatSummary | undefined;
  #invite: { chatId: string; link: string } | undefined;
  /** chatId → (member → timer that clears their "typing"). */
  readonly #typing = new Map<string, Map<string, ReturnType<typeof setTimeout>>>();
  #typingSent: { chatId: string; timer: ReturnType<typeof setTimeout> } | undefined;
  /** What each redrawn region currently shows (see #remount). */
  readonly #mounted = new Map<HTMLElement, string>();

  readonly #title = h('h2', { attrs: { id: 'chat-title' } });
  readonly #subtitle = h('p', { className: 'subtitle', attrs: { id: 'chat-subtitle' } });
  readonly #actions = h('div', { className: 'header-actions' });
  readonly #alerts = h('div', { className: 'alerts' });
  readonly #invitePlace = h('div', { className: 'invite-place' });
  readonly #messages = h('ol', {
    className: 'messages',
    attrs: { id: 'messages', tabindex: '0', 'aria-label': 'Messages', 'aria-live': 'off' },
  });
  readonly #list: VirtualList<TimelineRow>;
  readonly #toNewest = h('button', {
    text: '↓ Newest messages',
    className: 'to-newest',
    attrs: { type: 'button', id: 'to-newest' },
    hidden: true,
    on: { click: () => this.#list.scrollToEnd() },
  });
  readonly #typingLine = h('p', { className: 'typing', attrs: { id: 'typing' } });
  readonly #gone = h('p', { className: 'gone', attrs: { id: 'not-member', role: 'status' }, hidden: true });
  readonly #input = h('input', {
    attrs: {
      id: 'message-input',
      autocomplete: 'off',
      maxlength: '4000',
      'aria-label': 'Message',
      placeholder: 'Write a message',
    },
  });
  readonly #send = h('button', { text: 'Send', attrs: { type: 'submit', id: 'send' } });
  readonly #composer = h('form', { className: 'composer', attrs: { id: 'composer' } }, [
    this.#input,
    this.#send,
  ]);
  readonly #empty = h('div', { className: 'no-chat' }, [
    h('p', { text: 'Choose a chat, or start a new one.' }),
    h('p', {
      className: 'hint',
      text: 'Messages are end-to-end encrypted: the server only ever sees ciphertext.',
    }),
  ]);
  readonly #pane = h('div', { className: 'pane' }, [
    h('header', { className: 'conversation-header' }, [
      h('button', {
        text: '← Chats',
        className: 'back secondary',
        attrs: { type: 'button', id: 'back', 'aria-label': 'Back to the chat list' },
        on: { click: () => this.#host.back() },
      }),
      h('div', { className: 'titles' }, [this.#title, this.#subtitle]),
      this.#actions,
    ]),
    this.#alerts,
    this.#invitePlace,
    this.#messages,
    this.#toNewest,
    this.#typingLine,
    this.#gone,
    this.#composer,
  ]);
  readonly element = h('section', { className: 'conversation', attrs: { 'aria-labelledby': 'chat-title' } }, [
    this.#empty,
    this.#pane,
  ]);

  constructor(client: AppClient, host: ConversationHost) {
    this.#client = client;
    this.#host = host;
    this.#list = new VirtualList(this.#messages, {
      key: rowKey,
      version: (row) => rowVersion(this.#client, this.#chat, row),
      render: (row) => renderRow(this.#client, this.#chat, row),
      estimate: rowEstimate,
    });
    this.#list.onEndChange = (atEnd) => (this.#toNewest.hidden = atEnd);
    this.#composer.addEventListener('submit', (event) => this.#submit(event));
    this.#input.addEventListener('input', () => this.#typed());
    client.on('typing', ({ chatId, from, active }) => this.#theyType(chatId, from, active));
  }

  /** The open chat's id. */
  get chatId(): string | undefined {
    return this.#chatId;
  }

  /** The message list (tests and the app's focus handling use it). */
  get list(): VirtualList<TimelineRow> {
    return this.#list;
  }

  /** Opens `chatId` (or the empty state) and focuses the composer. */
  open(chatId: string | undefined): void {
    const changed = chatId !== this.#chatId;
    if (changed) this.#stopTyping();
    this.#chatId = chatId;
    if (this.#invite && this.#invite.chatId !== chatId) this.#invite = undefined;
    this.update({ reset: changed });
    if (chatId) this.#input.focus();
  }

  /** Shows an invite link (with copy button and QR code) in the chat it invites to. */
  showInvite(chatId: string, link: string): void {
    this.#invite = { chatId, link };
    this.open(chatId);
  }

  /** Draws the open chat again from the client's current state. */
  update({ reset = false }: { reset?: boolean } = {}): void {
    const chat = this.#chatId ? this.#client.chats().find((c) => c.chatId === this.#chatId) : undefined;
    this.#chat = chat;
    this.#empty.hidden = chat !== undefined;
    this.#pane.hidden = chat === undefined;
    if (!chat) {
      this.#chatId = undefined;
      return;
    }
    this.#title.replaceChildren(document.createTextNode(chatTitle(this.#client, chat)));
    const others = otherMembers(this.#client, chat);
    if (!isGroup(chat) && others.length === 1) {
      const mark = verifiedMark(this.#client, others[0]!.clientId);
      if (mark) this.#title.append(mark);
    }
    const member = chat.members.some((m) => m.clientId === this.#client.clientId);
    this.#subtitle.textContent = isGroup(chat)
      ? `${chat.members.length} member${chat.members.length === 1 ? '' : 's'}`
      : others.length === 1
        ? this.#client.contact(others[0]!.clientId)?.verified
          ? 'Verified contact'
          : 'Not verified yet'
        : '';
    const single = !isGroup(chat) && others.length === 1 ? others[0]!.clientId : '';
    this.#remount(this.#actions, `${chat.chatId}|${isGroup(chat)}|${single}`, () => this.#actionButtons());
    const changedKeys = others
      .filter((m) => this.#client.contact(m.clientId)?.keyChanged)
      .map((m) => m.clientId);
    this.#remount(this.#alerts, `${chat.chatId}|${changedKeys.join(',')}`, () => {
      const alert = keyChangeAlert(
        this.#client,
        chat,
        (id) => this.#host.verify(id, chat),
        () => this.#host.changed(),
      );
      return alert ? [alert] : [];
    });
    // A 1:1 invite is single-use: once someone joined, the link is spent and the panel goes.
    if (this.#invite?.chatId === chat.chatId && !isGroup(chat) && others.length > 0) this.#invite = undefined;
    const invite = this.#invite?.chatId === chat.chatId ? this.#invite : undefined;
    this.#remount(this.#invitePlace, invite?.link ?? '', () =>
      invite
        ? [
            invitePanel(invite.link, isGroup(chat), () => {
              this.#invite = undefined;
              this.update();
              this.#input.focus();
            }),
          ]
        : [],
    );
    this.#gone.hidden = member;
    this.#gone.textContent = member
      ? ''
      : 'You are no longer a member of this chat: you cannot send or receive in it.';
    this.#input.disabled = !member;
    this.#send.disabled = !member;
    this.#drawTyping();
    this.#list.setRows(timelineRows(this.#client.history(chat.chatId)), { reset });
  }

  /**
   * Replaces `place`'s children only when `key` changed: a redraw caused by an incoming message must not destroy
   * the button a keyboard user is on, nor the invite panel's "Copied".
   */
  #remount(place: HTMLElement, key: string, build: () => Node[]): void {
    if (this.#mounted.get(place) === key) return;
    this.#mounted.set(place, key);
    mount(place, ...build());
  }

  #actionButtons(): HTMLElement[] {
    const chat = this.#chat!;
    const others = otherMembers(this.#client, chat);
    const buttons: HTMLElement[] = [
      h('button', {
        text: isGroup(chat) ? 'Members' : 'Details',
        className: 'secondary',
        attrs: { type: 'button', id: 'members-button' },
        on: { click: () => this.#chat && this.#host.members(this.#chat) },
      }),
    ];
    if (!isGroup(chat) && others.length === 1)
      buttons.push(
        h('button', {
          text: 'Verify',
          className: 'secondary',
          attrs: { type: 'button', id: 'verify-button' },
          on: { click: () => this.#chat && this.#host.verify(others[0]!.clientId, this.#chat) },
        }),
      );
    return buttons;
  }

  /** A message from `from` arrived: they stopped typing. */
  received(chatId: string, from: string): void {
    this.#theyType(chatId, from, false);
  }

  #submit(event: SubmitEvent): void {
    event.preventDefault();
    const chatId = this.#chatId;
    const text = this.#input.value;
    if (!chatId || text.trim() === '') return;
    this.#input.value = '';
    this.#stopTyping();
    this.#list.scrollToEnd();
    this.#client.sendText(chatId, text).then(
      () => this.update(),
      (error: unknown) => {
        this.#input.value = text;
        this.#host.status(`Could not send: ${errorText(error)}`);
      },
    );
  }

  /** Sends "typing" once per burst; "stopped" after TYPING_IDLE_MS without a key. Best effort: never queued. */
  #typed(): void {
    const chatId = this.#chatId;
    if (!chatId) return;
    if (this.#typingSent?.chatId === chatId) clearTimeout(this.#typingSent.timer);
    else this.#setTyping(chatId, true);
    this.#typingSent = { chatId, timer: setTimeout(() => this.#stopTyping(), TYPING_IDLE_MS) };
  }

  #stopTyping(): void {
    const sent = this.#typingSent;
    if (!sent) return;
    clearTimeout(sent.timer);
    this.#typingSent = undefined;
    this.#setTyping(sent.chatId, false);
  }

  #setTyping(chatId: string, active: boolean): void {
    // Typing is a courtesy (QoS 0, dropped when offline): a failure must not disturb writing.
    this.#client.setTyping(chatId, active).catch(() => undefined);
  }

  #theyType(chatId: string, from: string, active: boolean): void {
    const members = this.#typing.get(chatId) ?? new Map<string, ReturnType<typeof setTimeout>>();
    this.#typing.set(chatId, members);
    const old = members.get(from);
    if (old !== undefined) clearTimeout(old);
    members.delete(from);
    if (active)
      members.set(
        from,
        setTimeout(() => this.#theyType(chatId, from, false), TYPING_SHOWN_MS),
      );
    if (chatId === this.#chatId) this.#drawTyping();
  }

  #drawTyping(): void {
    const who = [...(this.#typing.get(this.#chatId ?? '')?.keys() ?? [])].map((id) =>
      memberName(this.#client, this.#chat, id),
    );
    this.#typingLine.textContent =
      who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.join(', ')} are typing…`;
  }
}
