/**
 * One MQTT connection as the auditor sees it: MQTT.js 5, protocol 3.1.1, no reconnects, wrapped so that
 * every step answers with an outcome instead of throwing. "Refused at CONNACK (code 5)", "SUBACK 0x80"
 * and "closed by the broker" are what the checks are looking for, so they are values here, not errors.
 * Every wait is bounded by the target's timeout; nothing here can hang a check.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** Where and how to connect; shared by every connection of a run. */
export interface ConnectionSettings {
  url: string;
  ca?: Buffer;
  insecure?: boolean;
  timeoutMs: number;
}

/** One CONNECT as a check wants it. */
export interface ConnectRequest {
  clientId: string;
  username?: string;
  password?: string;
  /** Default true. */
  clean?: boolean;
  will?: { topic: string; payload: string; qos: 0 | 1; retain: boolean };
}

export type ConnectOutcome =
  | { kind: 'accepted'; connection: AuditConnection }
  /** CONNACK with a non-zero return code (MQTT 3.1.1 §3.2.2.3). */
  | { kind: 'refused'; code: number; reason: string }
  /** The broker closed the connection before any CONNACK. */
  | { kind: 'closed'; reason: string }
  /** Network or TLS error, or no answer in time. */
  | { kind: 'failed'; reason: string };

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** granted, refused with SUBACK 0x80, or failed (no SUBACK: timeout or connection closed). */
export type SubscribeOutcome = 'granted' | 'refused' | 'failed';
/** acked (PUBACK for QoS 1, written for QoS 0) or failed (no PUBACK: dropped connection or timeout). */
export type PublishOutcome = 'acked' | 'failed';

const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad username or password',
  5: 'not authorized',
};

/** "code 5 (not authorized)" for findings. */
export function describeConnack(code: number): string {
  return `code ${code} (${CONNACK_REASONS[code] ?? 'unknown'})`;
}

/** Resolves after ms milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A connection the broker accepted. */
export class AuditConnection {
  readonly messages: ReceivedMessage[] = [];
  /** Set once the connection is gone, whoever closed it. */
  closed = false;
  /** True once this side asked to close; a close without it means the broker (or network) dropped us. */
  private closing = false;
  private readonly listeners = new Set<() => void>();

  /** CONNACK's session-present flag: the broker resumed an existing persistent session. */
  sessionPresent = false;

  /** Listens from the start: MQTT.js may emit queued messages before it emits 'connect'. */
  constructor(
    readonly client: MqttClient,
    private readonly timeoutMs: number,
  ) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, retain: packet.retain });
      this.notify();
    });
    client.on('close', () => {
      this.closed = true;
      this.notify();
    });
    // Errors after CONNACK end in 'close'; without a listener MQTT.js would throw them.
    client.on('error', () => undefined);
  }

  /** True when the broker (not this side) closed the connection. */
  get droppedByBroker(): boolean {
    return this.closed && !this.closing;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Resolves when test() holds (checked on every message and on close), or false after ms. */
  private until(test: () => boolean, ms: number): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const listener = () => {
        if (!test()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(test()), ms);
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(result);
      };
      this.listeners.add(listener);
    });
  }

  /** Subscribes one filter and reads the SUBACK. */
  subscribe(filter: string, qos: 0 | 1 = 1): Promise<SubscribeOutcome> {
    if (this.closed) return Promise.resolve('failed');
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('failed'), this.timeoutMs);
      this.client.subscribe(filter, { qos }, (error, _granted, packet) => {
        clearTimeout(timer);
        // MQTT.js turns a 0x80 return code into an error; the SUBACK packet still carries the code.
        const codes = (packet as { granted?: number[] } | undefined)?.granted ?? [];
        if (codes.some((code) => (code & 0x80) !== 0)) resolve('refused');
        else resolve(error ? 'failed' : 'granted');
      });
      void this.until(() => this.closed, this.timeoutMs).then((closed) => {
        if (closed) {
          clearTimeout(timer);
          resolve('failed');
        }
      });
    });
  }

  /** Publishes and waits for the PUBACK (QoS 1); 'failed' if the broker dropped the connection instead. */
  publish(
    topic: string,
    payload: string,
    options: { qos?: 0 | 1; retain?: boolean } = {},
  ): Promise<PublishOutcome> {
    if (this.closed) return Promise.resolve('failed');
    return new Promise((resolve) => {
      let done = false;
      const finish = (outcome: PublishOutcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => finish('failed'), this.timeoutMs);
      this.client.publish(
        topic,
        payload,
        { qos: options.qos ?? 1, retain: options.retain ?? false },
        (error) => finish(error ? 'failed' : 'acked'),
      );
      void this.until(() => this.closed, this.timeoutMs).then((closed) => closed && finish('failed'));
    });
  }

  /** The first message (already received or arriving within ms) that satisfies test. */
  async waitForMessage(
    test: (m: ReceivedMessage) => boolean,
    ms: number,
  ): Promise<ReceivedMessage | undefined> {
    await this.until(() => this.messages.some(test) || this.closed, ms);
    return this.messages.find(test);
  }

  /** Resolves true if the connection closes within ms. */
  waitClosed(ms: number): Promise<boolean> {
    return this.until(() => this.closed, ms);
  }

  /** Clean DISCONNECT (the will is discarded), bounded; forces the socket shut if the broker is slow. */
  async end(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    const ended = new Promise<void>((resolve) => this.client.end(false, {}, () => resolve()));
    const timer = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.timeoutMs).unref(),
    );
    if ((await Promise.race([ended, timer])) === 'timeout') this.client.end(true);
    await this.waitClosed(Math.min(this.timeoutMs, 1000));
  }

  /**
   * Stops reading from the broker, as a client that stalls on its socket: the message being handled is
   * held, so MQTT.js stops parsing, the stream stops being read and TCP (or the WebSocket) pushes back on
   * the broker. Until resume(), at most the one held message is recorded.
   */
  stall(): void {
    if (this.held !== undefined) return;
    this.held = [];
    this.client.handleMessage = (_packet, callback) => {
      if (this.held) this.held.push(callback);
      else callback();
    };
  }

  /** Reads again after stall(): releases the held message and everything behind it. */
  resume(): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.client.handleMessage = (_packet, callback) => callback();
    for (const callback of held) callback();
  }

  private held: Array<(error?: Error) => void> | undefined;

  /** Drops the socket without DISCONNECT, as a crashed client would: the broker publishes the will. */
  drop(): void {
    this.closing = true;
    this.client.end(true);
  }
}

/** Connects once and reports how the broker answered. */
export function openConnection(
  settings: ConnectionSettings,
  request: ConnectRequest,
): Promise<ConnectOutcome> {
  const options: IClientOptions = {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: settings.timeoutMs,
    keepalive: 60,
    clientId: request.clientId,
    clean: request.clean ?? true,
    resubscribe: false,
    rejectUnauthorized: !settings.insecure,
  };
  if (request.username !== undefined) options.username = request.username;
  if (request.password !== undefined) options.password = request.password;
  if (settings.ca) options.ca = settings.ca;
  if (request.will) options.will = { ...request.will };
  return new Promise((resolve) => {
    let settled = false;
    let client: MqttClient;
    const settle = (outcome: ConnectOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome.kind !== 'accepted') client.end(true);
      resolve(outcome);
    };
    const timer = setTimeout(
      () => settle({ kind: 'failed', reason: `no CONNACK within ${settings.timeoutMs} ms` }),
      settings.timeoutMs + 500,
    );
    try {
      client = mqtt.connect(settings.url, options);
    } catch (error) {
      clearTimeout(timer);
      resolve({ kind: 'failed', reason: (error as Error).message });
      return;
    }
    const connection = new AuditConnection(client, settings.timeoutMs);
    client.once('connect', (connack) => {
      connection.sessionPresent = connack.sessionPresent;
      settle({ kind: 'accepted', connection });
    });
    client.on('error', (error: Error & { code?: number | string }) => {
      if (typeof error.code === 'number' && error.code > 0 && error.code < 6) {
        settle({ kind: 'refused', code: error.code, reason: describeConnack(error.code) });
      } else if (error.message === 'connack timeout') {
        settle({ kind: 'failed', reason: `no CONNACK within ${settings.timeoutMs} ms` });
      } else {
        settle({ kind: 'failed', reason: error.message });
      }
    });
    client.once('close', () => settle({ kind: 'closed', reason: 'connection closed before CONNACK' }));
  });
}

/** openConnection, retried with backoff while the broker answers "server unavailable" (rate limits). */
export async function openConnectionPatiently(
  settings: ConnectionSettings,
  request: ConnectRequest,
): Promise<ConnectOutcome> {
  let outcome = await openConnection(settings, request);
  for (let delay = 250; outcome.kind === 'refused' && outcome.code === 3 && delay <= 2000; delay *= 2) {
    await sleep(delay);
    outcome = await openConnection(settings, request);
  }
  return outcome;
}
