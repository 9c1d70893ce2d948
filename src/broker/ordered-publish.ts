/**
 * Messages from one connection are published one after another, in the order they arrived.
 *
 * MQTT 3.1.1 §4.6: by default every topic is ordered, so a subscriber gets one publisher's QoS 1 messages in the
 * order the publisher sent them. Aedes means to handle a connection's packets one batch at a time, but every
 * 'readable' event on the socket also counts as a finished batch (lib/client.js `nextBatch`), and it sends the
 * PUBACK before it publishes (lib/handlers/publish.js): a publisher that sends its next message on that PUBACK
 * gets it handled while the previous one is still being stored. Each PUBLISH waits on the session store
 * (subscription lookup, queue write) before it is delivered, so the second can overtake the first: with LevelDB
 * sessions test/integration/broker-durable.test.ts saw live5 arrive before live4. Neither Aedes nor its
 * persistence has a switch for this, so each connection's publishes are chained here: one starts when the one
 * before it has been stored and handed to every subscriber.
 */

type Done = (error?: Error | null) => void;

/** The part of Aedes this wraps. */
export interface Publisher {
  publish(packet: unknown, client?: unknown, done?: Done): void;
}

/** Makes `broker.publish` run one publish at a time per client, in call order; internal publishes are untouched. */
export function orderPublishesPerClient(broker: Publisher): void {
  const publish = broker.publish.bind(broker);
  // Publishes waiting behind the one in flight, per client; absent when the client has none in flight.
  const waiting = new WeakMap<object, Array<() => void>>();
  broker.publish = (packet, client, done) => {
    if (typeof client !== 'object' || client === null) {
      publish(packet, client, done);
      return;
    }
    const run = () =>
      publish(packet, client, (error) => {
        const next = waiting.get(client)?.shift();
        if (next) next();
        else waiting.delete(client);
        done?.(error);
      });
    const queue = waiting.get(client);
    if (queue) queue.push(run);
    else {
      waiting.set(client, []);
      run();
    }
  };
}
