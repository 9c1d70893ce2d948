/**
 * One fuzz session against a real `hush broker` process: starts it (anonymous, or with a password file and
 * an aclfile so CONNECT sometimes succeeds and sometimes not), starts the canaries (MQTT.js over TCP and
 * WebSocket), samples the broker's RSS, runs the fuzzer, then checks the broker still serves a new client.
 */
import { startHushBroker } from '../../test/helpers/hush-broker.ts';
import { hashPassword } from '../../src/broker/passwd/hash.ts';
import { startCanary, type CanaryFigures } from './canary.ts';
import { sampleRss } from './rss.ts';
import { runFuzz, type FuzzFigures, type FuzzRunOptions } from './runner.ts';
import mqtt from 'mqtt';

export type BrokerSetup = 'anonymous' | 'password';

export interface FuzzSessionResult {
  setup: BrokerSetup;
  figures: FuzzFigures;
  canaries: CanaryFigures[];
  rssMiB: { start: number; max: number; end: number; samples: number };
  /** The broker process was still running when the fuzzer stopped. */
  brokerAlive: boolean;
  /** A fresh MQTT.js client could connect, subscribe and get its own message after the run. */
  servesAfter: boolean;
  /** Log lines at level error or fatal (pino levels 50, 60). */
  brokerErrorLines: string[];
  /** The end of the broker's output (stderr has any crash's stack trace). */
  brokerLogTail: string;
}

const FUZZ_ACCOUNTS = [0, 1, 2, 3].map((i) => ({ username: `fz-${i}`, password: `fuzz-password-${i}` }));
const CANARY_PASSWORD = 'canary-password';
const PASSWORD_ACL = [
  'pattern readwrite canary/%c/#',
  'pattern readwrite fuzz/#',
  'pattern read chats/%c/messages',
  'pattern write chats/+/messages',
  '',
].join('\n');

const MiB = 1024 * 1024;

/** Whether a new client can connect, subscribe and receive its own QoS 1 message within 10 s. */
async function servesNewClient(
  url: string,
  auth: { username?: string; password?: string },
): Promise<boolean> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    clientId: auth.username ?? 'fz-after',
    ...auth,
  });
  client.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('close', () => reject(new Error('closed')));
    });
    const topic = `canary/${auth.username ?? 'fz-after'}/after`;
    await client.subscribeAsync(topic, { qos: 1 });
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      client.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    await client.publishAsync(topic, 'after', { qos: 1 });
    return await got;
  } catch {
    return false;
  } finally {
    client.end(true);
  }
}

/** Starts a broker in `setup`, fuzzes it with `options`, stops it, and returns what was measured. */
export async function fuzzBrokerSession(
  setup: BrokerSetup,
  options: FuzzRunOptions & { canaryIntervalMs?: number },
): Promise<FuzzSessionResult> {
  const withPasswords = setup === 'password';
  let passwordFile: string | undefined;
  if (withPasswords) {
    const lines: string[] = [];
    for (const { username, password } of FUZZ_ACCOUNTS)
      lines.push(`${username}:${await hashPassword(password)}`);
    for (const name of ['canary-tcp', 'canary-ws', 'fz-after'])
      lines.push(`${name}:${await hashPassword(CANARY_PASSWORD)}`);
    passwordFile = `${lines.join('\n')}\n`;
  }
  const broker = await startHushBroker({
    websockets: true,
    allowAnonymous: !withPasswords,
    ...(withPasswords ? { passwordFile, acl: PASSWORD_ACL } : {}),
    // Every fuzz connection comes from 127.0.0.1: the per-address connect rate would refuse nearly all of them.
    extraArgs: ['--connect-rate', '0', '--connect-timeout', '2000'],
    env: { HUSH_LOG_LEVEL: 'error' },
  });
  const rss = sampleRss(broker.pid);
  const auth = (name: string) => (withPasswords ? { username: name, password: CANARY_PASSWORD } : {});
  try {
    const canaries = [
      await startCanary(
        'tcp',
        `mqtt://127.0.0.1:${broker.mqttPort}`,
        { clientId: 'canary-tcp', ...auth('canary-tcp') },
        options.canaryIntervalMs,
      ),
      await startCanary(
        'ws',
        `ws://127.0.0.1:${broker.wsPort}/mqtt`,
        { clientId: 'canary-ws', ...auth('canary-ws') },
        options.canaryIntervalMs,
      ),
    ];
    const figures = await runFuzz(
      {
        pid: broker.pid,
        mqttPort: broker.mqttPort,
        wsPort: broker.wsPort,
        accounts: withPasswords ? FUZZ_ACCOUNTS : [],
      },
      options,
    );
    const canaryFigures = await Promise.all(canaries.map((c) => c.stop()));
    let brokerAlive = true;
    try {
      process.kill(broker.pid, 0);
    } catch {
      brokerAlive = false;
    }
    const servesAfter =
      brokerAlive &&
      (await servesNewClient(
        `mqtt://127.0.0.1:${broker.mqttPort}`,
        withPasswords ? { username: 'fz-after', password: CANARY_PASSWORD } : {},
      ));
    rss.stop();
    const brokerErrorLines = broker
      .log()
      .split('\n')
      .filter((line) => /"level":(50|60)/.test(line) || /Uncaught|Unhandled|FATAL/i.test(line));
    return {
      setup,
      figures,
      canaries: canaryFigures,
      rssMiB: {
        start: rss.firstBytes / MiB,
        max: rss.maxBytes / MiB,
        end: rss.lastBytes / MiB,
        samples: rss.samples,
      },
      brokerAlive,
      servesAfter,
      brokerErrorLines,
      brokerLogTail: broker.log().slice(-4000),
    };
  } finally {
    rss.stop();
    await broker.stop();
  }
}
