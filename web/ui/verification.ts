/**
 * Contact verification: the safety number with one contact (60 digits in 12 groups of 5, the same on both
 * devices) and a QR code of it, a "verified" toggle, and the loud warning (role=alert) shown when a contact's
 * keys changed — acknowledged explicitly, never dismissed silently.
 */
import type { ChatSummary, ContactInfo } from '../../src/client/api.ts';
import type { AppClient } from '../app-client.ts';
import { h, mount } from '../dom.ts';
import { openDialog } from './dialogs.ts';
import { errorText, safetyNumberGroups } from './format.ts';
import { qrCode } from './qr.ts';

function contactName(contact: ContactInfo | undefined, clientId: string, chat?: ChatSummary): string {
  return (
    contact?.displayName ??
    chat?.members.find((m) => m.clientId === clientId)?.displayName ??
    clientId.slice(0, 8)
  );
}

/** Opens the verification dialog for `clientId`; `changed` runs after the user changed its verified state. */
export function openVerification(
  client: AppClient,
  clientId: string,
  changed: () => void,
  chat?: ChatSummary,
): void {
  const body = h('div', { className: 'verification', attrs: { id: 'verification' } });
  const status = h('p', { className: 'status', attrs: { role: 'status', id: 'verify-status' } });
  const name = contactName(client.contact(clientId), clientId, chat);
  // A key change while the panel is open redraws it: the digits on screen are always the current ones.
  const onContact = (event: { clientId: string }) => {
    if (event.clientId === clientId) redraw(false);
  };
  openDialog('verify-dialog', `Verify ${name}`, [body, status], () => client.off('contact', onContact));
  client.on('contact', onContact);

  const draw = async () => {
    const contact = client.contact(clientId);
    const [digits, qrText] = await Promise.all([
      client.safetyNumber(clientId),
      client.safetyNumberQr(clientId),
    ]);
    const groups = safetyNumberGroups(digits);
    const toggle = h('button', {
      // A toggle keeps one name; aria-pressed (and the stylesheet's check mark) tell its state.
      text: 'Mark as verified',
      className: 'toggle',
      attrs: { type: 'button', id: 'mark-verified', 'aria-pressed': String(contact?.verified ?? false) },
      on: {
        click: () => {
          toggle.disabled = true;
          // The digits shown go along: if the keys changed meanwhile, the SDK refuses to verify keys nobody compared.
          client.markVerified(clientId, !(contact?.verified ?? false), { safetyNumber: digits }).then(
            () => {
              status.textContent = contact?.verified
                ? 'No longer marked as verified.'
                : `${name} is now verified.`;
              changed();
              redraw(true);
            },
            (error: unknown) => {
              toggle.disabled = false;
              status.textContent = `Could not change it: ${errorText(error)}`;
            },
          );
        },
      },
    });
    mount(
      body,
      ...[
        contact?.keyChanged
          ? keyChangedNotice(client, contact, name, () => {
              changed();
              redraw(false);
            })
          : undefined,
        h('p', {
          text: `Compare these numbers with ${name}, in person or over a call you trust. If they match on both devices, nobody is in between.`,
        }),
        h(
          'ol',
          {
            className: 'safety-number',
            attrs: { id: 'safety-number', 'aria-label': 'Safety number, 12 groups of 5 digits' },
          },
          groups.map((g) => h('li', { text: g })),
        ),
        h('figure', { className: 'qr-figure' }, [
          qrCode(qrText, `QR code of the safety number with ${name}`),
          h('figcaption', { text: 'Or scan each other’s code.' }),
        ]),
        h('p', { className: 'hint' }, [
          document.createTextNode('Their key fingerprint: '),
          h('code', { text: contact?.fingerprint ?? 'unknown', attrs: { id: 'fingerprint' } }),
        ]),
        toggle,
      ].filter((n): n is HTMLElement => n !== undefined),
    );
  };
  function redraw(focusToggle: boolean): void {
    draw().then(
      () => {
        if (focusToggle) body.querySelector<HTMLElement>('#mark-verified')?.focus();
      },
      (error: unknown) => (status.textContent = `Could not compute the safety number: ${errorText(error)}`),
    );
  }
  redraw(false);
}

function keyChangedNotice(
  client: AppClient,
  contact: ContactInfo,
  name: string,
  done: () => void,
): HTMLElement {
  const ack = h('button', {
    text: 'I understand',
    className: 'secondary',
    attrs: { type: 'button', 'data-ack': contact.clientId },
    on: {
      click: () => {
        ack.disabled = true;
        client.acknowledgeKeyChange(contact.clientId).then(done, (error: unknown) => {
          ack.disabled = false;
          ack.textContent = `Could not save that (${errorText(error)}) — try again`;
        });
      },
    },
  });
  return h('div', { className: 'alert', attrs: { role: 'alert' } }, [
    h('strong', { text: `${name}’s safety number changed.` }),
    h('p', {
      text:
        'Their device now uses different keys than before. This happens when they reinstall — or when someone ' +
        'is trying to impersonate them. Compare the new safety number before you trust their messages.',
    }),
    contact.previousFingerprint
      ? h('p', { className: 'hint', text: `Previous fingerprint: ${contact.previousFingerprint}` })
      : undefined,
    ack,
  ]);
}

/**
 * The conversation's key-change warning: one role=alert block per member of `chat` whose keys changed, with
 * "Compare safety numbers" and "I understand". Undefined when nobody's keys changed.
 */
export function keyChangeAlert(
  client: AppClient,
  chat: ChatSummary,
  compare: (clientId: string) => void,
  changed: () => void,
): HTMLElement | undefined {
  const changedMembers = chat.members
    .filter((m) => m.clientId !== client.clientId)
    .map((m) => client.contact(m.clientId))
    .filter((c): c is ContactInfo => c?.keyChanged === true);
  if (changedMembers.length === 0) return undefined;
  return h(
    'div',
    { className: 'alert key-change', attrs: { role: 'alert', id: 'key-change-alert' } },
    changedMembers.map((contact) => {
      const name = contactName(contact, contact.clientId, chat);
      return h('div', { className: 'alert-item' }, [
        h('strong', { text: `⚠ ${name}’s safety number changed.` }),
        h('span', {
          text: ' Their keys are not the ones you had. Compare safety numbers before you trust new messages.',
        }),
        h('div', { className: 'actions' }, [
          h('button', {
            text: 'Compare safety numbers',
            attrs: { type: 'button' },
            on: { click: () => compare(contact.clientId) },
          }),
          h('button', {
            text: 'I understand',
            className: 'secondary',
            attrs: { type: 'button', 'data-ack': contact.clientId },
            on: {
              click: (event) => {
                const button = event.currentTarget as HTMLButtonElement;
                button.disabled = true;
                client.acknowledgeKeyChange(contact.clientId).then(changed, (error: unknown) => {
                  button.disabled = false;
                  button.textContent = `Could not save that (${errorText(error)}) — try again`;
                });
              },
            },
          }),
        ]),
      ]);
    }),
  );
}
