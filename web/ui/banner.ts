/** The connection banner: hidden while online, a clear sentence otherwise (offline composing still works). */
import type { ConnectionState } from '../../src/client/api.ts';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Connection lost — reconnecting… Messages you write are kept and sent when it is back.',
  offline: 'Offline — messages you write are kept and sent when the connection is back.',
  'auth-failed': 'The server refused this device (was it revoked?). Messages cannot be sent.',
  replaced: 'This device is open in another tab or window.',
};

/** Shows a connection state (or an error sentence) in the banner element. */
export function showBanner(banner: HTMLElement, state: ConnectionState | 'error', text?: string): void {
  banner.dataset.state = state;
  banner.textContent = text ?? (state === 'error' ? 'Error' : CONNECTION_TEXT[state]);
  banner.hidden = state === 'online';
}
