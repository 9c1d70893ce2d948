/** `hush bench`: Hush's broker against Mosquitto, Hush's crypto against CryptoJS, and the SDK end to end. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { BENCH_PARTS, runBench, type BenchPart } from '../../bench/run.ts';
import { renderMarkdown, writeReport } from '../../bench/report.ts';
import { UserError } from '../shared/errors.ts';

const DEFAULT_OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bench/results');

interface BenchFlags {
  quick: boolean;
  smoke: boolean;
  json: boolean;
  only?: string;
  out: string;
}

function parseParts(value: string | undefined): BenchPart[] {
  if (value === undefined) return [...BENCH_PARTS];
  const parts = value.split(',').map((p) => p.trim());
  for (const part of parts) {
    if (!(BENCH_PARTS as readonly string[]).includes(part)) {
      throw new UserError(
        `--only: unknown part '${part}'; expected one or more of ${BENCH_PARTS.join(', ')}`,
      );
    }
  }
  return parts as BenchPart[];
}

/** Registers `hush bench`. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'benchmark the broker against Mosquitto, the crypto against CryptoJS, and SDK end to end; ' +
        'writes <out>/<YYYY-MM-DD>.json and .md',
    )
    .option('--quick', 'smaller loads and a shorter memory settle wait, about two minutes in all', false)
    .addOption(
      new Option('--smoke', 'tiny loads, for the test suite (figures are not meaningful)')
        .default(false)
        .hideHelp(),
    )
    .option('--json', 'print the JSON document on stdout (progress stays on stderr)', false)
    .option('--only <parts>', `run only these parts, comma-separated: ${BENCH_PARTS.join(', ')}`)
    .option('--out <dir>', 'directory for the result files', DEFAULT_OUT)
    .action(async (flags: BenchFlags) => {
      const parts = parseParts(flags.only);
      const started = Date.now();
      const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`.padStart(5);
      const mode = flags.smoke ? 'smoke' : flags.quick ? 'quick' : 'full';
      const args = [
        ...(flags.smoke ? ['--smoke'] : flags.quick ? ['--quick'] : []),
        ...(flags.only ? ['--only', flags.only] : []),
      ];
      const report = await runBench({
        mode,
        parts,
        command: ['npm run bench', ...(args.length ? ['--', ...args] : [])].join(' '),
        progress: (line) => process.stderr.write(`[${elapsed()}] ${line}\n`),
      });
      const files = await writeReport(report, path.resolve(flags.out));
      process.stderr.write(`wrote ${files.json} and ${files.md}\n`);
      process.stdout.write(flags.json ? JSON.stringify(report) + '\n' : renderMarkdown(report));
    });
}
