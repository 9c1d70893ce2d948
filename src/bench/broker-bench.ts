// Broker benchmark of `hush bench`: Hush's broker and Mosquitto side by side, same load generator, same run,
// taking turns. The headline figure is broker CPU time per delivered message, read from /proc: it does not
// depend on whether the generator or the broker was the bottleneck, which throughput alone does.
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Transport } from './lean-mqtt.ts';
import { CpuMeter, rssBytes } from './proc.ts';
import { ProcessSet, WorkerPool } from './processes.ts';
import { UserError } from '../cli/shared/errors.ts';
import {
  MOSQUITTO_BIN,
  mosquittoVersion,
  startHushBroker,
  startMosquitto,
  writePolicyFiles,
  type BenchBroker,
} from './brokers.ts';
import type {
  BenchReport,
  BrokerBenchResult,
  BrokerName,
  BrokerWorkloadFigures,
  BrokerWorkloadResult,
  ConnectStormFigures,
  MemoryFigures,
} from './types.ts';
import type { Account, WorkerRequest } from './worker-protocol.ts';

/** How much load each part of the broker benchmark applies. */
export interface BrokerBenchParams {
  workers: number;
  /** 1:1 chat pairs (one sender, one receiver each). */
  pairs: number;
  /** Unacknowledged QoS 1 publishes per 1:1 sender. */
  window: number;
  fanoutInboxes: number;
  fanoutWindow: number;
  payloadBytes: number;
  warmupMs: number;
  saturateMs: number;
  rateMs: number;
  /** Fixed offered load for the latency figures, messages per second in total. */
  offeredPerSecond: number;
  /** Turns per broker per message workload, alternating which broker goes first. */
  rounds: number;
  idleConnections: number;
  /**
   * Longest wait, after the first and the last memory step, for the RSS to settle (0: read 1 s after each step). Node
   * returns the memory of a connect burst only after some idle seconds (V8's memory reducer, 20–40 s here).
   */
  memorySettleMs: number;
  stormConnections: number;
  /** Connections each generator opens at once. */
  concurrency: number;
}

export type BenchMode = 'full' | 'quick' | 'smoke';

/** Parameters of each mode: full as the issue asks, quick in about two minutes, smoke for the test suite. */
export const BROKER_PARAMS: Record<BenchMode, BrokerBenchParams> = {
  full: {
    workers: 3,
    pairs: 50,
    window: 10,
    fanoutInboxes: 50,
    fanoutWindow: 100,
    payloadBytes: 200,
    warmupMs: 1000,
    saturateMs: 6000,
    rateMs: 4000,
    // The fixed load of the issue 13 finding (p99 8.3x Mosquitto's over TCP at 3,000 msg/s).
    offeredPerSecond: 3000,
    // Three, so the median drops one disturbed round; single rounds move by ±15% on a shared machine.
    rounds: 3,
    idleConnections: 10_000,
    memorySettleMs: 60_000,
    stormConnections: 5000,
    concurrency: 100,
  },
  quick: {
    workers: 3,
    pairs: 30,
    window: 10,
    fanoutInboxes: 50,
    fanoutWindow: 100,
    payloadBytes: 200,
    warmupMs: 300,
    saturateMs: 1500,
    rateMs: 2000,
    offeredPerSecond: 2000,
    rounds: 1,
    idleConnections: 1000,
    // V8 returns a connect burst's garbage 30–45 s after the last collection (memory reducer watchdog).
    memorySettleMs: 45_000,
    stormConnections: 1000,
    concurrency: 100,
  },
  smoke: {
    workers: 2,
    pairs: 4,
    window: 5,
    fanoutInboxes: 50,
    fanoutWindow: 50,
    payloadBytes: 200,
    warmupMs: 100,
    saturateMs: 400,
    rateMs: 300,
    offeredPerSecond: 500,
    rounds: 1,
    idleConnections: 200,
    memorySettleMs: 1500,
    stormConnections: 60,
    concurrency: 20,
  },
};

/** Broker CPU below this share of one core means it was not the bottleneck. */
const SATURATED_PCT = 85;
const STEP_TIMEOUT_MS = 120_000;
const PASSWORD = 'bench-password-1';

type Workload = 'tcp' | 'ws' | 'fanout';

/** A 22-character id like Hush's random client ids, so topics have their real length. */
function accountName(prefix: string, index: number): string {
  return prefix + String(index).padStart(22 - prefix.length, '0');
}

function accounts(prefix: string, count: number): Account[] {
  return Array.from({ length: count }, (_, i) => ({ username: accountName(prefix, i), password: PASSWORD }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * RSS of an idle process once it has settled: polled every 500 ms until it is at least 10% below the first
 * reading (a garbage collector gave the burst's memory back; V8 does it in one large step 20–40 s after the
 * burst, sometimes after a small early one) and has held still for 3 s, or until `maxMs`. A process without
 * a collector (Mosquitto) never drops and is read at `maxMs`; both brokers get the same rule.
 */
async function settledRss(pid: number, first: number, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = first;
  let stillSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(500);
    const now = rssBytes(pid);
    if (now !== last) {
      last = now;
      stillSince = Date.now();
    } else if (last <= first * 0.9 && Date.now() - stillSince >= 3000) {
      break;
    }
  }
  return last;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Splits `items` over `n` buckets round-robin. */
function spread<T>(items: T[], n: number): T[][] {
  const buckets: T[][] = Array.from({ length: n }, () => []);
  items.forEach((item, i) => buckets[i % n]?.push(item));
  return buckets;
}

/** The measurements, one broker at a time, driven through the load-generator pool. */
export class BrokerBench {
  private readonly pairSenders: Account[];
  private readonly pairReceivers: Account[];
  private readonly fanSender: Account;
  private readonly fanInboxes: Account[];
  private readonly idle: Account[];
  /** Phases in which fewer messages arrived than were sent, for the current broker and workload. */
  lost: Array<{ sent: number; received: number }> = [];

  constructor(
    private readonly p: BrokerBenchParams,
    private readonly pool: WorkerPool,
  ) {
    this.pairSenders = accounts('bs', p.pairs);
    this.pairReceivers = accounts('br', p.pairs);
    this.fanSender = accounts('bf', 1)[0] as Account;
    this.fanInboxes = accounts('bg', p.fanoutInboxes);
    this.idle = accounts('bi', Math.max(p.idleConnections, p.stormConnections));
  }

  allAccounts(): Account[] {
    return [...this.pairSenders, ...this.pairReceivers, this.fanSender, ...this.fanInboxes, ...this.idle];
  }

  private setupRequests(workload: Workload, broker: BenchBroker): WorkerRequest[] {
    const n = this.pool.size;
    const transport: Transport = workload === 'ws' ? 'ws' : 'tcp';
    const port = transport === 'ws' ? broker.wsPort : broker.tcpPort;
    const base = { type: 'setup' as const, transport, port, payloadBytes: this.p.payloadBytes };
    if (workload === 'fanout') {
      // The sender and the inboxes sit in different processes, as group members do.
      const inboxes = spread(this.fanInboxes, n);
      const targets = this.fanInboxes.map((a) => a.username);
      return inboxes.map((receivers, i) => ({
        ...base,
        window: this.p.fanoutWindow,
        receivers,
        senders: i === 0 ? [{ account: this.fanSender, targets }] : [],
      }));
    }
    const pairs = spread(
      this.pairSenders.map((s, i) => [s, this.pairReceivers[i] as Account] as const),
      n,
    );
    return pairs.map((list) => ({
      ...base,
      window: this.p.window,
      receivers: list.map(([, r]) => r),
      senders: list.map(([s, r]) => ({ account: s, targets: [r.username] })),
    }));
  }

  /**
   * Waits until the receivers counted every message sent, or until no more arrive for 3 s: a broker may drop
   * messages (Mosquitto drops QoS 1 messages beyond max_queued_messages), which is recorded, not fatal.
   */
  private async delivered(
    sent: number,
    before: number,
  ): Promise<{ received: number; latencies: number[]; settledAt: number }> {
    let last = -1;
    let lastChange = Date.now();
    let settledAt = performance.now();
    for (;;) {
      const counts = await this.pool.askAll({ type: 'count' }, 'done', STEP_TIMEOUT_MS);
      const received = counts.reduce((n, c) => n + c.received, 0) - before;
      if (received !== last) {
        last = received;
        lastChange = Date.now();
        settledAt = performance.now();
      }
      if (received >= sent || Date.now() - lastChange > 3000) {
        if (received < sent) this.lost.push({ sent, received });
        return { received, latencies: counts.flatMap((c) => c.latenciesMs), settledAt };
      }
      await sleep(10);
    }
  }

  /** Messages the generators have received so far (a running total; a phase is the difference of two). */
  private async receivedSoFar(): Promise<number> {
    const counts = await this.pool.askAll({ type: 'count' }, 'done', STEP_TIMEOUT_MS);
    return counts.reduce((n, c) => n + c.received, 0);
  }

  /** One broker, one message workload: CPU per message at saturation, then latency at a fixed load. */
  async messages(workload: Workload, broker: BenchBroker): Promise<BrokerWorkloadFigures> {
    await this.pool.askAll(this.setupRequests(workload, broker), 'ready', STEP_TIMEOUT_MS);
    try {
      // Warm-up: JIT compilation and buffer pools settle before anything is measured.
      const beforeWarm = await this.receivedSoFar();
      const warm = await this.pool.askAll(
        { type: 'saturate', durationMs: this.p.warmupMs },
        'done',
        STEP_TIMEOUT_MS,
      );
      await this.delivered(
        warm.reduce((n, r) => n + r.sent, 0),
        beforeWarm,
      );

      const beforeRun = await this.receivedSoFar();
      const meter = new CpuMeter([broker.pid, ...this.pool.pids]);
      const runs = await this.pool.askAll(
        { type: 'saturate', durationMs: this.p.saturateMs },
        'done',
        STEP_TIMEOUT_MS,
      );
      const sent = runs.reduce((n, r) => n + r.sent, 0);
      const { received, settledAt } = await this.delivered(sent, beforeRun);
      const [brokerCpu = 0, ...generatorCpu] = meter.used();
      // Up to the last delivery: time spent waiting for messages a broker dropped is not throughput.
      const elapsed = meter.elapsed(settledAt);

      const senders = workload === 'fanout' ? 1 : this.pool.size;
      const beforeRate = await this.receivedSoFar();
      const rateRuns = await this.pool.askAll(
        this.pool.pids.map((_, i) => ({
          type: 'rate' as const,
          perSecond: i < senders ? this.p.offeredPerSecond / senders : 0,
          durationMs: this.p.rateMs,
        })),
        'done',
        STEP_TIMEOUT_MS,
      );
      const { latencies } = await this.delivered(
        rateRuns.reduce((n, r) => n + r.sent, 0),
        beforeRate,
      );
      latencies.sort((a, b) => a - b);

      const brokerPct = (brokerCpu / elapsed) * 100;
      const generatorPct = (generatorCpu.reduce((a, b) => a + b, 0) / generatorCpu.length / elapsed) * 100;
      return {
        cpu_us_per_msg: round2(brokerCpu / received),
        saturation_msgs_per_s: Math.round(received / (elapsed / 1e6)),
        latency_p50_ms: round2(percentile(latencies, 50)),
        latency_p99_ms: round2(percentile(latencies, 99)),
        offered_msgs_per_s: this.p.offeredPerSecond,
        delivered: received,
        broker_cpu_pct: round1(brokerPct),
        generator_cpu_pct: round1(generatorPct),
        generator_saturated: brokerPct < SATURATED_PCT,
      };
    } finally {
      await this.pool.askAll({ type: 'teardown' }, 'closed', STEP_TIMEOUT_MS);
    }
  }

  /** Opens `accounts` concurrently from every generator; returns accepted count and the wall time taken. */
  private async open(
    transport: Transport,
    port: number,
    list: Account[],
  ): Promise<{ ok: number; refused: number; ms: number }> {
    const parts = spread(list, this.pool.size);
    const replies = await this.pool.askAll(
      parts.map((accounts) => ({
        type: 'open' as const,
        transport,
        port,
        accounts,
        concurrency: this.p.concurrency,
      })),
      'opened',
      STEP_TIMEOUT_MS * 2,
    );
    const start = Math.min(...replies.map((r) => r.startMs));
    const end = Math.max(...replies.map((r) => r.endMs));
    return {
      ok: replies.reduce((n, r) => n + r.ok, 0),
      refused: replies.reduce((n, r) => n + r.refused, 0),
      ms: end - start,
    };
  }

  /**
   * RSS added per idle MQTT-over-WebSocket connection (CONNECT with password, clean session) on each of
   * `brokers`: connections are opened in four steps, broker after broker, and RSS is read 1 s after each step;
   * the 1 s figure is the least-squares slope of RSS over the last three steps. One-time costs (code, caches
   * filled on first use, heap spaces grown by the first burst) land in the first step and do not count. After
   * the first and the last step every broker's RSS is also read once settled (see `settledRss`), all brokers
   * waiting side by side so the wait is paid once: the settled figure is the RSS added between those two
   * readings. An idle broker's memory is the settled figure; read at 1 s a Node process still holds the
   * garbage of the burst.
   */
  async memoryOf(brokers: BenchBroker[]): Promise<MemoryFigures[]> {
    const list = this.idle.slice(0, this.p.idleConnections);
    const early = brokers.map((): Array<[number, number]> => []);
    const settled = brokers.map((): Array<[number, number]> => []);
    const open = brokers.map(() => 0);
    try {
      for (let step = 1; step <= 4; step++) {
        const part = list.slice(
          Math.floor(((step - 1) * list.length) / 4),
          Math.floor((step * list.length) / 4),
        );
        const firsts: number[] = [];
        for (const [i, broker] of brokers.entries()) {
          const opened = await this.open('ws', broker.wsPort, part);
          if (opened.ok === 0) throw new Error(`${broker.name} refused WebSocket connections`);
          open[i] = (open[i] as number) + opened.ok;
          // Let buffers of the connect burst be released before reading the steady state.
          await sleep(1000);
          firsts.push(rssBytes(broker.pid));
          if (step > 1) early[i]?.push([open[i] as number, firsts[i] as number]);
        }
        // Settled readings after the first and the last step only: each wait is up to memorySettleMs.
        if (step === 1 || step === 4) {
          const readings = await Promise.all(
            brokers.map((b, i) => settledRss(b.pid, firsts[i] as number, this.p.memorySettleMs)),
          );
          readings.forEach((rss, i) => settled[i]?.push([open[i] as number, rss]));
        }
      }
      return brokers.map((_, i) => {
        const earlyKb = round2(slope(early[i] as Array<[number, number]>) / 1024);
        const settledKb = round2(slope(settled[i] as Array<[number, number]>) / 1024);
        return {
          ws_conn_kb: settledKb,
          ws_conn_kb_settled: settledKb,
          ws_conn_kb_1s: earlyKb,
          connections: open[i] as number,
        };
      });
    } finally {
      await this.pool.askAll({ type: 'teardown' }, 'closed', STEP_TIMEOUT_MS);
      await sleep(300);
    }
  }

  /** `memoryOf` for one broker. */
  async memory(broker: BenchBroker): Promise<MemoryFigures> {
    return (await this.memoryOf([broker]))[0] as MemoryFigures;
  }

  /** Connections opened concurrently over TCP, each CONNECT checked against the password file. */
  async storm(broker: BenchBroker): Promise<ConnectStormFigures> {
    const list = this.idle.slice(0, this.p.stormConnections);
    // A tenth of the storm first, so Hush's JIT warm-up is not charged to the connections measured.
    await this.open('tcp', broker.tcpPort, list.slice(0, Math.ceil(list.length / 10)));
    await this.pool.askAll({ type: 'teardown' }, 'closed', STEP_TIMEOUT_MS);
    await sleep(300);
    const meter = new CpuMeter([broker.pid]);
    try {
      const opened = await this.open('tcp', broker.tcpPort, list);
      const [cpu = 0] = meter.used();
      if (opened.ok === 0) throw new Error(`${broker.name} accepted no connection in the storm`);
      return {
        connects_per_s: Math.round(opened.ok / (opened.ms / 1000)),
        connections: opened.ok,
        cpu_us_per_connect: round1(cpu / opened.ok),
      };
    } finally {
      await this.pool.askAll({ type: 'teardown' }, 'closed', STEP_TIMEOUT_MS);
      await sleep(300);
    }
  }
}

/** Runs `measure` for both brokers `rounds` times, alternating which goes first; returns every result. */
async function alternate<T>(
  rounds: number,
  brokers: Record<BrokerName, BenchBroker>,
  measure: (broker: BenchBroker, round: number) => Promise<T>,
): Promise<Record<BrokerName, T[]>> {
  const results: Record<BrokerName, T[]> = { hush: [], mosquitto: [] };
  for (let round = 0; round < rounds; round++) {
    const order: BrokerName[] = round % 2 === 0 ? ['hush', 'mosquitto'] : ['mosquitto', 'hush'];
    for (const name of order) results[name].push(await measure(brokers[name], round));
  }
  return results;
}

/** Median of each numeric field over rounds; flags are true when any round had them. */
function combine<T extends object>(list: T[]): T {
  const first = list[0] as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first)) {
    const values = list.map((item) => (item as Record<string, unknown>)[key]);
    const numbers = values as number[];
    out[key] =
      typeof values[0] === 'boolean'
        ? values.some(Boolean)
        : numbers.every(Number.isInteger)
          ? Math.round(median(numbers))
          : round2(median(numbers));
  }
  return out as T;
}

const WORKLOAD_LABEL: Record<Workload, string> = {
  tcp: '1:1 QoS 1 over TCP',
  ws: '1:1 QoS 1 over WebSocket',
  fanout: 'group fan-out (1 sender, 50 inboxes)',
};

/** The broker section of `hush bench`, plus the notes the report must carry. */
export async function runBrokerBench(options: {
  mode: BenchMode;
  progress: (line: string) => void;
}): Promise<{
  broker: BrokerBenchResult;
  memory: NonNullable<BenchReport['memory']>;
  notes: string[];
}> {
  const p = BROKER_PARAMS[options.mode];
  const progress = options.progress;
  const notes: string[] = [];
  try {
    await access(MOSQUITTO_BIN, constants.X_OK);
  } catch {
    throw new UserError(
      `the broker benchmark needs Mosquitto at ${MOSQUITTO_BIN} (Debian: apt-get install mosquitto); ` +
        'or leave the broker out with --only crypto,e2e',
    );
  }
  const processes = new ProcessSet();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-bench-'));
  try {
    progress(`broker: starting ${p.workers} load generators, hush broker and mosquitto`);
    const [pool, version] = await Promise.all([WorkerPool.start(p.workers, processes), mosquittoVersion()]);
    const bench = new BrokerBench(p, pool);
    const files = await writePolicyFiles(dir, bench.allAccounts(), PASSWORD);
    const brokers: Record<BrokerName, BenchBroker> = {
      hush: await startHushBroker(files, processes),
      mosquitto: await startMosquitto(dir, files, processes),
    };

    progress(
      `broker: memory, ${p.idleConnections} idle WebSocket connections per broker (up to ` +
        `${p.memorySettleMs / 1000} s after the first and the last step for RSS to settle, both brokers at once)`,
    );
    // One turn: these take long at full size, and RSS does not need several.
    const [hushMemory, mosquittoMemory] = (await bench.memoryOf([brokers.hush, brokers.mosquitto])) as [
      MemoryFigures,
      MemoryFigures,
    ];
    for (const [name, m] of [
      ['hush', hushMemory],
      ['mosquitto', mosquittoMemory],
    ] as const) {
      progress(
        `  ${name}: ${m.ws_conn_kb_settled} KB per connection settled (${m.ws_conn_kb_1s} KB 1 s after ` +
          `connecting; ${m.connections} connections)`,
      );
    }
    notes.push(
      'Memory per idle connection: RSS added between the first and the last step of connections, each read ' +
        `once settled (up to ${p.memorySettleMs / 1000} s${options.mode === 'full' ? '' : ', shorter than a full run'}). ` +
        `Read 1 s after each step instead, the slope is ${hushMemory.ws_conn_kb_1s} KB for Hush and ` +
        `${mosquittoMemory.ws_conn_kb_1s} KB for Mosquitto: Hush's readings then include the garbage of the ` +
        'connect burst, which V8 returns only after 30–45 idle seconds (its memory reducer waits for a ' +
        '30 s watchdog when no collection ran), so that figure swings from run to run.',
    );

    progress(`broker: connection storm, ${p.stormConnections} concurrent TCP connects with password checks`);
    const storm = await alternate(1, brokers, async (broker) => {
      const s = await bench.storm(broker);
      progress(
        `  ${broker.name}: ${s.connects_per_s} connects/s, ${s.cpu_us_per_connect} µs CPU per connect`,
      );
      return s;
    });

    const workloads = {} as Record<Workload, BrokerWorkloadResult>;
    for (const workload of ['tcp', 'ws', 'fanout'] as const) {
      progress(`broker: ${WORKLOAD_LABEL[workload]}`);
      const figures = await alternate(p.rounds, brokers, async (broker, round) => {
        bench.lost = [];
        const f = await bench.messages(workload, broker);
        for (const { sent, received } of bench.lost) {
          notes.push(
            `${WORKLOAD_LABEL[workload]}, ${broker.name}, round ${round + 1}: ${sent - received} of ${sent} ` +
              'messages were never delivered (figures count delivered messages only).',
          );
        }
        progress(
          `  ${broker.name} (round ${round + 1}/${p.rounds}): ${f.cpu_us_per_msg} µs CPU/msg, ` +
            `${f.saturation_msgs_per_s} msg/s (broker ${f.broker_cpu_pct}% of a core, generators ` +
            `${f.generator_cpu_pct}% each), p50 ${f.latency_p50_ms} ms p99 ${f.latency_p99_ms} ms at ` +
            `${f.offered_msgs_per_s} msg/s`,
        );
        return f;
      });
      const hush = combine(figures.hush);
      const mosquitto = combine(figures.mosquitto);
      workloads[workload] = {
        hush,
        mosquitto,
        cpu_ratio: round2(hush.cpu_us_per_msg / mosquitto.cpu_us_per_msg),
        cpu_rounds: {
          hush: figures.hush.map((f) => f.cpu_us_per_msg),
          mosquitto: figures.mosquitto.map((f) => f.cpu_us_per_msg),
        },
      };
      if (p.rounds > 1) {
        const pairs = figures.hush.map(
          (f, i) => `${f.cpu_us_per_msg}/${figures.mosquitto[i]?.cpu_us_per_msg ?? '?'}`,
        );
        notes.push(
          `${WORKLOAD_LABEL[workload]}: CPU per message by round, Hush/Mosquitto µs: ${pairs.join(', ')} ` +
            '(the table shows the medians).',
        );
      }
      for (const [name, f] of [
        ['hush', hush],
        ['mosquitto', mosquitto],
      ] as const) {
        if (f.generator_saturated) {
          notes.push(
            `${WORKLOAD_LABEL[workload]}, ${name}: the broker used only ${f.broker_cpu_pct}% of a core while ` +
              `${p.workers} generator processes used ${f.generator_cpu_pct}% each: the generator (or the shared ` +
              `machine) was the bottleneck, so its saturation throughput understates the broker; CPU per message stands.`,
          );
        }
      }
    }

    const hushStorm = combine(storm.hush);
    const mosquittoStorm = combine(storm.mosquitto);
    const comparison = (w: BrokerWorkloadResult) => ({
      hush_cpu_us_per_msg: w.hush.cpu_us_per_msg,
      mosquitto_cpu_us_per_msg: w.mosquitto.cpu_us_per_msg,
      ratio: w.cpu_ratio,
      rounds: w.cpu_rounds,
      p99_ratio: round2(w.hush.latency_p99_ms / w.mosquitto.latency_p99_ms),
    });
    await brokers.hush.stop();
    await brokers.mosquitto.stop();
    return {
      broker: {
        tcp: comparison(workloads.tcp),
        ws: comparison(workloads.ws),
        workloads,
        connect_storm: {
          hush: hushStorm,
          mosquitto: mosquittoStorm,
          ratio: round2(hushStorm.connects_per_s / mosquittoStorm.connects_per_s),
        },
        generator_processes: p.workers,
        mosquitto_version: version,
      },
      memory: {
        ws_conn_kb: {
          hush: hushMemory.ws_conn_kb,
          mosquitto: mosquittoMemory.ws_conn_kb,
          connections: Math.min(hushMemory.connections, mosquittoMemory.connections),
        },
        ws_conn_kb_1s: { hush: hushMemory.ws_conn_kb_1s, mosquitto: mosquittoMemory.ws_conn_kb_1s },
        ws_conn_kb_settled: {
          hush: hushMemory.ws_conn_kb_settled,
          mosquitto: mosquittoMemory.ws_conn_kb_settled,
        },
        settle_s: p.memorySettleMs / 1000,
      },
      notes,
    };
  } finally {
    await processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
