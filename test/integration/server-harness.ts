/**
 * Runs `hush start` as a real child process for the server tests (stopped by its own pid), plus small
 * helpers to call the registration API.
 */
import { spawn } from 'node:child_process';
import { HUSH_BIN } from '../helpers/hush-broker.ts';
import { freePort } from '../helpers/ports.ts';
import { reapAtExit } from '../helpers/reaper.ts';

export interface HushServer {
  readonly pid: number;
  readonly webPort: number;
  readonly mqttPort: number;
  /** http://127.0.0.1:<webPort> (https:// with TLS), no trailing slash. */
  readonly url: string;
  output(): string;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface HushServerOptions {
  dataDir: string;
  args?: string[];
  webPort?: number;
  mqttPort?: number;
  tls?: boolean;
}

/** Starts `node bin/hush.js start …` and resolves when it prints `hush ready`. */
export async function startHushServer(options: HushServerOptions): Promise<HushServer> {
  const webPort = options.webPort ?? (await freePort());
  const mqttPort = options.mqttPort ?? (await freePort());
  const child = spawn(
    process.execPath,
    [
      HUSH_BIN,
      'start',
      '--port',
      String(webPort),
      '--mqtt-port',
      String(mqttPort),
      '--data-dir',
      options.dataDir,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HUSH_LOG_LEVEL: 'info' } },
  );
  if (child.pid === undefined) throw new Error('hush start did not start');
  const pid = child.pid;
  const forget = reapAtExit(pid);
  let output = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      forget();
      resolve(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hush start not ready after 20 s:\n${output}`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('hush ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hush start exited during start (code ${code}):\n${output}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    pid,
    webPort,
    mqttPort,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${webPort}`,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      process.kill(pid, signal);
      const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A fresh 256-bit device secret, b64u, as a client generates it. */
export function newSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs JSON to `path` (body given as a value or raw text) and parses the JSON answer. */
export async function postJson(
  url: string,
  body: unknown,
  init: { contentType?: string; raw?: boolean; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json', ...init.headers },
    body: init.raw ? (body as string) : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

export interface Device {
  clientId: string;
  secret: string;
  inbox: string;
  brokerUrl: string;
  mqttUrl?: string;
}

/** Registers a device with a new secret; throws unless the answer is 201. */
export async function registerDevice(server: string, extra: Record<string, unknown> = {}): Promise<Device> {
  const secret = newSecret();
  const response = await postJson(`${server}/api/v1/devices`, { secret, ...extra });
  if (response.status !== 201) {
    throw new Error(`registration failed: ${response.status} ${JSON.stringify(response.body)}`);
  }
  return { ...(response.body as unknown as Omit<Device, 'secret'>), secret };
}

/** DELETE /api/v1/devices/:id with Basic credentials; resolves with the status. */
export async function revokeDevice(server: string, clientId: string, secret: string): Promise<number> {
  const response = await fetch(`${server}/api/v1/devices/${clientId}`, {
    method: 'DELETE',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
  });
  await response.arrayBuffer();
  return response.status;
}
