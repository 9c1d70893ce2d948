/**
 * The Hush web app's entry point (issue 6): opens this browser's profile (IndexedDB), onboards a new device if
 * there is none, then opens the one HushClient of this page, connects it and hands it to the UI (app.ts). Device
 * keys are non-extractable CryptoKeys in IndexedDB; chats and history live there too and survive a reload.
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
import { showBanner } from './ui/banner.ts';
import { errorText } from './ui/format.ts';
import { applyStoredTheme } from './ui/theme.ts';

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
  const db = await openProfileDatabase('default');
  const store = new IndexedDbStore(db);
  const vault = cryptoKeyVault(db);
  if ((await store.read(DEVICE_RECORD)) === undefined) await onboard(root, store, vault, webCryptoProvider);
  const client = await HushClient.open({ store, provider: webCryptoProvider, vault });
  running = startApp(client, root, banner);
  client
    .connect()
    .catch((error: unknown) => showBanner(banner, 'error', `Cannot connect: ${errorText(error)}`));
  const invite = pendingInvite;
  pendingInvite = undefined;
  if (invite !== undefined) running.join(invite);
}

main().catch((error: unknown) => showBanner(banner, 'error', `Hush could not start: ${errorText(error)}`));
