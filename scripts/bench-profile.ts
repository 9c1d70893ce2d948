/**
 * Runs one message workload of `hush bench` against this checkout's broker for a long saturation phase, so a
 * CPU profile of the broker is mostly that workload. Pass the profiler through HUSH_BENCH_NODE_ARGS:
 *
 *   HUSH_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" \
 *     npx tsx scripts/bench-profile.ts [--workload ws|tcp|fanout] [--seconds 15] [--rounds 2]
 *
 * The profile is written when the broker stops; the last round's saturation phase ends about one second
 * before the profile does (a short fixed-rate phase follows it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BROKER_PARAMS, BrokerBench } from '../src/bench/broker-bench.ts';
import { startHushBroker, writePolicyFiles } from '../src/bench/brokers.ts';
import { ProcessSet, WorkerPool } from '../src/bench/processes.ts';

const { values } = parseArgs({
  options: {
    workload: { type: 'string', default: 'ws' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
  },
});
const workload = values.workload as 'ws' | 'tcp' | 'fanout';
if (!['ws', 'tcp', 'fanout'].includes(workload)) throw new Error(`unknown workload ${workload}`);
const params = {
  ...BROKER_PARAMS.quick,
  saturateMs: Number(values.seconds) * 1000,
  rateMs: 500,
  idleConnections: 0,
  memorySettleMs: 0,
};

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-bench-profile-'));
try {
  const pool = await WorkerPool.start(params.workers, processes);
  const bench = new BrokerBench(params, pool);
  const files = await writePolicyFiles(dir, bench.allAccounts(), 'bench-password-1');
  const broker = await startHushBroker(files, processes);
  for (let round = 0; round < Number(values.rounds); round++) {
    const f = await bench.messages(workload, broker);
    console.log(`${workload}: ${f.cpu_us_per_msg} µs CPU/msg, ${f.saturation_msgs_per_s} msg/s`);
  }
  await broker.stop();
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
