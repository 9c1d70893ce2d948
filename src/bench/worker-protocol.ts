// Messages between the broker benchmark and its load-generator processes (over the Node IPC channel).
import type { Transport } from './lean-mqtt.ts';

export interface Account {
  username: string;
  password: string;
}

/** The inbox topic a Hush client reads (`pattern read chats/%c/messages`). */
export function inboxOf(username: string): string {
  return `chats/${username}/messages`;
}

export type WorkerRequest =
  | {
      type: 'setup';
      transport: Transport;
      port: number;
      /** Clients that subscribe to their own inbox and acknowledge what arrives. */
      receivers: Account[];
      /** Clients that publish, round-robin over the inboxes of `targets`. */
      senders: Array<{ account: Account; targets: string[] }>;
      /** QoS 1 publishes each sender keeps unacknowledged at most. */
      window: number;
      payloadBytes: number;
    }
  /** Sends as fast as the windows allow for durationMs, then waits for every PUBACK. */
  | { type: 'saturate'; durationMs: number }
  /** Sends perSecond messages per second (spread over the senders) for durationMs, recording latency. */
  | { type: 'rate'; perSecond: number; durationMs: number }
  /** Counts so far (receivers keep counting after their senders finished). */
  | { type: 'count' }
  /** Opens idle connections (CONNECT, clean session) `concurrency` at a time and keeps them. */
  | { type: 'open'; transport: Transport; port: number; accounts: Account[]; concurrency: number }
  /** Closes every connection this worker holds. */
  | { type: 'teardown' };

export type WorkerReply =
  | { type: 'ready'; connections: number }
  | { type: 'done'; sent: number; received: number; latenciesMs: number[] }
  | { type: 'opened'; ok: number; refused: number; startMs: number; endMs: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };
