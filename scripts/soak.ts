/**
 * Long form of the soak test (test/integration/soak.test.ts): `hush broker` with a password file and the Hush
 * aclfile, N clients in pairs writing QoS 1 messages to each other at a steady rate, broker RSS and messages in
 * flight read every second. Prints the figures as one JSON document on stdout (progress on stderr):
 *
 *   npx tsx scripts/soak.ts --clients 1000 --seconds 600 [--warmup 15] [--rate 1] [--data-dir]
 *
 * `--rate` is messages per second per client; `--data-dir` runs the broker on LevelDB in a temporary directory
 * instead of its in-memory store. Exits 1 when a message was lost or repeated.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startHushBroker, writePolicyFiles } from '../src/bench/brokers.ts';
import { ProcessSet } from '../src/bench/processes.ts';
import { runSoak } from '../src/bench/soak.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '15' },
    rate: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    'data-dir': { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
if (!Number.isInteger(clients) || clients < 2 || clients % 2 !== 0) {
  throw new Error(`--clients must be an even number of at least 2 (pairs), not ${values.clients}`);
}

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-soak-'));
try {
  const accounts = Array.from({ length: clients }, (_, i) => ({
    username: `soak${String(i).padStart(18, '0')}`,
    password: 'soak-password-1',
  }));
  const files = await writePolicyFiles(dir, accounts, 'soak-password-1');
  const extra = values['data-dir'] ? ['--data-dir', path.join(dir, 'data')] : [];
  const broker = await startHushBroker(files, processes, undefined, extra);
  const result = await runSoak({
    brokerPid: broker.pid,
    port: broker.tcpPort,
    accounts,
    seconds: Number(values.seconds),
    warmupSeconds: Number(values.warmup),
    perClientPerSecond: Number(values.rate),
    payloadBytes: 200,
    workers: Number(values.workers),
    processes,
    progress: (line) => process.stderr.write(line + '\n'),
  });
  await broker.stop();
  process.stdout.write(
    JSON.stringify({ store: values['data-dir'] ? 'leveldb' : 'memory', ...result }) + '\n',
  );
  if (result.lost !== 0 || result.duplicates !== 0 || result.gaps !== 0) process.exitCode = 1;
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
