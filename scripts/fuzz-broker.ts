/**
 * Fuzzes a real `hush broker` with generated and mutated MQTT 3.1.1 packets and WebSocket frames, while two
 * canary clients (TCP, WebSocket) publish to themselves; then checks the broker is alive, still serves, stayed
 * under the RSS bound, and the canaries lost nothing. Reproducible: the seed is printed, and `--show INDEX`
 * prints what connection INDEX of that seed sent.
 *
 *   npx tsx scripts/fuzz-broker.ts --count 1000000 --seed 42 [--setup both|anonymous|password]
 *       [--concurrency 24] [--max-minutes 60] [--rss-limit-mib 400] [--json]
 *   npx tsx scripts/fuzz-broker.ts --seed 42 --show 1234 [--setup password]
 *
 * The seed may also come from FUZZ_SEED. Exit 0 when every check held, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import { planConnection } from './fuzz/plan.ts';
import { seedFrom } from './fuzz/prng.ts';
import { fuzzBrokerSession, type BrokerSetup, type FuzzSessionResult } from './fuzz/session.ts';
import { fuzzProblems } from './fuzz/verdict.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    setup: { type: 'string', default: 'both' },
    concurrency: { type: 'string', default: '24' },
    'max-minutes': { type: 'string', default: '60' },
    'rss-limit-mib': { type: 'string', default: '400' },
    show: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const seed = seedFrom(values.seed ?? process.env.FUZZ_SEED);
const setups: BrokerSetup[] =
  values.setup === 'both'
    ? ['anonymous', 'password']
    : values.setup === 'anonymous' || values.setup === 'password'
      ? [values.setup]
      : [];
if (setups.length === 0) throw new Error(`--setup must be anonymous, password or both, got ${values.setup}`);

if (values.show !== undefined) {
  // Regenerates one connection's inputs. Ports and passwords only change bytes of the upgrade request's
  // Host header and CONNECT credentials; the fuzz accounts are fixed, so this is what was sent.
  const index = Number(values.show);
  const accounts =
    setups[0] === 'password'
      ? [0, 1, 2, 3].map((i) => ({ username: `fz-${i}`, password: `fuzz-password-${i}` }))
      : [];
  const plan = planConnection(seed, index, { accounts, mutationRate: 0.12, wsPort: 8083 });
  console.log(
    JSON.stringify(
      {
        seed,
        index,
        transport: plan.transport,
        ending: plan.ending,
        splitWrites: plan.splitWrites,
        upgrade: plan.upgrade?.request.toString('hex'),
        inputs: plan.inputs.map((b) => b.toString('hex')),
      },
      null,
      2,
    ),
  );
  process.exit(0);
}

const count = Number(values.count);
const rssLimit = Number(values['rss-limit-mib']);
console.log(
  `fuzz-broker: seed ${seed} (rerun with --seed ${seed}), ${count} inputs over ${setups.join(' + ')}, RSS bound ${rssLimit} MiB`,
);
const results: FuzzSessionResult[] = [];
const problems: string[] = [];
for (const [i, setup] of setups.entries()) {
  const share = Math.ceil(count / setups.length);
  const result = await fuzzBrokerSession(setup, {
    seed,
    count: share,
    // Second setup starts at other indices, so the two brokers see different connections.
    firstIndex: i * 10_000_000,
    maxMs: (Number(values['max-minutes']) * 60_000) / setups.length,
    concurrency: Number(values.concurrency),
    onProgress: (f) =>
      console.error(
        `  ${setup}: ${f.inputs} inputs, ${f.connections} connections, ${(f.durationMs / 1000).toFixed(0)} s`,
      ),
  });
  results.push(result);
  problems.push(...fuzzProblems(result, rssLimit));
  const f = result.figures;
  console.log(
    `${setup}: ${f.inputs} inputs (${(f.bytes / 1024 / 1024).toFixed(1)} MiB) on ${f.connections} connections ` +
      `(${f.tcpConnections} TCP, ${f.wsConnections} WebSocket: ${f.wsUpgradesAccepted} upgraded, ${f.wsUpgradesRefused} refused), ` +
      `${f.closedByBroker} closed by the broker, ${f.connectFailures} connect failures, ${(f.durationMs / 1000).toFixed(1)} s, stopped by ${f.stoppedBy}; ` +
      `broker ${result.brokerAlive ? 'alive' : 'DEAD'}, serves after: ${result.servesAfter}; ` +
      `RSS ${result.rssMiB.start.toFixed(0)} → max ${result.rssMiB.max.toFixed(0)} → ${result.rssMiB.end.toFixed(0)} MiB; ` +
      result.canaries
        .map(
          (c) =>
            `canary ${c.name} ${c.received}/${c.sent} received, ${c.duplicates} dup, ${c.disconnects} disconnects`,
        )
        .join('; '),
  );
}
const total = results.reduce((n, r) => n + r.figures.inputs, 0);
console.log(
  `total: ${total} inputs, ${problems.length === 0 ? 'no problems' : `${problems.length} problem(s)`}, seed ${seed}`,
);
for (const p of problems) console.log(`PROBLEM ${p}`);
if (values.json)
  console.log(JSON.stringify({ seed, total, rssLimitMiB: rssLimit, results, problems }, null, 2));
process.exit(problems.length === 0 ? 0 : 1);
