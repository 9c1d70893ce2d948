// Result shapes of `hush bench`: the JSON document it prints and writes to bench/results/<date>.json.
// Every figure is a plain number so the document can be diffed and charted without a schema.

/** Payload sizes the crypto benchmark measures, as the JSON keys they appear under. */
export type CryptoSize = '200' | '4096' | '65536' | '1048576';

/** The crypto sizes in the order they are run and reported. */
export const CRYPTO_SIZES: readonly CryptoSize[] = ['200', '4096', '65536', '1048576'];

/** One payload size: Hush envelope seal + open against CryptoJS.AES encrypt + decrypt (passphrase mode). */
export interface CryptoSizeResult {
  /** Hush 1:1 envelope (AEAD) seal + open of one message, microseconds. */
  hush_us: number;
  /** CryptoJS.AES.encrypt + decrypt (passphrase mode) of one message, microseconds. */
  cryptojs_us: number;
  /** cryptojs_us / hush_us: how many times faster Hush is. */
  speedup: number;
  /** Hush group envelope (AEAD + sender signature) seal + open, microseconds. */
  group_hush_us?: number;
  /** The same figures measured in Chromium, when a browser was available. */
  browser_hush_us?: number;
  browser_cryptojs_us?: number;
  browser_speedup?: number;
  browser_group_hush_us?: number;
}

/** Crypto benchmark result, keyed by payload size in bytes. */
export type CryptoBenchResult = Record<CryptoSize, CryptoSizeResult> & {
  /** Browser the browser figures came from (e.g. "Chromium 140"), or why there are none. */
  browser?: string;
};

/** SDK send → SDK receive through the embedded broker, one client pair. */
export interface EndToEndBenchResult {
  latency_p50_ms: number;
  latency_p99_ms: number;
  /** Sustained messages per second, one pair, sender pipelining. */
  msgs_per_s: number;
  /** Messages the figures are based on. */
  messages: number;
}

/** Which broker a figure belongs to. */
export type BrokerName = 'hush' | 'mosquitto';

/** The headline CPU-per-message comparison for one transport. */
export interface BrokerCpuComparison {
  hush_cpu_us_per_msg: number;
  mosquitto_cpu_us_per_msg: number;
  /** hush / mosquitto: below 1 means Hush used less CPU per delivered message. */
  ratio: number;
  /** Each round's CPU per delivered message (µs), in run order; the figures above are their medians. */
  rounds: Record<BrokerName, number[]>;
  /**
   * Hush latency p99 / Mosquitto latency p99, both taken in this run at the same fixed offered load
   * (`workloads.<transport>.*.offered_msgs_per_s`): above 1 means Hush's tail is longer.
   */
  p99_ratio: number;
}

/** One broker's figures for one message workload (1:1 or fan-out). */
export interface BrokerWorkloadFigures {
  /** Broker process CPU time (user + system) divided by messages delivered, microseconds. */
  cpu_us_per_msg: number;
  /** Messages delivered per second when the generator sends as fast as the broker takes them. */
  saturation_msgs_per_s: number;
  /** Publish → delivery latency at the fixed offered load, milliseconds. */
  latency_p50_ms: number;
  latency_p99_ms: number;
  /** The fixed offered load the latency figures were taken at, messages per second. */
  offered_msgs_per_s: number;
  /** Messages delivered in the CPU measurement. */
  delivered: number;
  /** Broker CPU use during the saturation run, percent of one core. */
  broker_cpu_pct: number;
  /** Load generator CPU use during the saturation run, percent of one core per generator process (mean). */
  generator_cpu_pct: number;
  /** True when the generator, not the broker, was the bottleneck (throughput then understates the broker). */
  generator_saturated: boolean;
}

/** Both brokers on one message workload. */
export interface BrokerWorkloadResult {
  hush: BrokerWorkloadFigures;
  mosquitto: BrokerWorkloadFigures;
  /** hush cpu_us_per_msg / mosquitto cpu_us_per_msg. */
  cpu_ratio: number;
  /** Each round's CPU per delivered message (µs), in run order. */
  cpu_rounds: Record<BrokerName, number[]>;
}

/** One broker's connection-storm figures. */
export interface ConnectStormFigures {
  /** Connections accepted (CONNACK success, password checked) per second. */
  connects_per_s: number;
  connections: number;
  /** Broker CPU time per accepted connection, microseconds. */
  cpu_us_per_connect: number;
}

/** Idle WebSocket connection memory for one broker. */
export interface MemoryFigures {
  /** Broker RSS increase divided by connections, KB (1024 bytes), RSS read once settled (full runs). */
  ws_conn_kb: number;
  /** The same, RSS read once settled (every mode). */
  ws_conn_kb_settled: number;
  /** The same, RSS read 1 s after each step of connections. */
  ws_conn_kb_1s: number;
  connections: number;
}

/** Broker benchmark result. */
export interface BrokerBenchResult {
  tcp: BrokerCpuComparison;
  ws: BrokerCpuComparison;
  /** Full figures per workload: 1:1 over TCP, 1:1 over WebSocket, group fan-out (1 sender, 50 inboxes). */
  workloads: {
    tcp: BrokerWorkloadResult;
    ws: BrokerWorkloadResult;
    fanout: BrokerWorkloadResult;
  };
  connect_storm: {
    hush: ConnectStormFigures;
    mosquitto: ConnectStormFigures;
    /** hush connects_per_s / mosquitto connects_per_s: above 1 means Hush accepted faster. */
    ratio: number;
  };
  /** Load generator processes used per workload. */
  generator_processes: number;
  mosquitto_version: string;
}

/** The whole `hush bench` document. Sections that were not run (--only) are absent. */
export interface BenchReport {
  /** ISO timestamp of the start of the run. */
  date: string;
  mode: 'full' | 'quick' | 'smoke';
  machine: { cpus: number; cpu_model: string; node: string; platform: string; load_avg_1m: number };
  /** Exact command that reproduces the run. */
  command: string;
  broker?: BrokerBenchResult;
  memory?: {
    ws_conn_kb: { hush: number; mosquitto: number; connections: number };
    /** Read 1 s after connecting, before an idle Node process gives memory back. */
    ws_conn_kb_1s: { hush: number; mosquitto: number };
    /**
     * RSS added per idle WebSocket connection between the first and the last step, each read once settled
     * (at most `settle_s` after the step; both brokers wait side by side). Quick runs use fewer connections
     * and a shorter wait than full runs; in smoke runs the figure is not meaningful.
     */
    ws_conn_kb_settled: { hush: number; mosquitto: number };
    /** Longest wait per step for RSS to settle, s. */
    settle_s: number;
  };
  crypto?: CryptoBenchResult;
  e2e?: EndToEndBenchResult;
  /** Things the reader must know to trust the figures (generator saturation, skipped parts). */
  notes: string[];
}
