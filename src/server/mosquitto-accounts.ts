/**
 * The registry's AccountBroker for an external Mosquitto (`hush start --mosquitto-dir`). Mosquitto reads the
 * password file itself, and only when told to: after each saved batch the broker is reloaded once (SIGHUP to
 * the pid in its pid_file, or an operator-given command such as `systemctl reload mosquitto`).
 *
 * Mosquitto applies a reload a moment later and says nothing when it is done, so the server confirms it from
 * the outside over the loopback MQTT listener: it connects as each new device (with the secret the device
 * just sent) until the broker accepts it, subscribes its inbox with QoS 1 and `clean: false` — which creates
 * the persistent session, so messages sent before the device first connects wait for it — and disconnects.
 * A removal is confirmed the same way, by retrying until the old secret is refused. Before a removal the
 * device's session is wiped (a `clean: true` connection while its secret still works), which also closes its
 * live connection; Mosquitto 2.0.11 itself closes the connections of users a reload removed.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { PasswordTable } from '../broker/passwd/index.ts';
import { inboxTopic, type AccountBroker, type NewAccount } from './device-registry.ts';

const run = promisify(execFile);

export interface MosquittoAccountsOptions {
  /** Mosquitto's pid_file: the process that gets SIGHUP. */
  pidFile: string;
  /** A plain MQTT listener on loopback (mqtt://127.0.0.1:PORT). */
  localUrl: string;
  /** Instead of SIGHUP: a command that reloads Mosquitto (argv, no shell), e.g. systemctl reload mosquitto. */
  reloadCommand?: string[];
  log: Logger;
  /** How long a reload may take to show before the batch fails (default 10 s). */
  timeoutMs?: number;
}

/** Why Mosquitto could not be reloaded, with what to do about it. */
export class MosquittoReloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MosquittoReloadError';
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** MQTT 3.1.1 CONNACK codes 4 (bad username or password) and 5 (not authorized). */
const isRefusal = (error: unknown) => {
  const code = (error as { code?: unknown }).code;
  return code === 4 || code === 5;
};

/** Connects once; resolves with the client on CONNACK 0, rejects with the refusal or network error. */
function connectOnce(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    client.once('connect', () => {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      resolve(client);
    });
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

const endClient = (client: MqttClient) =>
  new Promise<void>((resolve) => client.end(false, {}, () => resolve()));

/** The pid in Mosquitto's pid file, checked to be a process this user may signal. */
export async function mosquittoPid(pidFile: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MosquittoReloadError(
      code === 'ENOENT'
        ? `Mosquitto's pid file ${pidFile} does not exist: is Mosquitto running with this deployment's mosquitto.conf?`
        : `cannot read Mosquitto's pid file ${pidFile} (${code ?? (error as Error).message})`,
    );
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1)
    throw new MosquittoReloadError(`Mosquitto's pid file ${pidFile} holds no pid: ${JSON.stringify(text)}`);
  try {
    process.kill(pid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MosquittoReloadError(
      code === 'EPERM'
        ? `not allowed to signal Mosquitto (pid ${pid}): run hush as the user Mosquitto runs as (mosquitto), ` +
            'or give --mosquitto-reload-command (see docs/DEPLOY.md)'
        : `Mosquitto (pid ${pid} from ${pidFile}) is not running`,
    );
  }
  return pid;
}

/** Keeps an external Mosquitto in step with the registry's password file. */
export function mosquittoAccounts(options: MosquittoAccountsOptions): AccountBroker & {
  reload(): Promise<void>;
} {
  const { log } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const reload = async (): Promise<void> => {
    if (options.reloadCommand) {
      const [command, ...args] = options.reloadCommand;
      try {
        await run(command!, args, { timeout: timeoutMs });
      } catch (error) {
        const e = error as Error & { stderr?: string };
        throw new MosquittoReloadError(
          `the reload command \`${options.reloadCommand.join(' ')}\` failed: ${(e.stderr ?? '').trim() || e.message}`,
        );
      }
      return;
    }
    process.kill(await mosquittoPid(options.pidFile), 'SIGHUP');
  };

  /** Retries until `attempt` says done; throws after the timeout with `what` and the last error. */
  const until = async (what: string, attempt: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let wait = 20; ; wait = Math.min(wait * 2, 200)) {
      try {
        if (await attempt()) return;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline)
        throw new MosquittoReloadError(
          `Mosquitto did not ${what} within ${timeoutMs / 1000} s of the reload` +
            (last ? ` (${(last as Error).message})` : ''),
        );
      await pause(wait);
    }
  };

  const credentials = ({ clientId, secret }: NewAccount): IClientOptions => ({
    clientId,
    username: clientId,
    password: secret,
  });

  /** Waits until Mosquitto accepts the device, then leaves a persistent session subscribed to its inbox. */
  const provision = (account: NewAccount) =>
    until(`accept the new device ${account.clientId}`, async () => {
      let client: MqttClient;
      try {
        client = await connectOnce(options.localUrl, { ...credentials(account), clean: false });
      } catch (error) {
        if (isRefusal(error)) return false; // the reload has not been applied yet
        throw error;
      }
      try {
        await client.subscribeAsync(inboxTopic(account.clientId), { qos: 1 });
      } finally {
        await endClient(client);
      }
      return true;
    });

  /** Waits until Mosquitto refuses the removed device's secret. */
  const confirmGone = (account: NewAccount) =>
    until(`refuse the removed device ${account.clientId}`, async () => {
      try {
        const client = await connectOnce(options.localUrl, { ...credentials(account), clean: true });
        await endClient(client);
        return false;
      } catch (error) {
        if (isRefusal(error)) return true;
        throw error;
      }
    });

  return {
    reload,
    install: async () => undefined,
    async beforeRemove(account: NewAccount) {
      // clean: true drops the session and its queued messages, and takes over (closes) a live connection.
      const client = await connectOnce(options.localUrl, { ...credentials(account), clean: true });
      await endClient(client);
    },
    beforeSave: async () => undefined,
    undoBeforeSave: async () => undefined,
    async afterSave(_table: PasswordTable, added: NewAccount[], removed: NewAccount[]) {
      await reload();
      const results = await Promise.allSettled([...added.map(provision), ...removed.map(confirmGone)]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) {
        log.error({ reason: (failed.reason as Error).message }, 'mosquitto did not apply the password file');
        throw failed.reason;
      }
    },
  };
}
