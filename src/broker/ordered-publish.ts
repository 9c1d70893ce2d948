/**
 * Messages from one connection reach the subscribers in the order they arrived.
 *
 * MQTT 3.1.1 §4.6: by default every topic is ordered, so a subscriber gets one publisher's QoS 1 messages in the
 * order the publisher sent them. Aedes means to handle a connection's packets one batch at a time, but every
 * 'readable' event on the socket also counts as a finished batch (lib/client.js `nextBatch`), and it sends the
 * PUBACK before it publishes (lib/handlers/publish.js): a publisher that sends its next message on that PUBACK
 * gets it handled while the previous one is still being stored. Each PUBLISH waits on the session store
 * (subscription lookup, queue write) before it reaches the emitter that hands it to subscribers, so the second
 * could overtake the first: with LevelDB sessions test/integration/broker-durable.test.ts saw live5 arrive
 * before live4. Neither Aedes nor its persistence has a switch for this.
 *
 * So each connection's publishes are numbered here as they arrive, and the emitter takes them in that order: one
 * that reaches it early waits (held, not re-run) until the ones before it were emitted or failed. The stores
 * still work on several at once. From the emitter on, order holds by itself (it queues in order and each
 * delivery starts with a setImmediate; persistence.ts keeps LevelDB's per-client updates in order).
 * Chaining whole publishes instead (the next starting when the previous was emitted) cost 20–30% more CPU per
 * message under load (`scripts/bench-ab.ts`): fewer messages per event-loop turn shared each write.
 */

import mqttPacket from 'mqtt-packet';

type Done = (error?: Error | null) => void;

/** The parts of Aedes this wraps. */
export interface OrderedBroker {
  /** The last number given to a PUBLISH (aedes-packet numbers each new packet with `++broker.counter`). */
  counter: number;
  publish(packet: unknown, client?: unknown, done?: Done): void;
  mq: { emit(packet: { brokerCounter?: number }, done?: Done): unknown };
}

/** Per-client state, kept on the Aedes client object (cheaper than a map lookup per publish). */
interface Sequencing {
  /** The number the client's next publish gets. */
  hushSeq?: number;
  /** The number the emitter takes next from this client. */
  hushNextEmit?: number;
  /** Publishes that reached the emitter early (their emit) or ended without reaching it (null), by number. */
  hushHeld?: Map<number, (() => void) | null>;
}

/** One publish on its way to the emitter. */
interface Tag {
  client: Sequencing & AckingClient;
  seq: number;
  emitted: boolean;
  /** The message id of a QoS 1 PUBACK held until the message was stored. */
  ack?: number;
}

/** The parts of an Aedes client the held PUBACKs need. */
interface AckingClient {
  id?: string;
  conn?: NodeJS.WritableStream & { [kHeldAcks]?: Set<number> };
  connected?: boolean;
}

/** On a broker connection's stream: PUBACKs Aedes wrote that wait for their message to be stored. */
const kHeldAcks = Symbol('hush.heldAcks');
let acksHeld = false;

/**
 * Aedes writes the PUBACK of a QoS 1 PUBLISH before it stores the message (lib/handlers/publish.js): a crash in
 * between lost an acknowledged message. mqtt-packet's writeToStream is the one function Aedes writes packets
 * with (looked up on the module object at each call), so PUBACKs to streams marked by `holdAcks` are kept back
 * here and written by `orderPublishesPerClient` once the publish reached the emitter, that is once
 * `enqueueOffline` stored a copy for every persistent session. The broker sends PUBACK only for this purpose.
 */
function installAckHold(): void {
  if (acksHeld) return;
  acksHeld = true;
  const write = mqttPacket.writeToStream.bind(mqttPacket);
  mqttPacket.writeToStream = ((
    packet: { cmd: string; messageId?: number },
    stream: AckingClient['conn'],
    opts?: unknown,
  ) => {
    const held = stream?.[kHeldAcks];
    if (packet.cmd === 'puback' && held !== undefined && packet.messageId !== undefined) {
      held.add(packet.messageId);
      return true;
    }
    return write(packet as never, stream as never, opts as never);
  }) as typeof mqttPacket.writeToStream;
}

/** Marks a broker connection's stream so QoS 1 acknowledgements wait for the store (see installAckHold). */
export function holdAcks(stream: object): void {
  installAckHold();
  (stream as { [kHeldAcks]?: Set<number> })[kHeldAcks] = new Set();
}

/** Writes a held PUBACK, if the connection is still there. */
function releaseAck(tag: Tag): void {
  const messageId = tag.ack;
  if (messageId === undefined) return;
  // Only a valid packet id can be acknowledged (a fuzzed PUBLISH may carry none usable).
  if (!Number.isInteger(messageId) || messageId < 1 || messageId > 65535) {
    tag.ack = undefined;
    return;
  }
  tag.ack = undefined;
  const conn = tag.client.conn;
  if (conn === undefined || (conn as { destroyed?: boolean }).destroyed) return;
  const held = conn[kHeldAcks];
  if (held === undefined) return;
  // Through the real writer: the hold only applies to the handler's own write.
  conn[kHeldAcks] = undefined;
  try {
    mqttPacket.writeToStream({ cmd: 'puback', messageId } as never, conn as never);
  } catch {
    // One connection's broken stream must not take the broker down; Aedes closes it on its own error.
  } finally {
    conn[kHeldAcks] = held;
  }
}

/** Lets the client's publishes that were waiting for `client.hushNextEmit` go, in order. */
function advance(client: Sequencing): void {
  let next = (client.hushNextEmit ?? 0) + 1;
  const held = client.hushHeld;
  while (held !== undefined && held.has(next)) {
    const emit = held.get(next);
    held.delete(next);
    emit?.();
    next++;
  }
  client.hushNextEmit = next;
}

/**
 * Makes the emitter take each client's publishes in the order `broker.publish` was called for them, and sends
 * each held PUBACK once its message was stored. Returns a lookup of a publish's sender by packet number, valid
 * until the publish reaches the emitter (the queue bounds charge each stored copy to its sender).
 */
export function orderPublishesPerClient(broker: OrderedBroker): {
  publisherOf(counter: number): string | undefined;
} {
  const publish = broker.publish.bind(broker);
  const emit = broker.mq.emit.bind(broker.mq);
  // Packet number (aedes-packet's brokerCounter) → its publish, until it reaches the emitter.
  const pending = new Map<number, Tag>();

  broker.mq.emit = (packet, done) => {
    const tag = packet.brokerCounter === undefined ? undefined : pending.get(packet.brokerCounter);
    if (tag === undefined) return emit(packet, done);
    pending.delete(packet.brokerCounter!);
    tag.emitted = true;
    const client = tag.client;
    if (tag.seq === (client.hushNextEmit ?? 0)) {
      emit(packet, done);
      releaseAck(tag);
      advance(client);
    } else
      (client.hushHeld ??= new Map()).set(tag.seq, () => {
        emit(packet, done);
        releaseAck(tag);
      });
    return broker.mq;
  };

  broker.publish = (packet, client, done) => {
    if (typeof client !== 'object' || client === null) {
      publish(packet, client, done);
      return;
    }
    const sequencing = client as Sequencing & AckingClient;
    const seq = sequencing.hushSeq ?? 0;
    sequencing.hushSeq = seq + 1;
    const tag: Tag = { client: sequencing, seq, emitted: false };
    const messageId = (packet as { qos?: number; messageId?: number }).messageId;
    const held = sequencing.conn?.[kHeldAcks];
    if (messageId !== undefined && held?.delete(messageId)) tag.ack = messageId;
    // Aedes numbers the packet synchronously inside publish(), and may emit it synchronously (QoS 0):
    // register under the number it is about to get.
    const counter = broker.counter + 1;
    pending.set(counter, tag);
    publish(packet, client, (error) => {
      if (!tag.emitted) {
        // Ended before the emitter (refused, or the store failed): the ones behind it need not wait. A
        // failed store is never acknowledged: Aedes closes the connection and the client sends it again.
        tag.emitted = true;
        if (pending.get(counter) === tag) pending.delete(counter);
        if (error) tag.ack = undefined;
        const finish = () => releaseAck(tag);
        if (seq === (sequencing.hushNextEmit ?? 0)) {
          finish();
          advance(sequencing);
        } else (sequencing.hushHeld ??= new Map()).set(seq, finish);
      }
      done?.(error);
    });
    // Refused before it was numbered (too many topic levels): the number is not its own.
    if (broker.counter !== counter && pending.get(counter) === tag) pending.delete(counter);
  };

  return {
    publisherOf(counter) {
      return pending.get(counter)?.client.id;
    },
  };
}
