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
import { parseArgs } from 'node:util';
import { BROKER_PARAMS } from '../src/bench/broker-bench.ts';
import { startHushBroker } from '../src/bench/brokers.ts';
import { withBenchHarness } from './bench-harness.ts';

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

await withBenchHarness('bench-profile', params, async ({ processes, bench, files }) => {
  const broker = await startHushBroker(files, processes);
  for (let round = 0; round < Number(values.rounds); round++) {
    const f = await bench.messages(workload, broker);
    console.log(`${workload}: ${f.cpu_us_per_msg} µs CPU/msg, ${f.saturation_msgs_per_s} msg/s`);
  }
  await broker.stop();
});
