/**
 * Broker options: every limit the embedded broker enforces, with the defaults a small chat server
 * wants. Validated with zod because they arrive from the command line and config files.
 */
import { z } from 'zod';
import { trustedProxyProblem } from './limits/client-address.ts';

export const limitsSchema = z.object({
  /** Largest MQTT packet accepted (fixed header included), over TCP and WebSocket alike. */
  maxPacketBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /** Topic levels allowed in a PUBLISH topic or SUBSCRIBE filter. */
  maxTopicLevels: z.number().int().min(1).max(100).default(16),
  /** Concurrent client connections; the next CONNECT gets return code 3 (server unavailable). */
  maxConnections: z.number().int().positive().default(10_000),
  /** Sustained PUBLISH packets per second per client; 0 turns the limit off. */
  publishPerSecond: z.number().min(0).default(200),
  /** Burst allowance on top of publishPerSecond. */
  publishBurst: z.number().int().min(1).default(400),
  /**
   * CONNECTs per second from one client address (IPv6: one /64) by clients without an account (no password
   * file, or no username); 0 turns off every CONNECT rate limit below as well (tests, benchmarks).
   * The scheme is described in src/broker/access.ts (connect limits) and docs/SECURITY.md.
   */
  connectsPerSecondPerAddress: z.number().min(0).default(20),
  connectBurstPerAddress: z.number().int().min(1).default(50),
  /** Accepted CONNECTs per second per account (username with a password), drawn only after a correct password. */
  connectsPerSecondPerAccount: z.number().min(0).default(5),
  connectBurstPerAccount: z.number().int().min(1).default(20),
  /** Failed password checks per second from one client address before its password checks stop for a while. */
  failedLoginsPerSecondPerAddress: z.number().min(0).default(5),
  failedLoginsBurstPerAddress: z.number().int().min(1).default(50),
  /** Failed password checks per second against one account, the fallback when its address is over its rate. */
  failedLoginsPerSecondPerAccount: z.number().min(0).default(0.5),
  failedLoginsBurstPerAccount: z.number().int().min(1).default(10),
  /** Correct username/password pairs remembered (as an HMAC) so a reconnect skips PBKDF2; 0 = none. */
  verifiedPasswordCacheSize: z.number().int().min(0).default(100_000),
  /** QoS 1/2 messages kept for one persistent session (Mosquitto: max_queued_messages, default 1000). */
  maxQueuedMessages: z.number().int().positive().default(1000),
  /** Bytes (topic + payload) kept for one persistent session (Mosquitto: max_queued_bytes, default unlimited). */
  maxQueuedBytes: z
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024),
  /**
   * Share of one client's queue (messages and bytes) a single sender may fill, so one writer cannot flush an
   * offline victim's queue of everyone else's messages (Mosquitto has no equivalent).
   */
  maxQueuedShare: z.number().gt(0).max(1).default(0.5),
  /** Messages queued for all sessions together, and their bytes: the disk and memory the queues may take. */
  maxQueuedMessagesTotal: z.number().int().positive().default(1_000_000),
  maxQueuedBytesTotal: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024 * 1024),
  /**
   * Bytes waiting in one connection's outgoing buffer (a reader that stops reading its socket). Past it the
   * connection is closed: its queued QoS 1 messages stay stored for its session (Mosquitto: max_queued_bytes
   * also bounds this; it drops, then disconnects).
   */
  maxOutgoingBytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  /** A connection whose socket has not drained for this long is closed (Aedes drainTimeout). */
  drainTimeoutMs: z.number().int().positive().default(30_000),
  /**
   * QoS 2 publishes received and not yet released (PUBREL) per client id, kept across reconnects, and their
   * bytes (Mosquitto: max_inflight_messages / max_inflight_bytes, per connection).
   */
  maxIncomingQos2: z.number().int().positive().default(64),
  maxIncomingQos2Bytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** Retained messages kept broker-wide, and their bytes (Mosquitto: unlimited). */
  maxRetainedMessages: z.number().int().positive().default(10_000),
  maxRetainedBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  /**
   * Resident memory (MiB) above which the broker refuses new connections and publishes and closes the connections
   * with the largest outgoing buffers, before the operating system kills the process. 0 turns the guard off.
   */
  maxMemoryMb: z.number().int().min(0).default(1536),
  /** A persistent session not reconnected for this long is removed (Mosquitto: persistent_client_expiration). */
  sessionExpirySeconds: z
    .number()
    .int()
    .positive()
    .default(30 * 24 * 3600),
  /** Time a client has to send CONNECT after opening the connection. */
  connectTimeoutMs: z.number().int().positive().default(10_000),
});

export type BrokerLimits = z.infer<typeof limitsSchema>;

export const brokerOptionsSchema = z.object({
  host: z.string().default('127.0.0.1'),
  /** 0 picks a free port; undefined turns the listener off. */
  mqttPort: z.number().int().min(0).max(65535).optional(),
  wsPort: z.number().int().min(0).max(65535).optional(),
  tlsCertFile: z.string().optional(),
  tlsKeyFile: z.string().optional(),
  aclFile: z.string().optional(),
  passwordFile: z.string().optional(),
  allowAnonymous: z.boolean().default(false),
  /** With a data directory, sessions, queues and retained messages survive a restart. */
  dataDir: z.string().optional(),
  /** Anyone may write to an inbox, so a retained message there would greet every future reader. */
  retainAvailable: z.boolean().default(true),
  /**
   * Reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For header names the client of a
   * WebSocket connection, for rate limits; the header from anyone else is ignored.
   */
  trustedProxies: z
    .array(
      z.string().superRefine((entry, ctx) => {
        const problem = trustedProxyProblem(entry);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .default([]),
  limits: limitsSchema.default(limitsSchema.parse({})),
});

export type BrokerOptions = z.input<typeof brokerOptionsSchema>;
export type ResolvedBrokerOptions = z.infer<typeof brokerOptionsSchema>;

/** Validates broker options and fills in defaults; throws with every problem listed. */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const parsed = brokerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`);
    throw new Error(`broker: invalid options: ${problems.join('; ')}`);
  }
  const resolved = parsed.data;
  if ((resolved.tlsCertFile === undefined) !== (resolved.tlsKeyFile === undefined)) {
    throw new Error('broker: --tls-cert and --tls-key must be given together');
  }
  if (resolved.passwordFile === undefined && !resolved.allowAnonymous) {
    throw new Error(
      'broker: refusing to start an open broker: give --password-file FILE, or --allow-anonymous to accept clients without a password',
    );
  }
  if (resolved.mqttPort === undefined && resolved.wsPort === undefined) {
    throw new Error('broker: no listener: give --mqtt-port and/or --ws-port');
  }
  return resolved;
}
