/**
 * Broker options: every limit the embedded broker enforces, with the defaults a small chat server
 * wants. Validated with zod because they arrive from the command line and config files.
 */
import { z } from 'zod';

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
  /** CONNECT packets per second from one remote address; 0 turns the limit off. */
  connectsPerSecondPerAddress: z.number().min(0).default(20),
  connectBurstPerAddress: z.number().int().min(1).default(50),
  /** QoS 1/2 messages kept for one persistent session (Mosquitto: max_queued_messages, default 1000). */
  maxQueuedMessages: z.number().int().positive().default(1000),
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
