/**
 * Session storage for the embedded broker: Aedes' in-memory persistence, or LevelDB on disk with
 * `--data-dir`, wrapped so that offline queues are bounded and filtered.
 *
 * Aedes stores a QoS 1 message for every persistent subscription whose filter matches, before any READ
 * check (that happens on delivery, in authorizeForward). An attacker subscribed to `#` with a persistent
 * session would therefore collect everyone's messages on disk without ever receiving them. The wrapper
 * runs the READ check at enqueue time too, and caps each client's queue like Mosquitto's
 * `max_queued_messages`.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import memoryModule from 'aedes-persistence';
import levelModule from 'aedes-persistence-level';
import { ClassicLevel } from 'classic-level';
import { TopicMatchCache } from './topic-match-cache.ts';
import type { QueueQuota, QueueRefusal } from './limits/queue-quota.ts';

// Both packages are CommonJS whose module.exports is the factory; their typings describe an ES default.
const memoryPersistence = memoryModule as unknown as () => AedesPersistence;
const levelPersistence = levelModule as unknown as (db: ClassicLevel) => AedesPersistence;

interface QueuedSubscription {
  clientId: string;
  topic: string;
  qos: number;
}
interface PacketLike {
  topic: string;
  messageId?: number;
  payload?: Uint8Array | string;
  brokerId?: string;
  brokerCounter?: number;
}

/** The subset of the Aedes persistence interface this wrapper intercepts. */
export interface AedesPersistence {
  outgoingEnqueue(sub: QueuedSubscription, packet: PacketLike): Promise<void>;
  outgoingEnqueueCombi(subs: QueuedSubscription[], packet: PacketLike): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: PacketLike): Promise<unknown>;
  outgoingStream(client: { id: string }): AsyncIterable<PacketLike>;
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  subscriptionsByClient(client: { id: string }): Promise<unknown[] | null>;
  subscriptionsByTopic(topic: string): Promise<QueuedSubscription[]>;
  addSubscriptions(client: { id: string }, subs: unknown[]): Promise<unknown>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<unknown>;
  destroy?(): Promise<void>;
  [key: string]: unknown;
}

export interface QueuePolicy {
  /** Per-client, per-sender and global bounds on what is stored (limits/queue-quota.ts). */
  quota: QueueQuota;
  /** READ check for a (possibly offline) client; false = never store the message for it. */
  mayQueue(clientId: string, topic: string): boolean;
  /** Who published a packet (a client id, or '' for the broker itself). */
  senderOf(packet: PacketLike): string;
  /** Told once per message not stored because a bound was reached. */
  onQueueFull(clientId: string, reason: QueueRefusal, usage: { messages: number; bytes: number }): void;
  /** Limits on QoS 2 publishes stored until PUBREL, per client id and across reconnects. */
  maxIncomingQos2: number;
  maxIncomingQos2Bytes: number;
  /** Broker-wide limits on retained messages. */
  maxRetainedMessages: number;
  maxRetainedBytes: number;
}

/** Size a stored packet is charged for: topic and payload, the parts a client chooses. */
export function packetBytes(packet: PacketLike): number {
  const payload = packet.payload;
  const payloadBytes =
    payload === undefined ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  return payloadBytes + packet.topic.length;
}

const DONE: Promise<void> = Promise.resolve();

/**
 * MQTT 3.1.1 §4.7.2: a filter starting with a wildcard never matches a `$` topic, but Aedes' subscription
 * index does not apply that rule; Mosquitto does.
 */
function eligible(sub: QueuedSubscription, dollarTopic: boolean): boolean {
  return !dollarTopic || sub.topic.charCodeAt(0) === 36;
}

/** Opens memory or LevelDB persistence and applies the queue policy to it. */
export async function createPersistence(
  dataDir: string | undefined,
  policy: QueuePolicy,
): Promise<{ persistence: AedesPersistence; setBrokerId(id: string): void; close(): Promise<void> }> {
  let persistence: AedesPersistence;
  let db: ClassicLevel | undefined;
  if (dataDir) {
    try {
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new Error(
        `cannot use data directory ${dataDir}: ${(error as Error).message}; a file is in the way: move it aside or give another --data-dir`,
      );
    }
    db = new ClassicLevel(path.join(dataDir, 'broker.db'));
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new Error(
        `cannot open the broker database ${path.join(dataDir, 'broker.db')}: ${cause}; restore it from a backup, or move it aside to start with empty sessions`,
      );
    }
    persistence = levelPersistence(db);
  } else {
    persistence = memoryPersistence();
  }
  // Counters of this broker process's packets are only unique together with its id (set once Aedes exists).
  let currentBrokerId: string | undefined;
  const quota = policy.quota;
  const admit = (sub: QueuedSubscription, packet: PacketLike): boolean => {
    if (!policy.mayQueue(sub.clientId, packet.topic)) return false;
    const refusal = quota.admit(
      sub.clientId,
      policy.senderOf(packet),
      packet.brokerCounter ?? -1,
      packetBytes(packet),
    );
    if (refusal === undefined) return true;
    policy.onQueueFull(sub.clientId, refusal, quota.usage(sub.clientId));
    return false;
  };

  cacheSubscriptionMatches(persistence);
  const enqueue = persistence.outgoingEnqueue.bind(persistence);
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  const clear = persistence.outgoingClearMessageId.bind(persistence);
  // Called for every QoS 1 message to a persistent session: the wrappers hand back the store's own promise
  // rather than awaiting it in one more async function (`hush bench` profiles).
  persistence.outgoingEnqueue = (sub, packet) => (admit(sub, packet) ? enqueue(sub, packet) : DONE);
  persistence.outgoingEnqueueCombi = (subs, packet) => {
    const dollar = packet.topic.charCodeAt(0) === 36; /* $ */
    if (subs.length === 1) {
      // The usual case (one inbox subscription): no copy of the list, no closure.
      const sub = subs[0] as QueuedSubscription;
      return eligible(sub, dollar) && admit(sub, packet) ? enqueueCombi(subs, packet) : DONE;
    }
    const seen = new Set<string>();
    const admitted = subs.filter((sub) => {
      if (!eligible(sub, dollar)) return false;
      // Overlapping filters of one client must store one copy, not one per filter (as Mosquitto).
      if (seen.has(sub.clientId)) return false;
      seen.add(sub.clientId);
      return admit(sub, packet);
    });
    return admitted.length > 0 ? enqueueCombi(admitted, packet) : DONE;
  };
  const update = persistence.outgoingUpdate as (client: { id: string }, packet: PacketLike) => Promise<void>;
  const tolerantUpdate = (client: { id: string }, packet: PacketLike) =>
    update.call(persistence, client, packet).catch((error: Error) => {
      // A message the queue policy did not store (full queue) is still delivered to a connected client;
      // Aedes would otherwise drop the whole connection over the missing copy.
      if (error.message !== 'no such packet') throw error;
    });
  persistence.outgoingUpdate = db ? inClientOrder(tolerantUpdate) : tolerantUpdate;
  persistence.outgoingClearMessageId = (client, packet) =>
    clear(client, packet).then((removed) => {
      const stored = removed as PacketLike | undefined;
      if (stored && stored.brokerId === currentBrokerId) quota.release(client.id, stored.brokerCounter);
      return removed;
    });
  boundIncomingQos2(persistence, policy);
  boundRetained(persistence, policy);

  return {
    persistence,
    setBrokerId(id: string) {
      currentBrokerId = id;
    },
    async close() {
      if (db) await db.close();
    },
  };
}

/**
 * Runs `step` for one client at a time, each call after the previous one for that client settled. Aedes sends a
 * QoS 1 message to a persistent session when its `outgoingUpdate` (the message id written to the store)
 * resolves; LevelDB's reads and writes run on libuv's thread pool and may finish out of order, which would
 * send a publisher's messages out of order (ordered-publish.ts). The in-memory store resolves in call order.
 */
function inClientOrder(
  step: (client: { id: string }, packet: PacketLike) => Promise<void>,
): (client: { id: string }, packet: PacketLike) => Promise<void> {
  const last = new Map<string, Promise<void>>();
  return (client, packet) => {
    const before = last.get(client.id);
    const mine = before
      ? before.then(
          () => step(client, packet),
          () => step(client, packet),
        )
      : step(client, packet);
    last.set(client.id, mine);
    const forget = () => {
      if (last.get(client.id) === mine) last.delete(client.id);
    };
    mine.then(forget, forget);
    return mine;
  };
}

/**
 * Aedes asks the store which persistent sessions a topic matches for every QoS 1 PUBLISH (to store a copy
 * for each); the answer only changes when subscriptions do (topic-match-cache.ts). The lists are shared
 * between publishes: Aedes and the queue wrappers above only read them.
 */
function cacheSubscriptionMatches(persistence: AedesPersistence): void {
  const cache = new TopicMatchCache<QueuedSubscription[]>();
  const byTopic = persistence.subscriptionsByTopic.bind(persistence);
  const add = persistence.addSubscriptions.bind(persistence);
  const remove = persistence.removeSubscriptions.bind(persistence);
  const clean = persistence.cleanSubscriptions.bind(persistence);
  persistence.subscriptionsByTopic = (topic) => {
    const known = cache.get(topic);
    if (known !== undefined) return Promise.resolve(known);
    const token = cache.token();
    return byTopic(topic).then((subs) => {
      cache.set(topic, subs, token);
      return subs;
    });
  };
  persistence.addSubscriptions = (client, subs) => cache.change(() => add(client, subs));
  persistence.removeSubscriptions = (client, topics) => cache.change(() => remove(client, topics));
  persistence.cleanSubscriptions = (client) => cache.change(() => clean(client));
}

/** Deletes a persistent session: its subscriptions and every message queued for it. */
export async function dropSession(persistence: AedesPersistence, clientId: string): Promise<number> {
  const client = { id: clientId };
  await persistence.cleanSubscriptions(client);
  const pending: PacketLike[] = [];
  for await (const packet of persistence.outgoingStream(client)) pending.push(packet);
  // Queued packets that were never sent carry no message id, and the persistence interface deletes
  // only by message id: give each one an id first (no client holds this session any more).
  const update = persistence.outgoingUpdate as (c: { id: string }, p: PacketLike) => Promise<void>;
  let dropped = 0;
  for (const [index, packet] of pending.entries()) {
    const withId = { ...packet, messageId: (index % 65535) + 1 };
    await update.call(persistence, client, withId);
    if (await persistence.outgoingClearMessageId(client, withId)) dropped++;
  }
  return dropped;
}

/**
 * QoS 2 publishes wait in the store from PUBLISH until the client's PUBREL. Aedes bounds them per connection
 * only (`maxInflightInbound`), so a client that reconnects with clean=false could leave a new set behind each
 * time (the outside review grew LevelDB from 37 to 593 MB that way). Here they are bounded per client id, for
 * as long as they are stored: past the bound the store refuses and Aedes closes the connection.
 */
function boundIncomingQos2(persistence: AedesPersistence, policy: QueuePolicy): void {
  const byClient = new Map<string, Map<number, number>>();
  const bytesOf = (ids: Map<number, number>) => {
    let total = 0;
    for (const bytes of ids.values()) total += bytes;
    return total;
  };
  const store = (persistence.incomingStorePacket as (c: { id: string }, p: PacketLike) => Promise<void>).bind(
    persistence,
  );
  const del = (persistence.incomingDelPacket as (c: { id: string }, p: PacketLike) => Promise<void>).bind(
    persistence,
  );
  persistence.incomingStorePacket = (client: { id: string }, packet: PacketLike) => {
    const ids = byClient.get(client.id) ?? new Map<number, number>();
    const id = packet.messageId ?? 0;
    const bytes = packetBytes(packet);
    if (!ids.has(id)) {
      if (ids.size + 1 > policy.maxIncomingQos2 || bytesOf(ids) + bytes > policy.maxIncomingQos2Bytes) {
        return Promise.reject(
          new Error(
            `too many QoS 2 messages awaiting PUBREL for this client (limit ${policy.maxIncomingQos2} messages, ${policy.maxIncomingQos2Bytes} bytes)`,
          ),
        );
      }
    }
    ids.set(id, bytes);
    byClient.set(client.id, ids);
    return store(client, packet);
  };
  persistence.incomingDelPacket = (client: { id: string }, packet: PacketLike) => {
    const ids = byClient.get(client.id);
    if (ids) {
      ids.delete(packet.messageId ?? 0);
      if (ids.size === 0) byClient.delete(client.id);
    }
    return del(client, packet);
  };
  if (typeof persistence.cleanIncoming === 'function') {
    const cleanIncoming = (persistence.cleanIncoming as (c: { id: string }) => Promise<void>).bind(
      persistence,
    );
    persistence.cleanIncoming = (client: { id: string }) => {
      byClient.delete(client.id);
      return cleanIncoming(client);
    };
  }
}

/**
 * Retained messages live until someone clears them, and any client the ACL lets write a topic may retain on it:
 * bounded broker-wide in count and bytes. A new retained topic past the bound is refused (the publisher is
 * disconnected with the reason in the log); replacing or clearing an existing one always works.
 */
function boundRetained(persistence: AedesPersistence, policy: QueuePolicy): void {
  const sizes = new Map<string, number>();
  let total = 0;
  const storeRetained = (persistence.storeRetained as (p: PacketLike) => Promise<void>).bind(persistence);
  persistence.storeRetained = (packet: PacketLike) => {
    const bytes = packetBytes(packet) - packet.topic.length;
    const before = sizes.get(packet.topic);
    if (bytes === 0) {
      if (before !== undefined) {
        sizes.delete(packet.topic);
        total -= before;
      }
      return storeRetained(packet);
    }
    const after = total - (before ?? 0) + bytes + packet.topic.length;
    if (
      (before === undefined && sizes.size + 1 > policy.maxRetainedMessages) ||
      after > policy.maxRetainedBytes
    ) {
      return Promise.reject(
        new Error(
          `retained message refused: the broker keeps at most ${policy.maxRetainedMessages} retained messages and ${policy.maxRetainedBytes} bytes`,
        ),
      );
    }
    sizes.set(packet.topic, bytes + packet.topic.length);
    total = after;
    return storeRetained(packet);
  };
}
