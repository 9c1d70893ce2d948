/**
 * Bounded CI form of scripts/fuzz-broker.ts: generated and mutated MQTT 3.1.1 packets and WebSocket frames
 * against a real `hush broker`, anonymous and with a password file. The seed is random unless FUZZ_SEED is
 * set, and printed; a failure names it, and `npx tsx scripts/fuzz-broker.ts --seed N --show INDEX`
 * regenerates any connection's bytes.
 */
import { describe, expect, it } from 'vitest';
import { seedFrom } from '../../scripts/fuzz/prng.ts';
import { fuzzBrokerSession, type BrokerSetup } from '../../scripts/fuzz/session.ts';
import { fuzzProblems } from '../../scripts/fuzz/verdict.ts';
import { planConnection } from '../../scripts/fuzz/plan.ts';

const SEED = seedFrom(process.env.FUZZ_SEED);
/** Inputs per broker setup, and the time each may take at most (whichever comes first). */
const INPUTS_PER_SETUP = 60_000;
const MAX_MS_PER_SETUP = 40_000;
/** The broker starts near 120 MiB; hostile input must not take it past this. */
const RSS_LIMIT_MIB = 400;

console.log(`fuzz-broker: seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);

describe(`broker fuzzing (seed ${SEED})`, () => {
  it('regenerates a connection byte for byte from the seed and its index', () => {
    const ctx = { accounts: [], mutationRate: 0.12, wsPort: 8083 };
    const a = planConnection(SEED, 77, ctx);
    const b = planConnection(SEED, 77, ctx);
    expect(b.inputs.map((x) => x.toString('hex'))).toEqual(a.inputs.map((x) => x.toString('hex')));
    expect(planConnection(SEED, 78, ctx).inputs.map((x) => x.toString('hex'))).not.toEqual(
      a.inputs.map((x) => x.toString('hex')),
    );
  });

  for (const [i, setup] of (['anonymous', 'password'] as BrokerSetup[]).entries()) {
    it(`${setup} broker: survives, stays under ${RSS_LIMIT_MIB} MiB, canaries lose nothing`, async () => {
      const result = await fuzzBrokerSession(setup, {
        seed: SEED,
        count: INPUTS_PER_SETUP,
        maxMs: MAX_MS_PER_SETUP,
        concurrency: 16,
        firstIndex: i * 10_000_000,
      });
      const f = result.figures;
      console.log(
        `fuzz-broker ${setup} seed ${SEED}: ${f.inputs} inputs on ${f.connections} connections ` +
          `(${f.wsUpgradesAccepted} WebSocket), ${f.closedByBroker} closed by the broker, ` +
          `RSS max ${result.rssMiB.max.toFixed(0)} MiB, canaries ` +
          result.canaries.map((c) => `${c.name} ${c.received}/${c.sent}`).join(', '),
      );
      expect(fuzzProblems(result, RSS_LIMIT_MIB)).toEqual([]);
      // Enough happened to mean something, on both transports, with and without a completed CONNECT.
      expect(f.inputs).toBeGreaterThan(5_000);
      expect(f.tcpConnections).toBeGreaterThan(100);
      expect(f.wsUpgradesAccepted).toBeGreaterThan(20);
      expect(f.closedByBroker).toBeGreaterThan(10);
      for (const c of result.canaries) expect(c.sent).toBeGreaterThan(10);
    }, 120_000);
  }
});
