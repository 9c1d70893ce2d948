import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapAtExit } from './reaper.ts';
import { freePort } from './ports.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HUSH_BIN = path.join(REPO_ROOT, 'bin/hush.js');

/** Hush's broker started as its own process through the real CLI (`hush broker`). */
export interface HushBrokerInstance {
  readonly pid: number;
  readonly mqttPort: number;
  readonly wsPort: number | undefined;
  readonly dir: string;
  log(): string;
  /** Resolves once the log matches `pattern` (the broker logs after it acts, so tests poll); throws with the log. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGHUP, then a short wait for the reload to apply. */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL, for crash tests; the data directory is kept. */
  kill(): Promise<void>;
}

export interface HushBrokerOptions {
  acl?: string;
  passwordFile?: string;
  allowAnonymous?: boolean;
  websockets?: boolean;
  retainAvailable?: boolean;
  /** Directory for --data-dir (kept across restarts when the caller passes the same one). */
  dataDir?: string;
  tls?: { cert: string; key: string };
  extraArgs?: string[];
  /** Extra environment for the broker process (e.g. DEBUG). */
  env?: NodeJS.ProcessEnv;
  /** Reuse fixed ports (restart tests). */
  mqttPort?: number;
  wsPort?: number;
}

/** Starts `node bin/hush.js broker` with files written to a fresh temp dir; resolves when it is ready. */
export async function startHushBroker(options: HushBrokerOptions = {}): Promise<HushBrokerInstance> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hush-broker-'));
  const mqttPort = options.mqttPort ?? (await freePort());
  const wsPort = options.websockets ? (options.wsPort ?? (await freePort())) : undefined;
  const args = [HUSH_BIN, 'broker', '--host', '127.0.0.1', '--mqtt-port', String(mqttPort)];
  if (wsPort !== undefined) args.push('--ws-port', String(wsPort));
  else args.push('--no-ws-listener');
  if (options.acl !== undefined) {
    await writeFile(path.join(dir, 'aclfile'), options.acl);
    args.push('--acl-file', path.join(dir, 'aclfile'));
  }
  if (options.passwordFile !== undefined) {
    await writeFile(path.join(dir, 'passwd'), options.passwordFile, { mode: 0o600 });
    args.push('--password-file', path.join(dir, 'passwd'));
  }
  if (options.allowAnonymous !== false) args.push('--allow-anonymous');
  if (options.retainAvailable === false) args.push('--no-retain');
  if (options.dataDir) args.push('--data-dir', options.dataDir);
  if (options.tls) args.push('--tls-cert', options.tls.cert, '--tls-key', options.tls.key);
  args.push(...(options.extraArgs ?? []));

  let output = '';
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HUSH_LOG_LEVEL: process.env.HUSH_LOG_LEVEL ?? 'debug', ...options.env },
  });
  if (child.pid === undefined) throw new Error('hush broker did not start');
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const forget = reapAtExit(pid);
  void exited.then(forget);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hush broker not ready after 20 s:\n${output}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('hush broker ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`hush broker exited during start (code ${child.exitCode}):\n${output}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, signal);
      const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return {
    pid,
    mqttPort,
    wsPort,
    dir,
    log: () => output,
    async waitForLog(pattern, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline)
          throw new Error(`broker log never matched ${pattern}:\n${output.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async reload() {
      process.kill(pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 400));
    },
    async stop() {
      await stopWith('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      await stopWith('SIGKILL');
    },
  };
}

/** Runs the hush CLI to completion and returns its exit code and output. */
export async function runHush(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [HUSH_BIN, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
