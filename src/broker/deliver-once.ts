/**
 * Each message reaches a connection once, and none is lost to the duplicate filter.
 *
 * Aedes numbers every PUBLISH as it arrives (brokerCounter) and filters what it sends a client with one number
 * per client: anything not above the highest number already sent is dropped as a duplicate, and its stored copy
 * deleted (lib/client.js `dedupe`). That is right only if messages reach a client in arrival order, and they do
 * not: between numbering and delivery each PUBLISH waits for the session store (subscriptionsByTopic, then the
 * queue write), so a message from one sender can overtake a message from another. The filter then threw the
 * earlier one away for good: a live recipient silently lost messages (LevelDB sessions lost several in a
 * thousand in test/integration/broker-concurrent-delivery.test.ts; CI saw chat messages that never arrived).
 *
 * The duplicates the filter exists for are exact repeats of one number: one PUBLISH matching two subscriptions
 * of the client, and a stored message replayed at reconnect that the same connection also got live. So this
 * remembers the exact numbers sent on the connection (the most recent ones) and lets Aedes' filter pass
 * everything. Aedes offers no option for this; its filter is a module function, so it is disarmed through the
 * per-client table it reads.
 */

/** Numbers remembered per connection: repeats arrive within moments of each other, not thousands apart. */
const REMEMBERED = 1024;

type Deliver = (packet: DeliveredPacket, done: () => void) => void;

/** The parts of a queued PUBLISH the filter looks at. */
interface DeliveredPacket {
  qos: number;
  brokerId?: string;
  brokerCounter?: number;
}

/** The parts of an Aedes client this replaces (instance properties set by its constructor). */
export interface DeliveringClient {
  duplicates: Record<string, number>;
  deliver0: Deliver;
  deliverQoS: Deliver;
}

/** Replaces Aedes' highest-number duplicate filter on `client` with an exact one; call before it subscribes. */
export function deliverEachMessageOnce(client: DeliveringClient, brokerId: string): void {
  // Aedes' filter compares `(duplicates[brokerId] || 0) < counter` and then stores the counter: always 0 here.
  Object.defineProperty(client.duplicates, brokerId, {
    get: () => 0,
    set: () => undefined,
    configurable: true,
  });
  let sent: Set<number> | undefined;
  const firstTime = (packet: DeliveredPacket): boolean => {
    const counter = packet.brokerCounter;
    // Packets from elsewhere (another broker's id) still meet Aedes' own filter; Hush runs one broker.
    if (packet.brokerId !== brokerId || counter === undefined) return true;
    sent ??= new Set();
    if (sent.has(counter)) return false;
    sent.add(counter);
    if (sent.size > REMEMBERED) sent.delete(sent.values().next().value as number);
    return true;
  };
  const deliver0 = client.deliver0;
  const deliverQoS = client.deliverQoS;
  // A repeat is not sent and its stored copy is kept: the first delivery's PUBACK removes it.
  client.deliver0 = (packet, done) => (firstTime(packet) ? deliver0(packet, done) : setImmediate(done));
  client.deliverQoS = (packet, done) => {
    if (packet.qos === 0) client.deliver0(packet, done);
    else if (firstTime(packet)) deliverQoS(packet, done);
    else setImmediate(done);
  };
}
