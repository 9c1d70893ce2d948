/**
 * Holds a connection's writes until the event loop has handled everything that arrived in this turn, then
 * sends them in one system call per connection. Under load one incoming read produces PUBACKs for the
 * sender and deliveries for many receivers over several ticks; mqtt-packet corks only per tick, so without
 * this each packet became its own write (and over WebSocket its own frame) — most of the broker's CPU per
 * message in `hush bench` profiles. With one packet per turn (a quiet broker) nothing changes but a wait
 * until the end of the current turn.
 */
import type { Duplex } from 'node:stream';

const corked = new Set<Duplex>();
let scheduled = false;

function flush(): void {
  scheduled = false;
  for (const stream of corked) stream.uncork();
  corked.clear();
}

/** Makes `stream`'s writes wait for the end of the current event-loop turn (backpressure unchanged). */
export function coalesceWrites(stream: Duplex): void {
  const write = stream.write;
  stream.write = function (this: Duplex, ...args: Parameters<Duplex['write']>) {
    if (!corked.has(stream)) {
      stream.cork();
      corked.add(stream);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    }
    return write.apply(this, args);
  } as Duplex['write'];
}
