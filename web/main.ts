/**
 * The Hush web app's entry point (issue 6): opens this browser's profile (IndexedDB), onboards a new device if
 * there is none, then joins the profile's tabs (web/tabs): the one tab that holds the device opens the HushClient
 * and its one MQTT connection, every other tab of the app works through it, and closing that tab hands the device
 * to the next one. The UI gets the same AppClient either way. Device keys are non-extractable CryptoKeys in
 * IndexedDB; chats and history live there too and survive a reload.
 */
import './style.css';
import {
  cryptoKeyVault,
  IndexedDbStore,
  openProfileDatabase,
} from '../src/client/browser/indexeddb-store.ts';
import { DEVICE_RECORD } from '../src/client/device.ts';
import { HushClient } from '../src/client/hush-client.ts';
import { webCryptoProvider } from '../src/core/crypto/webcrypto.ts';
import { startApp, type AppHandle } from './app.ts';
import { takeInviteFragment } from './invite-fragment.ts';
import { onboard } from './onboarding.ts';
import { openHushTabs } from './tabs/hush-tabs.ts';
import { showBanner } from './ui/banner.ts';
import { errorText } from './ui/format.ts';
import { applyStoredTheme } from './ui/theme.ts';

const PROFILE = 'default';

applyStoredTheme();
const root = document.getElementById('app')!;
const banner = document.getElementById('banner')!;

/** Read before anything else, so the secret leaves the address bar at once. */
let pendingInvite = takeInviteFragment();
let running: AppHandle | undefined;

// An invite link opened in this tab once the app runs (a same-document navigation) joins right away.
window.addEventListener('hashchange', () => {
  const link = takeInviteFragment();
  if (link === undefined) return;
  if (running) running.join(link);
  else pendingInvite = link;
});

async function main(): Promise<void> {
  const db = await openProfileDatabase(PROFILE);
  const store = new IndexedDbStore(db);
  const vault = cryptoKeyVault(db);
  if ((await store.read(DEVICE_RECORD)) === undefined)
    await onboard(root, store, vault, webCryptoProvider, PROFILE);
  const shared = await openHushTabs({
    profile: PROFILE,
    // Runs only in the tab that holds the device: now, or later when the tab that held it closes.
    open: async () => {
      const client = await HushClient.open({ store, provider: webCryptoProvider, vault });
      client
        .connect()
        .catch((error: unknown) => showBanner(banner, 'error', `Cannot connect: ${errorText(error)}`));
      return client;
    },
  });
  shared.on('error', (error) => showBanner(banner, 'error', `Hush: ${errorText(error)}`));
  // This tab took the device over from a closed one: its own client is connecting now, not the old one's.
  shared.on('role', () => {
    const state = shared.view.connectionState;
    showBanner(banner, state === 'offline' ? 'connecting' : state);
  });
  running = startApp(shared.view, root, banner);
  const invite = pendingInvite;
  pendingInvite = undefined;
  if (invite !== undefined) running.join(invite);
}

main().catch((error: unknown) => showBanner(banner, 'error', `Hush could not start: ${errorText(error)}`));
