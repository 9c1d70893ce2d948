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
 * What the filter is for: one PUBLISH matching several subscriptions of the client. The emitter hands it to
 * each of them in one synchronous loop, so those repeats reach the client back to back, and comparing with the
 * last number sent on the connection catches exactly them. (Retained messages carry no number, and a queue
 * replayed at reconnect is written without passing any filter, in Aedes as here.) Aedes offers no option for
 * this; its filter is a module function, so it is disarmed through the per-client table it reads, and this
 * check runs in front of the client's deliver functions.
 */

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
  /** The last number sent on this connection. */
  hushLast?: number;
}

/** Remembers `packet` as the last one sent on `client`; false if it was that one already. */
function firstTime(client: DeliveringClient, packet: DeliveredPacket, brokerId: string): boolean {
  const counter = packet.brokerCounter;
  // Packets from elsewhere (another broker's id) still meet Aedes' own filter; Hush runs one broker.
  if (packet.brokerId !== brokerId || counter === undefined) return true;
  if (counter === client.hushLast) return false;
  client.hushLast = counter;
  // Aedes' filter then compares `(duplicates[brokerId] || 0) < counter` and stores the counter: reset it so it
  // passes. (A shared table with a no-op accessor was tried instead; A/B runs did not show it cheaper.)
  client.duplicates[brokerId] = 0;
  return true;
}

/** Replaces Aedes' highest-number duplicate filter on `client` with an exact one; call before it subscribes. */
export function deliverEachMessageOnce(client: DeliveringClient, brokerId: string): void {
  const deliver0 = client.deliver0;
  const deliverQoS = client.deliverQoS;
  // A repeat is not sent and its stored copy is kept: the first delivery's PUBACK removes it.
  client.deliver0 = (packet, done) =>
    firstTime(client, packet, brokerId) ? deliver0(packet, done) : setImmediate(done);
  client.deliverQoS = (packet, done) => {
    if (packet.qos === 0) client.deliver0(packet, done);
    else if (firstTime(client, packet, brokerId)) deliverQoS(packet, done);
    else setImmediate(done);
  };
}
