/**
 * Onboarding: the user picks a display name; the device is registered with the server and its keys are
 * generated as non-extractable WebCrypto keys kept in IndexedDB. Resolves once the device exists.
 */
import type { DeviceKeyVault } from '../src/client/device.ts';
import { registerDevice } from '../src/client/device.ts';
import type { ProfileStore } from '../src/client/api.ts';
import type { CryptoProvider } from '../src/core/crypto/provider.ts';
import { h, mount } from './dom.ts';
import { errorText } from './ui/format.ts';

/** Shows the onboarding form in `root` and resolves after the device was registered. */
export function onboard(
  root: HTMLElement,
  store: ProfileStore,
  vault: DeviceKeyVault,
  provider: CryptoProvider,
): Promise<void> {
  return new Promise((resolve) => {
    const input = h('input', {
      attrs: { id: 'display-name', name: 'name', required: '', maxlength: '100', autocomplete: 'nickname' },
    });
    const button = h('button', { text: 'Start chatting', attrs: { type: 'submit', id: 'onboard-submit' } });
    const status = h('p', { className: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
    const form = h(
      'form',
      {
        className: 'onboarding',
        attrs: { id: 'onboarding', 'aria-labelledby': 'welcome' },
        on: {
          submit: (event) => {
            event.preventDefault();
            const name = input.value.trim();
            if (name === '') return;
            button.disabled = true;
            status.textContent = 'Creating this device’s keys…';
            registerDevice({ server: location.origin, name, store, provider, vault }).then(
              () => resolve(),
              (error: unknown) => {
                button.disabled = false;
                status.textContent = `Could not register: ${errorText(error)}`;
              },
            );
          },
        },
      },
      [
        h('h1', { text: 'Welcome to Hush', attrs: { id: 'welcome' } }),
        h('p', {
          text: 'End-to-end encrypted chat. Your keys are created in this browser and never leave it.',
        }),
        h('label', { text: 'Display name', attrs: { for: 'display-name' } }),
        input,
        h('p', { className: 'hint', text: 'People you chat with see this name.' }),
        button,
        status,
      ],
    );
    mount(root, form);
    input.focus();
  });
}
