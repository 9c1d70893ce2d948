import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reapAtExit } from './reaper.ts';
import { freePort, waitForPort } from './ports.ts';

/** A real Mosquitto process started for one test, on ports it picked itself. */
export interface MosquittoInstance {
  readonly pid: number;
  readonly mqttPort: number;
  readonly wsPort: number | undefined;
  readonly dir: string;
  /** Everything Mosquitto printed (it logs to stderr with `log_dest stderr`). */
  log(): string;
  /** Sends SIGHUP (Mosquitto re-reads password and acl files) and waits a moment for it to apply. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** aclfile contents; omitted = no acl_file line. */
  acl?: string;
  /** password file contents (already hashed); omitted = no password_file line. */
  passwordFile?: string;
  allowAnonymous?: boolean;
  useUsernameAsClientId?: boolean;
  /** Also open a plain WebSocket listener (on the loopback interface, see notes/brokers.md). */
  websockets?: boolean;
  retainAvailable?: boolean;
  persistence?: boolean;
  extraConfig?: string;
}

/** Starts `/usr/sbin/mosquitto` with a generated config in a fresh temp directory. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoInstance> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hush-mosq-'));
  const mqttPort = await freePort();
  const wsPort = options.websockets ? await freePort() : undefined;
  const perListener = options.useUsernameAsClientId ? 'use_username_as_clientid true\n' : '';
  const lines = [
    // Tests run as root; keep root so Mosquitto can read files in a 0700 temp dir.
    'user root',
    'log_dest stderr',
    'log_type all',
    'per_listener_settings false',
    `allow_anonymous ${options.allowAnonymous === false ? 'false' : 'true'}`,
  ];
  if (options.acl !== undefined) {
    await writeFile(path.join(dir, 'aclfile'), options.acl);
    lines.push(`acl_file ${path.join(dir, 'aclfile')}`);
  }
  if (options.passwordFile !== undefined) {
    await writeFile(path.join(dir, 'passwd'), options.passwordFile);
    lines.push(`password_file ${path.join(dir, 'passwd')}`);
  }
  if (options.retainAvailable === false) lines.push('retain_available false');
  if (options.persistence) lines.push('persistence true', `persistence_location ${dir}/`);
  if (options.extraConfig) lines.push(options.extraConfig);
  lines.push(`listener ${mqttPort} 127.0.0.1`, perListener);
  if (wsPort !== undefined) lines.push(`listener ${wsPort} lo`, 'protocol websockets', perListener);
  const confPath = path.join(dir, 'mosquitto.conf');
  await writeFile(confPath, lines.join('\n') + '\n');

  const running = await runMosquittoConf(confPath, wsPort ? [mqttPort, wsPort] : [mqttPort]);
  return {
    ...running,
    mqttPort,
    wsPort,
    dir,
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A real Mosquitto running on a config file the caller wrote. */
export interface MosquittoProcess {
  readonly pid: number;
  /** Everything it printed. */
  log(): string;
  /** SIGHUP, then a short wait for the reload to apply. */
  reload(): Promise<void>;
  /** SIGTERM (SIGKILL after 3 s); resolves once it exited. */
  stop(): Promise<void>;
}

/** Starts `/usr/sbin/mosquitto -c confPath` and resolves once every port in `ports` accepts connections. */
export async function runMosquittoConf(confPath: string, ports: number[]): Promise<MosquittoProcess> {
  let output = '';
  const child: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', confPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid === undefined) throw new Error('mosquitto did not start');
  const pid = child.pid;
  const forget = reapAtExit(pid);
  void exited.then(forget);
  try {
    await Promise.race([
      Promise.all(ports.map((port) => waitForPort(port))),
      exited.then(() => {
        throw new Error(`mosquitto exited during start:\n${output}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    pid,
    log: () => output,
    async reload() {
      process.kill(pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 400));
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
