/**
 * A misbehaving TCP proxy for fault tests: listens on 127.0.0.1:0 and forwards bytes to a target port, and, with a
 * seeded PRNG (the same seed gives the same decisions for the same traffic), resets connections (RST), drops them
 * (FIN in the middle of a packet; the rest of the chunk is lost) and stalls a direction for a while (bytes held,
 * then delivered in order). Byte-level, so it carries MQTT over TCP and over WebSocket alike.
 *
 * Bounded: after `maxFaults` faults it forwards faithfully, so a test that waits for delivery always ends; calm()
 * does the same at once.
 */
import net from 'node:net';

export interface ChaosProxyOptions {
  targetPort: number;
  targetHost?: string;
  seed: number;
  /** Chance per forwarded chunk of resetting the connection (both sides get an RST). */
  resetChance?: number;
  /** Chance per forwarded chunk of closing both sides cleanly after forwarding part of the chunk. */
  dropChance?: number;
  /** Chance per forwarded chunk of holding that direction for up to `maxStallMs`. */
  stallChance?: number;
  maxStallMs?: number;
  /** Chance of resetting a new connection before any byte is forwarded. */
  refuseChance?: number;
  /** Faults in total, after which the proxy behaves. */
  maxFaults?: number;
}

export interface ChaosFigures {
  connections: number;
  resets: number;
  drops: number;
  stalls: number;
  refused: number;
  bytes: number;
}

export interface ChaosProxy {
  readonly port: number;
  readonly figures: ChaosFigures;
  /** Stops injecting faults (connections in progress carry on). */
  calm(): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Starts a chaos proxy in front of `targetPort`; resolves once it listens. */
export async function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const random = seededRandom(options.seed);
  const resetChance = options.resetChance ?? 0.01;
  const dropChance = options.dropChance ?? 0.01;
  const stallChance = options.stallChance ?? 0.02;
  const maxStallMs = options.maxStallMs ?? 1500;
  const refuseChance = options.refuseChance ?? 0.1;
  const maxFaults = options.maxFaults ?? 60;
  const figures: ChaosFigures = { connections: 0, resets: 0, drops: 0, stalls: 0, refused: 0, bytes: 0 };
  const sockets = new Set<net.Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let calm = false;
  const faultsLeft = () =>
    !calm && figures.resets + figures.drops + figures.stalls + figures.refused < maxFaults;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A reset or a peer gone mid-write is the point of this proxy, not a test failure.
    socket.on('error', () => undefined);
  };

  const server = net.createServer((client) => {
    figures.connections++;
    track(client);
    if (faultsLeft() && random() < refuseChance) {
      figures.refused++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(options.targetPort, options.targetHost ?? '127.0.0.1');
    track(upstream);
    const reset = () => {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk: Buffer) => {
        figures.bytes += chunk.length;
        if (faultsLeft()) {
          const roll = random();
          if (roll < resetChance) {
            figures.resets++;
            reset();
            return;
          }
          if (roll < resetChance + dropChance) {
            figures.drops++;
            // Part of the chunk gets through: the receiver sees a packet cut in the middle, then FIN.
            to.end(chunk.subarray(0, Math.floor(random() * chunk.length)));
            from.end();
            from.pause();
            return;
          }
          if (roll < resetChance + dropChance + stallChance) {
            figures.stalls++;
            from.pause();
            const timer = setTimeout(
              () => {
                timers.delete(timer);
                if (!to.destroyed) to.write(chunk);
                if (!from.destroyed) from.resume();
              },
              Math.floor(random() * maxStallMs),
            );
            timers.add(timer);
            return;
          }
        }
        if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('close', () => {
        if (!to.destroyed && from.errored) to.resetAndDestroy();
      });
    };
    // What the client sends before the upstream connects is buffered by the upstream socket.
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('chaos proxy: no port');
  return {
    port: address.port,
    figures,
    calm() {
      calm = true;
    },
    async close() {
      calm = true;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
