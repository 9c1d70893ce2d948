/**
 * One device's MQTT connection (MQTT.js 5, MQTT 3.1.1): persistent session (clean: false), username = client id,
 * password = device secret, QoS 1 subscription to the device's EXACT inbox topic only (the one filter that is safe
 * on every broker, DESIGN.md), keepalive 30 s.
 *
 * MQTT.js reconnects at a fixed period and fights a second connection with the same id forever, so it runs with
 * reconnectPeriod 0 and this class reconnects itself: exponential backoff with full jitter (backoff.ts), a fresh
 * MqttClient per attempt. CONNACK 2/4/5 stops with 'auth-failed' (no loop). A session closed by the broker again and
 * again shortly after it was accepted means another connection with the same id is taking it over: state
 * 'replaced', a 'second-connection' warning, and no more reconnects. A reconnect whose CONNACK says the session is
 * gone (sessionPresent = false) is a 'queue-gap' warning: queued messages may have been lost.
 *
 * A `$hush/queue/dropped` notice from the embedded broker (queue-notice.ts: messages for this device were dropped
 * while it was offline because its queue was full) is a 'queue-overflow' warning and a 'queue-dropped' event; a
 * malformed one is refused with a 'queue-overflow' warning saying so, never thrown.
 *
 * Exactly-once for the application: `handleMessage` holds each QoS 1 PUBACK until `onMessage` has stored the
 * message's effects; if that fails the connection is dropped unacknowledged and the broker redelivers.
 */

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { TypedEmitter } from './emitter.ts';
import type { ConnectionState, HushWarning } from './api.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { HushClientError } from './errors.ts';
import {
  describeQueueDropped,
  parseQueueDroppedNotice,
  QUEUE_DROPPED_TOPIC,
  type QueueDroppedNotice,
} from './queue-notice.ts';

export interface ConnectionOptions {
  url: string;
  clientId: string;
  password: string;
  inbox: string;
  /**
   * Seed mode: connect without username and password (an anonymous broker, where the client id is the only
   * secret; docs/PROTOCOL.md §11). `password` is then ignored.
   */
  anonymous?: boolean;
  /** Handles one inbox message; for QoS 1 the PUBACK waits until the promise resolves. */
  onMessage: (payload: Uint8Array, info: { qos: number; dup: boolean }) => Promise<void>;
  /** True if the broker already held a session for this device (a missing one is then a 'queue-gap'). */
  expectSession?: boolean;
  backoff?: BackoffOptions;
  /** A session that the broker closes sooner than this after CONNACK counts as a takeover strike (10 s). */
  shortSessionMs?: number;
  /** Strikes in a row after which the connection gives up as 'replaced' (3). */
  strikesToGiveUp?: number;
  connectTimeoutMs?: number;
  /** Extra MQTT.js options (TLS `ca`, `wsOptions`…); the security-relevant ones above always win. */
  mqttOptions?: Partial<IClientOptions>;
}

export interface ConnectionEvents {
  state: [{ state: ConnectionState; detail?: string }];
  warning: [HushWarning];
  /** Connected and subscribed; `generation` counts connections, for in-flight bookkeeping. */
  online: [{ generation: number; sessionPresent: boolean }];
  /** The broker dropped messages for this device while it was offline (a validated notice, see queue-notice.ts). */
  'queue-dropped': [QueueDroppedNotice];
  /** Something went wrong that the caller may want to log (a handler failure); the connection recovers. */
  problem: [Error];
}

const FATAL_CONNACK: Record<number, string> = {
  2: 'the broker refused the client id (identifier rejected)',
  4: 'bad username or password: the device secret is wrong or the device was revoked',
  5: 'not authorized: the broker refused this device',
};

type Waiter = { resolve: () => void; reject: (error: Error) => void };

/** Converts bytes to what MQTT.js writes as binary (a Buffer in Node; MQTT.js's Buffer polyfill in browsers). */
function toPayload(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: { from(b: ArrayBufferLike, o: number, l: number): Uint8Array } })
    .Buffer;
  return B ? B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

export class HushConnection extends TypedEmitter<ConnectionEvents> {
  readonly #options: ConnectionOptions;
  #state: ConnectionState = 'offline';
  #client: MqttClient | undefined;
  #generation = 0;
  #attempt = 0;
  #strikes = 0;
  #expectSession: boolean;
  #stopped = true;
  #fatal: HushClientError | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: Waiter[] = [];

  constructor(options: ConnectionOptions) {
    super();
    if (/[+#]/.test(options.inbox))
      throw new HushClientError('not-allowed', 'connection: the inbox must be an exact topic, no wildcards');
    this.#options = options;
    this.#expectSession = options.expectSession ?? false;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get online(): boolean {
    return this.#state === 'online';
  }

  /** The current connection's generation (changes on every reconnect). */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Connects (and keeps reconnecting) until close(). Resolves when online; rejects on 'auth-failed', 'replaced',
   * or close() before the first success. Network failures are retried, never thrown.
   */
  connect(): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#state === 'online') return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#stopped) {
      this.#stopped = false;
      this.#attemptConnect();
    }
    return done;
  }

  /** Ends the connection and stops reconnecting. */
  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#settle(new HushClientError('closed', 'connection: closed'));
    const client = this.#client;
    this.#client = undefined;
    this.#generation++;
    if (client) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => client.end(true, {}, () => resolve()), 1000);
        client.end(false, {}, () => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    if (!this.#fatal) this.#setState('offline');
  }

  /**
   * Publishes at QoS 1 and resolves on PUBACK. Rejects 'offline' when not connected: the SDK's outbox, not
   * MQTT.js's memory queue, keeps what must survive.
   */
  publish(topic: string, payload: Uint8Array): Promise<void> {
    const client = this.#client;
    if (!client || this.#state !== 'online')
      return Promise.reject(new HushClientError('offline', 'connection: not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, toPayload(payload) as never, { qos: 1, retain: false }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }

  /** Publishes at QoS 0 when online; dropped when offline (typing, presence: never queued). */
  publishEphemeral(topic: string, payload: Uint8Array): boolean {
    const client = this.#client;
    if (!client || this.#state !== 'online') return false;
    client.publish(topic, toPayload(payload) as never, { qos: 0, retain: false });
    return true;
  }

  /** Turns a queue notice into a warning (and, when valid, a 'queue-dropped' event); never throws. */
  #queueNotice(payload: Uint8Array): void {
    const result = parseQueueDroppedNotice(payload);
    if (!result.ok) {
      this.emit('warning', {
        code: 'queue-overflow',
        detail: `connection: ignored a queue notice from the broker: ${result.reason}`,
      });
      return;
    }
    this.emit('warning', {
      code: 'queue-overflow',
      count: result.notice.dropped,
      detail: describeQueueDropped(result.notice),
    });
    this.emit('queue-dropped', result.notice);
  }

  #setState(state: ConnectionState, detail?: string): void {
    if (this.#state === state && detail === undefined) return;
    this.#state = state;
    this.emit('state', detail !== undefined ? { state, detail } : { state });
  }

  #settle(error?: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  #stopFatal(state: 'auth-failed' | 'replaced', error: HushClientError): void {
    this.#fatal = error;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#generation++;
    client?.end(true);
    this.#setState(state, error.message);
    this.#settle(error);
  }

  #attemptConnect(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const options = this.#options;
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    if (this.#state !== 'connecting' && this.#state !== 'reconnecting')
      this.#setState(this.#attempt === 0 && !this.#expectSession ? 'connecting' : 'reconnecting');
    let connectedAt: number | undefined;
    let sawError = false;
    const client = mqtt.connect(options.url, {
      // Browsers: no blob worker for timers (CSP worker-src); harmless in Node.
      timerVariant: 'native',
      ...options.mqttOptions,
      protocolVersion: 4,
      clean: false,
      clientId: options.clientId,
      ...(options.anonymous
        ? { username: undefined, password: undefined }
        : { username: options.clientId, password: options.password }),
      keepalive: 30,
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      resubscribe: false,
      queueQoSZero: false,
    });
    // MQTT.js sends the PUBACK of a QoS 1 message only after handleMessage calls back (its customHandleAcks option
    // is MQTT 5 only), so the ack waits here until the SDK has stored the message's effects.
    client.handleMessage = (packet, callback) => {
      const topic = packet.topic.toString();
      if (!current()) return callback();
      const payload =
        typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : packet.payload;
      if (topic === QUEUE_DROPPED_TOPIC) {
        this.#queueNotice(new Uint8Array(payload));
        return callback();
      }
      if (topic !== options.inbox) return callback();
      options.onMessage(new Uint8Array(payload), { qos: packet.qos, dup: packet.dup }).then(
        () => callback(),
        (error: unknown) => {
          // Not stored, so not acknowledged: drop the connection; the broker redelivers on reconnect.
          this.emit('problem', error instanceof Error ? error : new Error(String(error)));
          client.end(true);
        },
      );
    };
    this.#client = client;

    client.on('connect', (connack) => {
      if (!current()) return;
      if (this.#expectSession && !connack.sessionPresent) {
        this.emit('warning', {
          code: 'queue-gap',
          detail:
            'the broker no longer had this device’s session (expired or reset): messages sent while it was offline may be lost',
        });
      }
      client.subscribe(options.inbox, { qos: 1 }, (error, granted) => {
        if (!current()) return;
        if (error) {
          // The connection broke between CONNACK and SUBACK (a network cut, a broker going away): not a
          // refusal. Dropping it lets the close handler reconnect with backoff.
          client.end(true);
          return;
        }
        const refused = granted?.[0]?.qos === 128 ? new Error('SUBACK 0x80') : undefined;
        if (refused) {
          this.#stopFatal(
            'auth-failed',
            new HushClientError(
              'auth-failed',
              `connection: the broker refused the subscription to ${options.inbox} (${refused.message}); check the inbox pattern and the ACL`,
            ),
          );
          return;
        }
        connectedAt = Date.now();
        this.#expectSession = true;
        this.#setState('online');
        this.emit('online', { generation, sessionPresent: connack.sessionPresent });
        this.#settle();
      });
    });

    client.on('error', (error: Error & { code?: number | string }) => {
      if (!current()) return;
      sawError = true;
      const code = typeof error.code === 'number' ? error.code : undefined;
      if (code !== undefined && FATAL_CONNACK[code]) {
        this.#stopFatal(
          'auth-failed',
          new HushClientError('auth-failed', `connection: ${FATAL_CONNACK[code]} (CONNACK ${code})`),
        );
      }
    });

    client.on('close', () => {
      if (!current() || this.#stopped) return;
      this.#client = undefined;
      const lived = connectedAt === undefined ? undefined : Date.now() - connectedAt;
      const short = this.#options.shortSessionMs ?? 10_000;
      if (lived !== undefined) {
        if (lived >= short) {
          this.#attempt = 0;
          this.#strikes = 0;
        } else if (!sawError) {
          this.#strikes++;
          if (this.#strikes >= (this.#options.strikesToGiveUp ?? 3)) {
            const message =
              'connection: another connection with this device’s id keeps taking the session over (a second tab or process on the same profile); stopped reconnecting';
            this.emit('warning', { code: 'second-connection', detail: message });
            this.#stopFatal('replaced', new HushClientError('replaced', message));
            return;
          }
        }
      }
      this.#setState('reconnecting');
      const delay = backoffDelay(this.#attempt++, this.#options.backoff);
      this.#timer = setTimeout(() => this.#attemptConnect(), delay);
    });
  }
}
