/**
 * The member panel of a chat: everyone in the current epoch with admin and verified marks, "Verify" for each
 * other member, and for admins "Add member" (a new one-time invite link) and "Remove" (after a confirmation: the
 * next epoch's key never reaches the removed member). Everyone can leave the chat.
 */
import type { ChatSummary } from '../../src/client/api.ts';
import type { AppClient } from '../app-client.ts';
import { h, mount } from '../dom.ts';
import { confirmAction, openDialog } from './dialogs.ts';
import { errorText } from './format.ts';
import { chatTitle, verifiedMark } from './names.ts';

export interface MemberActions {
  verify(clientId: string): void;
  invite(chatId: string): void;
  left(chatId: string): void;
}

/** Opens the member panel of `chat`. */
export function openMembers(client: AppClient, chat: ChatSummary, actions: MemberActions): void {
  const list = h('ul', { className: 'member-list', attrs: { id: 'member-list', 'aria-label': 'Members' } });
  const status = h('p', { className: 'status', attrs: { role: 'status', id: 'members-status' } });
  const admin = chat.me?.admin ?? false;
  const addButton = admin
    ? h('button', {
        text: 'Add member (invite link)',
        attrs: { type: 'button', id: 'add-member' },
        on: {
          click: () => {
            close();
            actions.invite(chat.chatId);
          },
        },
      })
    : undefined;
  const leaveButton = h('button', {
    text: 'Leave chat',
    className: 'danger',
    attrs: { type: 'button', id: 'leave-chat' },
    on: {
      click: () => {
        void confirmAction(
          `Leave “${chatTitle(client, chat)}”?`,
          'Leave',
          'You will not receive its messages any more; the history stays on this device.',
        ).then((yes) => {
          if (!yes) return;
          client.leaveChat(chat.chatId).then(
            () => {
              close();
              actions.left(chat.chatId);
            },
            (error: unknown) => (status.textContent = `Could not leave: ${errorText(error)}`),
          );
        });
      },
    },
  });
  // While open, the panel follows changes: members joining or leaving, contacts being verified.
  const redraw = () => draw();
  const { close } = openDialog(
    'members-dialog',
    `Members of ${chatTitle(client, chat)}`,
    [list, status, h('div', { className: 'actions' }, [addButton, leaveButton])],
    () => {
      client.off('chat', redraw);
      client.off('contact', redraw);
    },
  );
  client.on('chat', redraw);
  client.on('contact', redraw);

  function draw(): void {
    const current = client.chats().find((c) => c.chatId === chat.chatId) ?? chat;
    const items = current.members.map((m) => {
      const me = m.clientId === client.clientId;
      const name = m.displayName ?? m.clientId.slice(0, 8);
      const buttons: HTMLElement[] = [];
      if (!me) {
        buttons.push(
          h('button', {
            text: 'Verify',
            className: 'secondary',
            attrs: { type: 'button', 'data-verify': m.clientId, 'aria-label': `Verify ${name}` },
            on: { click: () => actions.verify(m.clientId) },
          }),
        );
        if (admin)
          buttons.push(
            h('button', {
              text: 'Remove',
              className: 'danger',
              attrs: { type: 'button', 'data-remove': m.clientId, 'aria-label': `Remove ${name}` },
              on: {
                click: () => {
                  void confirmAction(
                    `Remove ${name} from the chat?`,
                    'Remove',
                    `${name} will get no new messages: the chat moves to a new key ${name} never receives.`,
                  ).then((yes) => {
                    if (!yes) return;
                    client.removeMember(chat.chatId, m.clientId).then(
                      () => {
                        status.textContent = `${name} was removed.`;
                        draw();
                      },
                      (error: unknown) => (status.textContent = `Could not remove: ${errorText(error)}`),
                    );
                  });
                },
              },
            }),
          );
      }
      return h('li', { attrs: { 'data-member': m.clientId } }, [
        h('span', { className: 'member-name' }, [
          document.createTextNode(me ? `${name} (you)` : name),
          verifiedMark(client, m.clientId),
          m.isAdmin ? h('span', { className: 'badge admin', text: 'admin' }) : undefined,
        ]),
        h('span', { className: 'member-actions' }, buttons),
      ]);
    });
    mount(list, ...items);
  }
  draw();
}
