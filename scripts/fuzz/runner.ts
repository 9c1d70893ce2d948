/**
 * Drives fuzz connections against a running broker: `concurrency` connections at a time, each writing the
 * inputs of its plan (./plan.ts), until `count` inputs were written, `maxMs` passed or the broker process died.
 */
import net from 'node:net';
import { planConnection, type ConnectionPlan, type PlanContext } from './plan.ts';

export interface FuzzTarget {
  pid: number;
  mqttPort: number;
  wsPort?: number;
  accounts: PlanContext['accounts'];
}

export interface FuzzRunOptions {
  seed: number;
  /** Stop once this many inputs were written. */
  count: number;
  /** Stop after this long whatever the count. */
  maxMs: number;
  concurrency: number;
  mutationRate?: number;
  /** First connection index (so two runs with one seed can cover different connections). */
  firstIndex?: number;
  onProgress?: (figures: FuzzFigures) => void;
}

export interface FuzzFigures {
  seed: number;
  /** Inputs written to an open socket: MQTT packets (mutated or not), WebSocket frames, upgrade requests. */
  inputs: number;
  bytes: number;
  connections: number;
  tcpConnections: number;
  wsConnections: number;
  wsUpgradesAccepted: number;
  wsUpgradesRefused: number;
  /** Connections the broker closed before the fuzzer was done with them (refused input). */
  closedByBroker: number;
  /** TCP connects that failed (refused, reset): only expected if the broker is down or full. */
  connectFailures: number;
  durationMs: number;
  stoppedBy: 'count' | 'time' | 'broker-exit';
  /** Index of the last connection started: with the seed, every connection up to it can be regenerated. */
  lastIndex: number;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves on the socket's close or after `ms`, whichever comes first. */
function closedWithin(socket: net.Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Runs one connection's plan; updates `figures` as it goes. */
async function runConnection(plan: ConnectionPlan, target: FuzzTarget, figures: FuzzFigures): Promise<void> {
  const port = plan.transport === 'ws' ? (target.wsPort as number) : target.mqttPort;
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  const opened = await new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  if (!opened) {
    figures.connectFailures++;
    return;
  }
  let brokerDone = false;
  socket.once('end', () => (brokerDone = true));
  socket.once('close', () => (brokerDone = true));
  const write = (bytes: Buffer) => {
    figures.inputs++;
    figures.bytes += bytes.length;
    return socket.write(bytes);
  };

  if (plan.upgrade) {
    figures.wsConnections++;
    let answer = '';
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      const onData = (chunk: Buffer) => {
        answer += chunk.toString('latin1');
        if (answer.includes('\r\n\r\n')) {
          clearTimeout(timer);
          socket.off('data', onData);
          socket.resume();
          resolve(answer.startsWith('HTTP/1.1 101'));
        }
      };
      socket.on('data', onData);
      socket.once('close', () => resolve(false));
    });
    write(plan.upgrade.request);
    if (!(await answered)) {
      figures.wsUpgradesRefused++;
      socket.destroy();
      return;
    }
    figures.wsUpgradesAccepted++;
  } else {
    figures.tcpConnections++;
    socket.resume();
  }

  for (let i = 0; i < plan.inputs.length && !brokerDone; i++) {
    const input = plan.inputs[i] as Buffer;
    let flushed: boolean;
    if (plan.splitWrites && input.length > 1) {
      const cut = 1 + (i % (input.length - 1));
      socket.write(input.subarray(0, cut));
      await tick();
      if (brokerDone) break;
      flushed = write(input.subarray(cut));
      figures.bytes += cut;
    } else flushed = write(input);
    if (!flushed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
      // Still not drained: the broker stopped reading from us; that is its right, move on.
      if (socket.writableNeedDrain) break;
    }
    // After an input the broker will likely refuse, give it time to close the connection, so that inputs
    // are not counted that it never read (it stops reading at the first refused packet).
    if (plan.risky[i]) await new Promise((resolve) => setTimeout(resolve, 2));
    else if (i % 8 === 7) await tick();
  }
  if (brokerDone) figures.closedByBroker++;
  if (plan.ending === 'end') {
    socket.end();
    await closedWithin(socket, 1000);
  } else if (plan.ending === 'linger') await closedWithin(socket, 200);
  socket.destroy();
}

/** Runs the fuzzer against `target` and returns the figures (it does not judge them). */
export async function runFuzz(target: FuzzTarget, options: FuzzRunOptions): Promise<FuzzFigures> {
  const started = Date.now();
  const figures: FuzzFigures = {
    seed: options.seed,
    inputs: 0,
    bytes: 0,
    connections: 0,
    tcpConnections: 0,
    wsConnections: 0,
    wsUpgradesAccepted: 0,
    wsUpgradesRefused: 0,
    closedByBroker: 0,
    connectFailures: 0,
    durationMs: 0,
    stoppedBy: 'count',
    lastIndex: -1,
  };
  const ctx: PlanContext = {
    accounts: target.accounts,
    mutationRate: options.mutationRate ?? 0.12,
    ...(target.wsPort !== undefined ? { wsPort: target.wsPort } : {}),
  };
  let nextIndex = options.firstIndex ?? 0;
  let stop: FuzzFigures['stoppedBy'] | undefined;
  const shouldStop = (): boolean => {
    if (stop) return true;
    if (figures.inputs >= options.count) stop = 'count';
    else if (Date.now() - started >= options.maxMs) stop = 'time';
    else if (!isAlive(target.pid)) stop = 'broker-exit';
    return stop !== undefined;
  };
  const progress = options.onProgress
    ? setInterval(() => options.onProgress?.({ ...figures, durationMs: Date.now() - started }), 5000)
    : undefined;
  const worker = async () => {
    while (!shouldStop()) {
      const index = nextIndex++;
      figures.connections++;
      figures.lastIndex = Math.max(figures.lastIndex, index);
      await runConnection(planConnection(options.seed, index, ctx), target, figures);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    if (progress) clearInterval(progress);
  }
  figures.durationMs = Date.now() - started;
  figures.stoppedBy = stop ?? 'count';
  return figures;
}
