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
  client: Sequencing;
  seq: number;
  emitted: boolean;
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

/** Makes the emitter take each client's publishes in the order `broker.publish` was called for them. */
export function orderPublishesPerClient(broker: OrderedBroker): void {
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
      advance(client);
    } else (client.hushHeld ??= new Map()).set(tag.seq, () => emit(packet, done));
    return broker.mq;
  };

  broker.publish = (packet, client, done) => {
    if (typeof client !== 'object' || client === null) {
      publish(packet, client, done);
      return;
    }
    const sequencing = client as Sequencing;
    const seq = sequencing.hushSeq ?? 0;
    sequencing.hushSeq = seq + 1;
    const tag: Tag = { client: sequencing, seq, emitted: false };
    // Aedes numbers the packet synchronously inside publish(), and may emit it synchronously (QoS 0):
    // register under the number it is about to get.
    const counter = broker.counter + 1;
    pending.set(counter, tag);
    publish(packet, client, (error) => {
      if (!tag.emitted) {
        // Ended before the emitter (refused, or the store failed): the ones behind it need not wait.
        tag.emitted = true;
        if (pending.get(counter) === tag) pending.delete(counter);
        if (seq === (sequencing.hushNextEmit ?? 0)) advance(sequencing);
        else (sequencing.hushHeld ??= new Map()).set(seq, null);
      }
      done?.(error);
    });
    // Refused before it was numbered (too many topic levels): the number is not its own.
    if (broker.counter !== counter && pending.get(counter) === tag) pending.delete(counter);
  };
}
