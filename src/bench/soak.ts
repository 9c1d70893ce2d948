// The soak: many chat clients (pairs writing QoS 1 messages to each other's inbox at a modest steady rate)
// against one running broker for a while, its RSS read from /proc every second and the messages in flight
// (sent but not yet delivered: queued in the broker or in a socket) counted as often. After a warm-up, a
// leak shows as a memory slope and a growing queue as a backlog slope; at the end every message must have
// arrived exactly once, in order. Used by test/integration/soak.test.ts (CI form) and scripts/soak.ts.
import { fileURLToPath } from 'node:url';
import { rssBytes } from './proc.ts';
import { withTimeout, type Child, type ProcessSet } from './processes.ts';
import type { SoakClient, SoakReply, SoakRequest, SoakStats } from './soak-worker.ts';
import type { Account } from './worker-protocol.ts';

export interface SoakOptions {
  /** The broker process (for RSS) and its MQTT TCP port. */
  brokerPid: number;
  port: number;
  /** Accounts of the clients, paired in order (0 with 1, 2 with 3, …); an even number. */
  accounts: Account[];
  seconds: number;
  /** Seconds at the start left out of the slopes (JIT, heap growth, session stores filling). */
  warmupSeconds: number;
  perClientPerSecond: number;
  payloadBytes: number;
  /** Generator processes. */
  workers: number;
  processes: ProcessSet;
  progress?: (line: string) => void;
}

/** One reading per second. */
export interface SoakSample {
  t_s: number;
  rss_mib: number;
  /** Messages sent but not yet received. */
  in_flight: number;
}

/** What a soak measured; memory in MiB (1,048,576 bytes). */
export interface SoakResult {
  clients: number;
  seconds: number;
  warmup_s: number;
  offered_msgs_per_s: number;
  sent: number;
  acked: number;
  delivered: number;
  duplicates: number;
  /** Messages that skipped ahead of the next expected sequence number (lost or reordered). */
  gaps: number;
  /** sent − delivered once the senders stopped and the rest had time to arrive. */
  lost: number;
  /** Client connections that closed during the soak. */
  dropped_connections: number;
  rss_mib: { start: number; after_warmup: number; end: number; max: number };
  /** Least-squares slope of RSS over the samples after the warm-up, MiB per second. */
  rss_slope_mib_per_s: number;
  in_flight: { max_after_warmup: number; mean_after_warmup: number; slope_per_s: number };
  samples: SoakSample[];
}

const WORKER_FILE = fileURLToPath(new URL('./soak-worker.ts', import.meta.url));
const REQUEST_TIMEOUT_MS = 120_000;
const DRAIN_MS = 15_000;

/** Least-squares slope of y over x (0 with fewer than two distinct x). */
export function leastSquaresSlope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A soak generator process answering one request at a time. */
class SoakWorker {
  private readonly waiting: Array<(reply: SoakReply) => void> = [];

  private constructor(private readonly child: Child) {
    child.process.on('message', (reply: SoakReply | { type: 'hello' }) => {
      if (reply.type !== 'hello') this.waiting.shift()?.(reply);
    });
  }

  static async start(processes: ProcessSet): Promise<SoakWorker> {
    const tsx = import.meta.resolve('tsx');
    const child = processes.spawn(process.execPath, ['--import', tsx, WORKER_FILE], {}, true);
    const hello = new Promise<void>((resolve, reject) => {
      child.process.once('message', () => resolve());
      void child.exited.then(() => reject(new Error(`soak generator exited:\n${child.output()}`)));
    });
    await withTimeout(hello, 30_000, 'soak generator did not start');
    return new SoakWorker(child);
  }

  async ask(request: SoakRequest): Promise<SoakReply> {
    const reply = new Promise<SoakReply>((resolve) => {
      this.waiting.push(resolve);
      this.child.process.send(request);
    });
    const answer = await withTimeout(
      reply,
      REQUEST_TIMEOUT_MS,
      `soak generator did not answer ${request.type}`,
    );
    if (answer.type === 'error') throw new Error(`soak generator: ${answer.message}`);
    return answer;
  }
}

async function totals(workers: SoakWorker[]): Promise<SoakStats> {
  const replies = (await Promise.all(workers.map((w) => w.ask({ type: 'stats' })))) as SoakStats[];
  const sum: SoakStats = { connected: 0, sent: 0, acked: 0, received: 0, duplicates: 0, gaps: 0, dropped: 0 };
  for (const r of replies) for (const key of Object.keys(sum) as Array<keyof SoakStats>) sum[key] += r[key];
  return sum;
}

/** Runs the soak against a broker that is already running; the caller stops the broker. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { accounts, workers: workerCount } = options;
  if (accounts.length % 2 !== 0) throw new Error('the soak needs an even number of clients (pairs)');
  const progress = options.progress ?? (() => undefined);
  // Each pair sits in one worker, so a message crosses the broker between two sockets of one process.
  const clients: SoakClient[] = accounts.map((account, i) => ({
    account,
    partner: (accounts[i ^ 1] as Account).username,
    index: i + 1,
  }));
  const shares: SoakClient[][] = Array.from({ length: workerCount }, () => []);
  for (let pair = 0; pair < clients.length / 2; pair++) {
    shares[pair % workerCount]?.push(clients[2 * pair] as SoakClient, clients[2 * pair + 1] as SoakClient);
  }
  const workers = await Promise.all(shares.map(() => SoakWorker.start(options.processes)));
  const startRss = rssBytes(options.brokerPid);
  progress(`soak: connecting ${clients.length} clients`);
  await Promise.all(
    workers.map((w, i) =>
      w.ask({
        type: 'start',
        port: options.port,
        clients: shares[i] as SoakClient[],
        perClientPerSecond: options.perClientPerSecond,
        payloadBytes: options.payloadBytes,
      }),
    ),
  );
  progress(`soak: ${clients.length} clients chatting for ${options.seconds} s`);
  const samples: SoakSample[] = [];
  const began = performance.now();
  for (let second = 1; second <= options.seconds; second++) {
    await sleep(began + second * 1000 - performance.now());
    const t = await totals(workers);
    samples.push({
      t_s: Math.round((performance.now() - began) / 100) / 10,
      rss_mib: mib(rssBytes(options.brokerPid)),
      in_flight: t.sent - t.received,
    });
    if (second % 10 === 0) {
      const s = samples.at(-1) as SoakSample;
      progress(
        `  ${second} s: broker RSS ${s.rss_mib} MiB, ${t.received} delivered, ${s.in_flight} in flight`,
      );
    }
  }
  await Promise.all(workers.map((w) => w.ask({ type: 'quiet' })));
  // Senders stopped: wait for what is still queued, until every message arrived or nothing moves for a while.
  let final = await totals(workers);
  const deadline = Date.now() + DRAIN_MS;
  while (final.received < final.sent && Date.now() < deadline) {
    await sleep(200);
    final = await totals(workers);
  }
  await Promise.all(workers.map((w) => w.ask({ type: 'close' })));

  const steady = samples.filter((s) => s.t_s > options.warmupSeconds);
  const afterWarmup = steady[0] ?? (samples.at(-1) as SoakSample);
  const inFlight = steady.map((s) => s.in_flight);
  return {
    clients: clients.length,
    seconds: options.seconds,
    warmup_s: options.warmupSeconds,
    offered_msgs_per_s: options.perClientPerSecond * clients.length,
    sent: final.sent,
    acked: final.acked,
    delivered: final.received,
    duplicates: final.duplicates,
    gaps: final.gaps,
    lost: final.sent - final.received,
    dropped_connections: final.dropped,
    rss_mib: {
      start: mib(startRss),
      after_warmup: afterWarmup.rss_mib,
      end: (samples.at(-1) as SoakSample).rss_mib,
      max: Math.max(...samples.map((s) => s.rss_mib)),
    },
    rss_slope_mib_per_s: round3(leastSquaresSlope(steady.map((s) => [s.t_s, s.rss_mib]))),
    in_flight: {
      max_after_warmup: Math.max(0, ...inFlight),
      mean_after_warmup: Math.round(inFlight.reduce((a, b) => a + b, 0) / Math.max(1, inFlight.length)),
      slope_per_s: round3(leastSquaresSlope(steady.map((s) => [s.t_s, s.in_flight]))),
    },
    samples,
  };
}
