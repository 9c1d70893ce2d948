/**
 * A/B of two Hush brokers under one message workload of `hush bench`: this checkout's and another's (e.g. a
 * `git worktree` of the commit before a change, with node_modules linked in), taking turns under the same
 * load generator in the same run, so machine noise hits both alike. Prints each round and the ratio of the
 * medians of CPU per delivered message. Optionally opens and closes idle WebSocket connections first (as
 * the full benchmark does before its message workloads).
 *
 *   npx tsx scripts/bench-ab.ts --base ../hush-before/bin/hush.js [--workload ws|tcp|fanout] [--rounds 6]
 *       [--idle 10000] [--new-node-args "--some-v8-flag"]
 */
import { parseArgs } from 'node:util';
import { BROKER_PARAMS } from '../src/bench/broker-bench.ts';
import { startHushBroker, type BenchBroker } from '../src/bench/brokers.ts';
import { withBenchHarness } from './bench-harness.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    workload: { type: 'string', default: 'ws' },
    rounds: { type: 'string', default: '6' },
    idle: { type: 'string', default: '0' },
    'new-node-args': { type: 'string', default: '' },
  },
});
if (values.base === undefined)
  throw new Error('--base <path to the other checkout’s bin/hush.js> is required');
const workload = values.workload as 'ws' | 'tcp' | 'fanout';
if (!['ws', 'tcp', 'fanout'].includes(workload)) throw new Error(`unknown workload ${workload}`);
const rounds = Number(values.rounds);
const idle = Number(values.idle);
const params = { ...BROKER_PARAMS.quick, saturateMs: 3000, idleConnections: idle, memorySettleMs: 0 };

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] as number;

await withBenchHarness('bench-ab', params, async ({ processes, bench, files }) => {
  const base = await startHushBroker(files, processes, values.base);
  process.env.HUSH_BENCH_NODE_ARGS = values['new-node-args'];
  const next = await startHushBroker(files, processes);
  process.env.HUSH_BENCH_NODE_ARGS = '';
  const brokers: Array<[string, BenchBroker]> = [
    ['base', base],
    ['new', next],
  ];
  if (idle > 0) for (const [name, b] of brokers) console.log(name, 'idle connections', await bench.memory(b));
  const cpu: Record<string, number[]> = { base: [], new: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [name, b] of round % 2 === 0 ? brokers : [...brokers].reverse()) {
      const f = await bench.messages(workload, b);
      cpu[name]!.push(f.cpu_us_per_msg);
      console.log(
        `${name} ${workload}: ${f.cpu_us_per_msg} µs CPU/msg, ${f.saturation_msgs_per_s} msg/s, ` +
          `broker ${f.broker_cpu_pct}% of a core`,
      );
    }
  }
  const [b, n] = [median(cpu.base!), median(cpu.new!)];
  console.log(`median CPU per message: base ${b} µs, new ${n} µs, new/base ${(n / b).toFixed(3)}`);
  await base.stop();
  await next.stop();
});
