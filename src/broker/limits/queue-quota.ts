/**
 * Bounds on the messages the broker stores for persistent sessions: per client (messages and bytes, like
 * Mosquitto's max_queued_messages and max_queued_bytes), per sender within one client's queue (so one writer
 * cannot flush an offline victim's queue of everyone else's messages), and for all clients together (the
 * disk or memory the queues may take). It also remembers what it refused for each client, so the owner can be
 * told on its next connect instead of losing messages silently.
 *
 * Counts are kept in memory for the messages stored by this process: after a restart the messages already on
 * disk are delivered but not counted, so a queue may briefly hold up to twice its bound (never more per
 * restart). A pure bookkeeping class, testable without a broker.
 */

/** The bounds, from the broker's limits. */
export interface QueueQuotaLimits {
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  /** Share (0..1] of one client's bounds one sender may use. */
  maxQueuedShare: number;
  maxQueuedMessagesTotal: number;
  maxQueuedBytesTotal: number;
}

/** Why a message was not stored for a client. */
export type QueueRefusal = 'client-messages' | 'client-bytes' | 'sender-share' | 'all-queues';

/** What was refused for one client since its owner was last told. */
export interface DroppedForClient {
  messages: number;
  bytes: number;
  /** Time of the first refusal, ms since the epoch. */
  since: number;
}

interface SenderUse {
  messages: number;
  bytes: number;
}

interface ClientQueue {
  messages: number;
  bytes: number;
  bySender: Map<string, SenderUse>;
  /** Stored message (by its broker counter) → who sent it and its size, to give the space back. */
  entries: Map<number, { sender: string; bytes: number }>;
}

/** Most clients whose refusals are remembered (each entry is a few numbers). */
const MAX_DROPPED_ENTRIES = 100_000;

/** Per-client, per-sender and global bounds on stored messages. */
export class QueueQuota {
  private readonly queues = new Map<string, ClientQueue>();
  private readonly dropped = new Map<string, DroppedForClient>();
  private totalMessages = 0;
  private totalBytes = 0;

  constructor(private readonly limits: QueueQuotaLimits) {}

  /** Messages and bytes stored for all clients (counted by this process). */
  get totals(): { messages: number; bytes: number } {
    return { messages: this.totalMessages, bytes: this.totalBytes };
  }

  /** What is stored for one client (counted by this process). */
  usage(clientId: string): { messages: number; bytes: number } {
    const queue = this.queues.get(clientId);
    return { messages: queue?.messages ?? 0, bytes: queue?.bytes ?? 0 };
  }

  /**
   * Reserves room for one message (`key`: its broker counter) from `sender` to `clientId`; returns why not when
   * it does not fit, after recording the refusal for the client's owner.
   */
  admit(
    clientId: string,
    sender: string,
    key: number,
    bytes: number,
    now = Date.now(),
  ): QueueRefusal | undefined {
    const queue = this.queues.get(clientId);
    const refusal = this.refusal(queue, sender, bytes);
    if (refusal !== undefined) {
      this.recordDrop(clientId, bytes, now);
      return refusal;
    }
    const q = queue ?? { messages: 0, bytes: 0, bySender: new Map(), entries: new Map() };
    if (queue === undefined) this.queues.set(clientId, q);
    q.messages++;
    q.bytes += bytes;
    const use = q.bySender.get(sender);
    if (use) {
      use.messages++;
      use.bytes += bytes;
    } else q.bySender.set(sender, { messages: 1, bytes });
    q.entries.set(key, { sender, bytes });
    this.totalMessages++;
    this.totalBytes += bytes;
    return undefined;
  }

  /** Gives back the room of a message that left the client's queue (acknowledged, or its session dropped). */
  release(clientId: string, key: number | undefined): void {
    const queue = this.queues.get(clientId);
    if (queue === undefined || key === undefined) return;
    const entry = queue.entries.get(key);
    if (entry === undefined) return; // stored before this process started: never counted
    queue.entries.delete(key);
    queue.messages--;
    queue.bytes -= entry.bytes;
    this.totalMessages--;
    this.totalBytes -= entry.bytes;
    const use = queue.bySender.get(entry.sender);
    if (use) {
      use.messages--;
      use.bytes -= entry.bytes;
      if (use.messages <= 0) queue.bySender.delete(entry.sender);
    }
    if (queue.messages <= 0) this.queues.delete(clientId);
  }

  /** Forgets everything stored for a client (its session was removed). */
  forget(clientId: string): void {
    const queue = this.queues.get(clientId);
    if (queue) for (const key of [...queue.entries.keys()]) this.release(clientId, key);
    this.queues.delete(clientId);
    this.dropped.delete(clientId);
  }

  /** Returns and clears what was refused for a client since the last call (undefined: nothing). */
  takeDropped(clientId: string): DroppedForClient | undefined {
    const dropped = this.dropped.get(clientId);
    if (dropped) this.dropped.delete(clientId);
    return dropped;
  }

  /** Puts back a notice that could not be delivered, adding anything refused meanwhile. */
  restoreDropped(clientId: string, notice: DroppedForClient): void {
    const now = this.dropped.get(clientId);
    this.dropped.set(clientId, {
      messages: notice.messages + (now?.messages ?? 0),
      bytes: notice.bytes + (now?.bytes ?? 0),
      since: Math.min(notice.since, now?.since ?? notice.since),
    });
  }

  private refusal(queue: ClientQueue | undefined, sender: string, bytes: number): QueueRefusal | undefined {
    const l = this.limits;
    if (
      this.totalMessages + 1 > l.maxQueuedMessagesTotal ||
      this.totalBytes + bytes > l.maxQueuedBytesTotal
    ) {
      return 'all-queues';
    }
    const messages = queue?.messages ?? 0;
    const used = queue?.bytes ?? 0;
    if (messages + 1 > l.maxQueuedMessages) return 'client-messages';
    if (used + bytes > l.maxQueuedBytes) return 'client-bytes';
    const use = queue?.bySender.get(sender);
    if (
      (use?.messages ?? 0) + 1 > Math.max(1, Math.floor(l.maxQueuedMessages * l.maxQueuedShare)) ||
      (use?.bytes ?? 0) + bytes > Math.max(1, Math.floor(l.maxQueuedBytes * l.maxQueuedShare))
    ) {
      return 'sender-share';
    }
    return undefined;
  }

  private recordDrop(clientId: string, bytes: number, now: number): void {
    const dropped = this.dropped.get(clientId);
    if (dropped) {
      dropped.messages++;
      dropped.bytes += bytes;
      return;
    }
    // Bounded: with more clients than this refused at once, the oldest notices go (their owners still see
    // the senders' sequence gaps).
    if (this.dropped.size >= MAX_DROPPED_ENTRIES) {
      const oldest = this.dropped.keys().next().value;
      if (oldest !== undefined) this.dropped.delete(oldest);
    }
    this.dropped.set(clientId, { messages: 1, bytes, since: now });
  }
}
