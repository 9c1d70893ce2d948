/**
 * The invite panel: a one-time invite link (a bearer secret until used) with a copy button and a QR code to scan
 * with another device's camera. Shown in the conversation it invites to, until the user closes it.
 */
import { h } from '../dom.ts';
import { qrCode } from './qr.ts';

/** The panel for `link`; `done` is called when the user closes it. */
export function invitePanel(link: string, group: boolean, done: () => void): HTMLElement {
  const field = h('input', {
    attrs: { id: 'invite-link', readonly: '', 'aria-label': 'Invite link', spellcheck: 'false' },
  });
  field.value = link;
  const copied = h('span', { className: 'copied', attrs: { role: 'status', id: 'invite-copied' } });
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
  return h('section', { className: 'invite', attrs: { id: 'invite-panel', 'aria-label': 'Invite link' } }, [
    h('p', {
      text: group
        ? 'Send this one-time link to the person you want to add (one link per person):'
        : 'Send this one-time link to the person you want to chat with:',
    }),
    h('div', { className: 'invite-row' }, [field, copy, copied]),
    h('figure', { className: 'qr-figure' }, [
      qrCode(link, 'QR code of the invite link'),
      h('figcaption', { text: 'Or let them scan this code.' }),
    ]),
    h('p', {
      className: 'hint',
      text: 'Anyone who gets this link can join once: send it only to them, over a channel you trust.',
    }),
    h('button', {
      text: 'Done',
      className: 'secondary',
      attrs: { type: 'button', id: 'invite-done' },
      on: { click: done },
    }),
  ]);
}
