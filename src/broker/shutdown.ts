/**
 * Closing a broker's connections when it shuts down. The listeners record every MQTT connection they hand to a
 * broker: listeners/tcp.ts under its net.Server, listeners/ws.ts under the broker's connection handler (the
 * /mqtt endpoint may sit on a web server the broker does not own). The broker's close() tells each one the server is going away: a WebSocket close frame 1001 with a reason, and on TCP the
 * end of the stream (MQTT 3.1.1 has no DISCONNECT from the server; Mosquitto just closes the socket too). Each
 * gets a short grace to finish its close handshake; one that does not (a client that stopped reading, a frozen
 * laptop) is then destroyed, so no client can hold the shutdown open.
 */
import type { Duplex } from 'node:stream';

/** How long connections get to close by themselves before they are destroyed. */
export const SHUTDOWN_GRACE_MS = 2000;

/** The reason WebSocket clients read in the close frame. */
export const SHUTDOWN_REASON = 'server shutting down';

/** A stream with its own way of saying goodbye (the WebSocket stream sends a 1001 close frame). */
export interface GoesAway {
  goAway(reason: string): void;
}

const connections = new WeakMap<object, Set<Duplex>>();

/** The set a connection is in, on the stream itself: one shared 'close' listener, no closure per connection. */
const kOpenSet = Symbol('hush.openConnections');
type TrackedStream = Duplex & { [kOpenSet]?: Set<Duplex> };

function untrack(this: TrackedStream): void {
  this[kOpenSet]?.delete(this);
}

/** Records a connection accepted for `owner` (a listener's server or a broker's handler) until it closes. */
export function trackConnection(owner: object, stream: Duplex): void {
  let open = connections.get(owner);
  if (open === undefined) {
    open = new Set();
    connections.set(owner, open);
  }
  open.add(stream);
  (stream as TrackedStream)[kOpenSet] = open;
  stream.on('close', untrack);
}

/** How many connections the `owners` have open right now. */
export function openConnections(owners: readonly object[]): number {
  return owners.reduce((sum, owner) => sum + (connections.get(owner)?.size ?? 0), 0);
}

function goesAway(stream: Duplex): stream is Duplex & GoesAway {
  return typeof (stream as Partial<GoesAway>).goAway === 'function';
}

/**
 * Tells every open connection of the `owners` that the server is going away, waits up to `graceMs` for them
 * to close, then destroys the rest. Resolves with how many were told and how many had to be destroyed.
 */
export async function closeConnections(
  owners: readonly object[],
  reason = SHUTDOWN_REASON,
  graceMs = SHUTDOWN_GRACE_MS,
): Promise<{ told: number; destroyed: number }> {
  const open = owners.flatMap((owner) => [...(connections.get(owner) ?? [])]);
  const closed = open.map((stream) =>
    stream.closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          stream.once('close', () => resolve());
          // Ending flushes what the broker already wrote (a PUBACK, a delivery) before the FIN or close frame.
          if (goesAway(stream)) stream.goAway(reason);
          else stream.end();
        }),
  );
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([Promise.all(closed), graceOver]);
  clearTimeout(timer);
  let destroyed = 0;
  for (const stream of open) {
    if (stream.closed) continue;
    destroyed++;
    stream.destroy();
  }
  return { told: open.length, destroyed };
}
