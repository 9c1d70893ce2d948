/**
 * Differential harness: one real Mosquitto 2.0.11 and one Hush broker (child process, real CLI) started
 * with the same aclfile and password file, and a way to run the same client script against each and
 * compare what every client received.
 *
 * A script gets a `BrokerSide` (its port plus a client registry that records deliveries) and must not look
 * at which broker it talks to; `onBoth` runs it against both sides concurrently. Completion is detected
 * with QoS 1 marker messages, never with sleeps: MQTT keeps one publisher's QoS 1 messages in order towards
 * each subscriber, so a subscriber that has seen a publisher's marker has been offered everything that
 * publisher sent before it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { IClientOptions } from 'mqtt';
import { startHushBroker, type HushBrokerInstance } from './hush-broker.ts';
import { startMosquitto, type MosquittoInstance } from './mosquitto.ts';
import { connectClient, tryConnect, type Received, type TestClient } from './mqtt.ts';

export type BrokerName = 'mosquitto' | 'hush';
export const BROKERS: readonly BrokerName[] = ['mosquitto', 'hush'];

/**
 * Hush's per-address connect rate and per-client publish rate are limits Mosquitto does not have; a
 * differential run opens dozens of connections from 127.0.0.1 within a second, so both are turned off.
 */
const HUSH_NO_RATE_LIMITS = ['--connect-rate', '0', '--publish-rate', '0'];

export interface PairOptions {
  acl: string;
  /**
   * Password file contents. With one: Mosquitto gets `allow_anonymous false` and
   * `use_username_as_clientid true`, Hush gets `--password-file` without `--allow-anonymous` (it applies
   * use_username_as_clientid itself). Without one, both accept anonymous clients.
   */
  passwordFile?: string;
}

/** One broker of a pair, as the scripts see it. */
export interface BrokerSide {
  readonly name: BrokerName;
  readonly port: number;
  readonly url: string;
  log(): string;
  /** Connects a named client (MQTT.js, 3.1.1) whose deliveries are recorded under that name. */
  connect(name: string, options?: IClientOptions): Promise<TestClient>;
  /** Connects and reports 'ok' or `refused:<CONNACK code>`; nothing is recorded. */
  tryConnect(options: IClientOptions): Promise<string>;
  /** Every client connected under `name`, in order (a reconnect adds one). */
  clients(name: string): TestClient[];
  /** Closes every client this side opened. */
  endAll(): Promise<void>;
}

export interface BrokerPair {
  readonly mosquitto: BrokerSide;
  readonly hush: BrokerSide;
  stop(): Promise<void>;
}

function side(name: BrokerName, port: number, log: () => string): BrokerSide {
  const url = `mqtt://127.0.0.1:${port}`;
  const byName = new Map<string, TestClient[]>();
  const all: TestClient[] = [];
  return {
    name,
    port,
    url,
    log,
    async connect(clientName, options = {}) {
      const client = await connectClient(url, options);
      all.push(client);
      byName.set(clientName, [...(byName.get(clientName) ?? []), client]);
      return client;
    },
    tryConnect: (options) => tryConnect(url, options),
    clients: (clientName) => byName.get(clientName) ?? [],
    async endAll() {
      await Promise.all(all.splice(0).map((c) => c.end()));
      byName.clear();
    },
  };
}

/**
 * Starts Mosquitto, then Hush, with the same files. One at a time, and once more on failure: free ports
 * are picked by binding port 0 and releasing it, so two brokers starting together may race for one.
 */
export async function startBrokerPair(options: PairOptions): Promise<BrokerPair> {
  try {
    return await startBrokerPairOnce(options);
  } catch {
    return await startBrokerPairOnce(options);
  }
}

async function startBrokerPairOnce(options: PairOptions): Promise<BrokerPair> {
  const withPasswords = options.passwordFile !== undefined;
  const mosquitto = await startMosquitto({
    acl: options.acl,
    ...(withPasswords && { passwordFile: options.passwordFile }),
    allowAnonymous: !withPasswords,
    useUsernameAsClientId: withPasswords,
  });
  let hush: HushBrokerInstance;
  try {
    hush = await startHushBroker({
      acl: options.acl,
      ...(withPasswords && { passwordFile: options.passwordFile }),
      allowAnonymous: !withPasswords,
      extraArgs: HUSH_NO_RATE_LIMITS,
    });
  } catch (error) {
    await mosquitto.stop();
    throw error;
  }
  return pairOf(mosquitto, hush);
}

function pairOf(m: MosquittoInstance, h: HushBrokerInstance): BrokerPair {
  const pair = {
    mosquitto: side('mosquitto', m.mqttPort, m.log),
    hush: side('hush', h.mqttPort, h.log),
    async stop() {
      await Promise.all([pair.mosquitto.endAll(), pair.hush.endAll()]);
      await Promise.all([m.stop(), h.stop()]);
    },
  };
  return pair;
}

/** Runs the same script against both brokers at once and returns both results. */
export async function onBoth<T>(
  pair: BrokerPair,
  script: (side: BrokerSide) => Promise<T>,
): Promise<Record<BrokerName, T>> {
  const [mosquitto, hush] = await Promise.all([script(pair.mosquitto), script(pair.hush)]);
  return { mosquitto, hush };
}

/**
 * SUBSCRIBE with QoS 1 that reports the SUBACK return codes (0x80 = refused) instead of throwing, as
 * MQTT.js does when any filter is refused.
 */
export async function subscribe(client: TestClient, filters: readonly string[]): Promise<number[]> {
  if (filters.length === 0) return [];
  try {
    const granted = await client.client.subscribeAsync([...filters], { qos: 1 });
    return granted.map((g) => g.qos);
  } catch (error) {
    const suback = (error as { packet?: { granted?: number[] } }).packet;
    if (suback?.granted) return suback.granted;
    throw error;
  }
}

/** Polls a condition every 5 ms (no fixed sleeps); rejects with `what` after timeoutMs (generous: a loaded 2-core CI). */
export async function waitUntil(what: string, done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(`differential: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until `client` has received a message with this topic and payload. */
export function waitForMessage(client: TestClient, topic: string, payload: string, who: string) {
  return waitUntil(`${JSON.stringify(payload)} on ${JSON.stringify(topic)} at ${who}`, () =>
    client.received.some((m) => m.topic === topic && m.payload === payload),
  );
}

/**
 * Waits until `client` has received nothing new for `quietMs` (at most `maxMs`). Only for what no marker can
 * order: Aedes sends the retained messages of a SUBSCRIBE from a store stream after the SUBACK, and a marker
 * the subscriber publishes then can overtake them on a busy machine (CI saw it once); Mosquitto sends them with
 * the SUBACK.
 */
export async function settleQuiet(client: TestClient, quietMs = 200, maxMs = 3000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let count = client.received.length;
  let quietSince = Date.now();
  while (Date.now() < deadline && Date.now() - quietSince < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (client.received.length !== count) {
      count = client.received.length;
      quietSince = Date.now();
    }
  }
}

/** How one delivery is written in a delivery map: `topic ⟨payload⟩`, with ` [retained]` when flagged. */
export const deliveryKey = (m: Received, withRetain = false) =>
  `${m.topic} ⟨${m.payload}⟩${withRetain && m.retain ? ' [retained]' : ''}`;

/**
 * What each named client received, as sorted, de-duplicated delivery keys. De-duplicated because a
 * client whose filters overlap may get one copy per matching subscription; which messages reach it is
 * the ACL question, how many copies is not. `keep` filters out harness traffic such as markers.
 */
export type DeliveryMap = Record<string, string[]>;

export function deliveryMap(
  brokerSide: BrokerSide,
  names: readonly string[],
  options: { keep?: (m: Received) => boolean; withRetain?: boolean } = {},
): DeliveryMap {
  const keep = options.keep ?? (() => true);
  const map: DeliveryMap = {};
  for (const name of names) {
    const received = brokerSide.clients(name).flatMap((c) => c.received);
    map[name] = [...new Set(received.filter(keep).map((m) => deliveryKey(m, options.withRetain)))].sort();
  }
  return map;
}

/** Lists, per client, what only one broker delivered; empty when the maps agree. */
export function describeDifferences(maps: Record<BrokerName, DeliveryMap>): string[] {
  const out: string[] = [];
  const names = new Set([...Object.keys(maps.mosquitto), ...Object.keys(maps.hush)]);
  for (const name of names) {
    const m = new Set(maps.mosquitto[name] ?? []);
    const h = new Set(maps.hush[name] ?? []);
    for (const key of m) if (!h.has(key)) out.push(`${name}: only mosquitto delivered ${key}`);
    for (const key of h) if (!m.has(key)) out.push(`${name}: only hush delivered ${key}`);
  }
  return out;
}

/** Total number of deliveries in a map (to check a scenario is not vacuous). */
export const deliveryCount = (map: DeliveryMap) => Object.values(map).reduce((n, keys) => n + keys.length, 0);

/** A password file written by the real `mosquitto_passwd -b` (one call per user, as an admin would). */
export async function mosquittoPasswordFile(users: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hush-diff-passwd-'));
  try {
    const file = path.join(dir, 'passwd');
    let first = true;
    for (const [user, password] of Object.entries(users)) {
      const args = first ? ['-c', '-b', file, user, password] : ['-b', file, user, password];
      await promisify(execFile)('/usr/bin/mosquitto_passwd', args);
      first = false;
    }
    return await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * MQTT 3.1.1 filter matching (§4.7), for explaining observations, not for deciding them: `+` is one
 * level, `#` the rest (including the parent), and a filter starting with a wildcard never matches a
 * topic starting with `$`.
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Numbers the lines of an aclfile for an error message. */
export const numberedLines = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l, i) => `  ${String(i + 1).padStart(2)}  ${l}`)
    .join('\n');
