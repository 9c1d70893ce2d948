/**
 * What the bench scripts (bench-ab.ts, bench-profile.ts) set up alike: the load generator processes, a
 * BrokerBench on them, and the aclfile and password file for its accounts in a temporary directory. Every
 * process is stopped and the directory removed afterwards, whatever happens.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BrokerBench, type BrokerBenchParams } from '../src/bench/broker-bench.ts';
import { writePolicyFiles, type PolicyFiles } from '../src/bench/brokers.ts';
import { ProcessSet, WorkerPool } from '../src/bench/processes.ts';

/** What a script gets to run its brokers against. */
export interface BenchHarness {
  processes: ProcessSet;
  bench: BrokerBench;
  files: PolicyFiles;
}

/** Runs `use` with generators, a bench and policy files; stops every process and removes the files after. */
export async function withBenchHarness<T>(
  name: string,
  params: BrokerBenchParams,
  use: (harness: BenchHarness) => Promise<T>,
): Promise<T> {
  const processes = new ProcessSet();
  const dir = await mkdtemp(path.join(os.tmpdir(), `hush-${name}-`));
  try {
    const pool = await WorkerPool.start(params.workers, processes);
    const bench = new BrokerBench(params, pool);
    const files = await writePolicyFiles(dir, bench.allAccounts(), 'bench-password-1');
    return await use({ processes, bench, files });
  } finally {
    await processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
