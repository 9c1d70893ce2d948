/**
 * Optional browser notifications for new messages: off until the user turns them on (which asks the browser's
 * permission), shown only while the tab is hidden, and with "hide content" chosen they carry neither the sender
 * nor the text — only that something arrived. The choice is kept in localStorage (it is not a secret).
 */
import { h } from '../dom.ts';

const KEY = 'hush-notifications';
const PRIVATE_KEY = 'hush-notifications-private';

function supported(): boolean {
  return typeof Notification !== 'undefined';
}

/** Notification settings and the notify() call the app makes for each new message. */
export class Notifier {
  #on = localStorage.getItem(KEY) === 'on';
  #private = localStorage.getItem(PRIVATE_KEY) === 'true';

  #set(on: boolean, hide: boolean): void {
    this.#on = on;
    this.#private = hide;
    localStorage.setItem(KEY, on ? 'on' : 'off');
    localStorage.setItem(PRIVATE_KEY, String(hide));
  }

  /** Tells about a new message if notifications are on and the tab is hidden. */
  notify(sender: string, text: string, chatId: string, open: () => void): void {
    if (!this.#on || !supported() || Notification.permission !== 'granted') return;
    if (document.visibilityState !== 'hidden') return;
    const hide = this.#private;
    const notification = new Notification(hide ? 'Hush' : sender, {
      body: hide ? 'New message' : text,
      // One notification per chat: a burst of messages replaces, not stacks.
      tag: hide ? 'hush' : `hush-${chatId}`,
    });
    notification.addEventListener('click', () => {
      window.focus();
      open();
      notification.close();
    });
  }

  /** The settings controls: a button to turn notifications on/off and a "hide content" checkbox. */
  controls(): HTMLElement {
    const status = h('p', { className: 'hint', attrs: { role: 'status', id: 'notify-status' } });
    const toggle = h('button', { className: 'secondary', attrs: { type: 'button', id: 'notify-toggle' } });
    const hide = h('input', { attrs: { type: 'checkbox', id: 'notify-private' } });
    const refresh = () => {
      toggle.textContent = this.#on ? 'Turn notifications off' : 'Turn notifications on';
      toggle.setAttribute('aria-pressed', String(this.#on));
      hide.checked = this.#private;
      if (!supported()) {
        toggle.disabled = true;
        status.textContent = 'This browser has no notifications.';
      }
    };
    toggle.addEventListener('click', () => {
      if (this.#on) {
        this.#set(false, hide.checked);
        refresh();
        return;
      }
      Notification.requestPermission().then(
        (permission) => {
          if (permission === 'granted') this.#set(true, hide.checked);
          else status.textContent = 'The browser did not allow notifications.';
          refresh();
        },
        () => (status.textContent = 'The browser did not allow notifications.'),
      );
    });
    hide.addEventListener('change', () => this.#set(this.#on, hide.checked));
    refresh();
    return h('div', { className: 'field' }, [
      toggle,
      h('label', { className: 'check', attrs: { for: 'notify-private' } }, [
        hide,
        document.createTextNode(' Hide sender and text in notifications'),
      ]),
      status,
    ]);
  }
}
