// Runs the parts of `hush bench` that were asked for and assembles the one JSON document they make.
import os from 'node:os';
import { runBrokerBench, type BenchMode } from './broker-bench.ts';
import type { BenchReport } from './types.ts';

export type BenchPart = 'broker' | 'crypto' | 'e2e';
export const BENCH_PARTS: readonly BenchPart[] = ['broker', 'crypto', 'e2e'];

export interface BenchOptions {
  mode: BenchMode;
  parts: readonly BenchPart[];
  /** The command line that reproduces this run, recorded in the report. */
  command: string;
  progress: (line: string) => void;
}

/** Runs the asked-for parts in turn (crypto and e2e loaded only when asked for) (never two at once: they would measure each other) and returns the report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const cpus = os.cpus();
  const report: BenchReport = {
    date: new Date().toISOString(),
    mode: options.mode,
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      load_avg_1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    },
    command: options.command,
    notes: [],
  };
  if (report.machine.load_avg_1m > report.machine.cpus * 0.5) {
    report.notes.push(
      `The machine was busy when the run started (load average ${report.machine.load_avg_1m} on ` +
        `${report.machine.cpus} cores): absolute figures are noisy; ratios from this same run are the comparison.`,
    );
  }
  const quick = options.mode !== 'full';
  const progress = options.progress;
  if (options.parts.includes('broker')) {
    const started = Date.now();
    const { broker, memory, notes } = await runBrokerBench({ mode: options.mode, progress });
    report.broker = broker;
    report.memory = memory;
    report.notes.push(...notes);
    progress(`broker: done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  if (options.parts.includes('crypto')) {
    const started = Date.now();
    progress('crypto: Hush envelope vs CryptoJS.AES');
    const { runCryptoBench } = await import('./crypto.ts');
    report.crypto = await runCryptoBench({ quick, progress });
    progress(`crypto: done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  if (options.parts.includes('e2e')) {
    const started = Date.now();
    progress('e2e: SDK send → SDK receive through the embedded broker');
    const { runEndToEndBench } = await import('./e2e.ts');
    report.e2e = await runEndToEndBench({ quick, progress });
    progress(`e2e: done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return report;
}
