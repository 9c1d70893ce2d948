/**
 * Onboarding: the user picks a display name; the device is registered with the server and its keys are
 * generated as non-extractable WebCrypto keys kept in IndexedDB. Resolves once the device exists.
 *
 * Several tabs may show this screen at once. Registering happens under the profile's device lock (the one the
 * tab holding the device keeps, web/tabs), and the lock holder looks for the device record again first, so two
 * tabs never register two devices (the second would overwrite the first's keys). A tab still on this screen
 * continues as soon as another tab of the profile has the device open.
 */
import type { DeviceKeyVault } from '../src/client/device.ts';
import { DEVICE_RECORD, registerDevice } from '../src/client/device.ts';
import type { ProfileStore } from '../src/client/api.ts';
import type { CryptoProvider } from '../src/core/crypto/provider.ts';
import { h, mount } from './dom.ts';
import { deviceLockName, onLeaderAnnounced } from './tabs/shared-client.ts';
import { errorText } from './ui/format.ts';

/** Shows the onboarding form in `root` and resolves once this profile has a device (registered here or not). */
export function onboard(
  root: HTMLElement,
  store: ProfileStore,
  vault: DeviceKeyVault,
  provider: CryptoProvider,
  profile: string,
): Promise<void> {
  return new Promise((resolve) => {
    /** Aborts this tab's place in the lock queue once another tab made the device. */
    const abort = new AbortController();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      stopWatching();
      abort.abort();
      resolve();
    };
    // Another tab leads only once its device exists: then this one simply joins it.
    const stopWatching = onLeaderAnnounced(profile, () => {
      store.read(DEVICE_RECORD).then(
        (record) => record !== undefined && finish(),
        () => undefined,
      );
    });
    const input = h('input', {
      attrs: { id: 'display-name', name: 'name', required: '', maxlength: '100', autocomplete: 'nickname' },
    });
    const button = h('button', { text: 'Start chatting', attrs: { type: 'submit', id: 'onboard-submit' } });
    const status = h('p', { className: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
    const register = async (name: string): Promise<void> => {
      // Waits while another tab registers; that tab's device is then found here and nothing is registered.
      await navigator.locks.request(deviceLockName(profile), { signal: abort.signal }, async () => {
        if ((await store.read(DEVICE_RECORD)) !== undefined) return;
        status.textContent = 'Creating this device’s keys…';
        await registerDevice({ server: location.origin, name, store, provider, vault });
      });
    };
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
            register(name).then(finish, (error: unknown) => {
              if (done) return;
              button.disabled = false;
              status.textContent = `Could not register: ${errorText(error)}`;
            });
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
