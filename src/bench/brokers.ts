// The two brokers under test, configured alike: Hush's `hush broker` and Mosquitto, each with the Hush aclfile
// (`pattern read chats/%c/messages`, `pattern write chats/+/messages`), one password file with $7$ hashes both
// read, the username as client id, MQTT over TCP and over WebSocket on 127.0.0.1.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatPasswordFile, hashPassword } from '../broker/passwd/index.ts';
import type { BrokerName } from './types.ts';
import { freePort, waitForPort } from './ports.ts';
import { waitForOutput, type Child, type ProcessSet } from './processes.ts';
import type { Account } from './worker-protocol.ts';

/** HUSH_BENCH_HUSH_BIN measures another checkout's broker (e.g. before a change) against the same load. */
const HUSH_BIN =
  process.env.HUSH_BENCH_HUSH_BIN ?? fileURLToPath(new URL('../../bin/hush.js', import.meta.url));
export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

/** The aclfile `hush deploy mosquitto` writes (src/deploy/mosquitto.ts). */
const HUSH_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

/** A broker process under test. */
export interface BenchBroker {
  readonly name: BrokerName;
  readonly pid: number;
  readonly tcpPort: number;
  readonly wsPort: number;
  readonly child: Child;
  stop(): Promise<void>;
}

/** The aclfile and the password file both brokers read. */
export interface PolicyFiles {
  aclFile: string;
  passwordFile: string;
}

/**
 * Writes the aclfile and a password file for `accounts` into `dir`. Every account has the same password,
 * so one $7$ hash (PBKDF2-SHA512, 101 iterations, as mosquitto_passwd) serves all: the brokers still run
 * the full check for each CONNECT, and writing 10,000 users stays instant.
 */
export async function writePolicyFiles(
  dir: string,
  accounts: Account[],
  password: string,
): Promise<PolicyFiles> {
  const stored = await hashPassword(password);
  const passwordFile = path.join(dir, 'passwd');
  const aclFile = path.join(dir, 'aclfile');
  const entries = new Map(accounts.map((a) => [a.username, stored]));
  await writeFile(passwordFile, formatPasswordFile({ source: passwordFile, entries }), { mode: 0o600 });
  await writeFile(aclFile, HUSH_ACL);
  return { aclFile, passwordFile };
}

/**
 * Starts `hush broker` as its own process. The DoS limits Mosquitto does not have are opened up (CONNECTs
 * per address: every benchmark client comes from 127.0.0.1; publishes per client: the token bucket still runs,
 * at a rate no client reaches; connection cap above the idle-connection test) — the ACL and password checks
 * are the ones `hush broker` always runs. HUSH_BENCH_NODE_ARGS adds Node flags (e.g. --cpu-prof) for profiling;
 * `bin` runs another checkout's `bin/hush.js` (A/B comparisons); `extraArgs` go last (e.g. `--data-dir`).
 */
export async function startHushBroker(
  files: PolicyFiles,
  processes: ProcessSet,
  bin: string = HUSH_BIN,
  extraArgs: string[] = [],
): Promise<BenchBroker> {
  const [tcpPort, wsPort] = [await freePort(), await freePort()];
  const nodeArgs = [
    ...(await shebangNodeFlags(bin)),
    ...(process.env.HUSH_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
  ];
  const child = processes.spawn(
    process.execPath,
    [
      ...nodeArgs,
      bin,
      'broker',
      '--host',
      '127.0.0.1',
      '--mqtt-port',
      String(tcpPort),
      '--ws-port',
      String(wsPort),
      '--acl-file',
      files.aclFile,
      '--password-file',
      files.passwordFile,
      '--connect-rate',
      '0',
      '--publish-rate',
      '1000000000',
      '--max-connections',
      '1000000',
      ...extraArgs,
    ],
    // Warnings and errors only, as Mosquitto is configured below.
    { HUSH_LOG_LEVEL: 'warn' },
  );
  try {
    await waitForOutput(child, 'hush broker ready', 30_000);
  } catch (error) {
    await child.stop();
    throw new Error(`hush broker did not start: ${(error as Error).message}`);
  }
  return { name: 'hush', pid: child.pid, tcpPort, wsPort, child, stop: () => child.stop() };
}

/**
 * The Node flags on `bin/hush.js`'s `#!/usr/bin/env -S node …` line: `npx hush broker` runs with them, so the
 * benchmark does too (it starts Node itself to add HUSH_BENCH_NODE_ARGS).
 */
async function shebangNodeFlags(bin: string): Promise<string[]> {
  const firstLine = (await readFile(bin, 'utf8')).split('\n', 1)[0] ?? '';
  const match = /^#!\S*env -S node (.+)$/.exec(firstLine);
  return match ? match[1]!.trim().split(/\s+/) : [];
}

/** Starts Mosquitto with the same files; `max_connections -1` (no cap) is its default. */
export async function startMosquitto(
  dir: string,
  files: PolicyFiles,
  processes: ProcessSet,
): Promise<BenchBroker> {
  const [tcpPort, wsPort] = [await freePort(), await freePort()];
  const conf = [
    // The benchmark may run as root; keep that user so Mosquitto can read files in a 0700 temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'per_listener_settings false',
    'allow_anonymous false',
    'max_connections -1',
    `acl_file ${files.aclFile}`,
    `password_file ${files.passwordFile}`,
    `listener ${tcpPort} 127.0.0.1`,
    'use_username_as_clientid true',
    // A WebSocket listener ignores an IP address; the interface name keeps it on loopback (notes/brokers.md).
    `listener ${wsPort} lo`,
    'protocol websockets',
    'use_username_as_clientid true',
  ];
  const confFile = path.join(dir, 'mosquitto.conf');
  await writeFile(confFile, conf.join('\n') + '\n');
  const child = processes.spawn(MOSQUITTO_BIN, ['-c', confFile]);
  try {
    await Promise.race([
      Promise.all([waitForPort(tcpPort, 15_000), waitForPort(wsPort, 15_000)]),
      child.exited.then(() => {
        throw new Error(`mosquitto exited during start:\n${child.output()}`);
      }),
    ]);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { name: 'mosquitto', pid: child.pid, tcpPort, wsPort, child, stop: () => child.stop() };
}

/** "2.0.11" from `mosquitto -h`, or "unknown". */
export async function mosquittoVersion(): Promise<string> {
  try {
    await promisify(execFile)(MOSQUITTO_BIN, ['-h']);
    return 'unknown';
  } catch (error) {
    // `mosquitto -h` prints its usage and exits with status 3.
    const out = String((error as { stdout?: string }).stdout ?? '');
    return /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
  }
}
