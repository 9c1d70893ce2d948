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
 * So a connection's publishes are chained here, but only up to the emitter: the next one starts once the one
 * before it has been stored and emitted. From there on order holds by itself (the emitter queues in order and
 * each delivery starts with a setImmediate; persistence.ts keeps LevelDB's per-client updates in order).
 * Waiting for the whole delivery instead doubled the broker's CPU per message (`scripts/bench-ab.ts`): every
 * connection then published one message per event-loop turn, and writes stopped sharing system calls.
 */

type Done = (error?: Error | null) => void;

/** The parts of Aedes this wraps. */
export interface OrderedBroker {
  /** The last number given to a PUBLISH (aedes-packet numbers each new packet with `++broker.counter`). */
  counter: number;
  publish(packet: unknown, client?: unknown, done?: Done): void;
  mq: { emit(packet: { brokerCounter?: number }, done?: Done): unknown };
}

/** Makes `broker.publish` start one client's publishes in call order, each after the previous was emitted. */
export function orderPublishesPerClient(broker: OrderedBroker): void {
  const publish = broker.publish.bind(broker);
  const emit = broker.mq.emit.bind(broker.mq);
  // Publishes waiting behind the one in flight, per client; absent when the client has none in flight.
  const waiting = new WeakMap<object, Array<() => void>>();
  // Packet number → what to run when that packet is emitted (or fails before it).
  const onEmit = new Map<number, () => void>();

  broker.mq.emit = (packet, done) => {
    const result = emit(packet, done);
    const counter = packet.brokerCounter;
    if (counter !== undefined) {
      const release = onEmit.get(counter);
      if (release) {
        onEmit.delete(counter);
        release();
      }
    }
    return result;
  };

  broker.publish = (packet, client, done) => {
    if (typeof client !== 'object' || client === null) {
      publish(packet, client, done);
      return;
    }
    const run = () => {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const next = waiting.get(client)?.shift();
        if (next) next();
        else waiting.delete(client);
      };
      // Aedes numbers the packet synchronously inside publish(), and may emit it synchronously (QoS 0):
      // register under the number it is about to get.
      const counter = broker.counter + 1;
      onEmit.set(counter, release);
      publish(packet, client, (error) => {
        onEmit.delete(counter);
        release();
        done?.(error);
      });
      // Refused before it was numbered (too many topic levels): only its callback releases the next one.
      if (broker.counter !== counter) onEmit.delete(counter);
    };
    const queue = waiting.get(client);
    if (queue) queue.push(run);
    else {
      waiting.set(client, []);
      run();
    }
  };
}
