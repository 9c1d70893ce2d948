import { describe, expect, it } from 'vitest';
import { deliverEachMessageOnce, type DeliveringClient } from '../../src/broker/deliver-once.ts';

const BROKER = 'broker-1';

/** A client shaped like Aedes' (its highest-number filter included), recording what it would send. */
function aedesLikeClient() {
  const sent: string[] = [];
  const client: DeliveringClient = {
    duplicates: Object.create(null) as Record<string, number>,
    deliver0: (packet, done) => {
      sent.push(`0:${packet.brokerCounter}`);
      done();
    },
    deliverQoS: (packet, done) => {
      // Aedes' own filter (lib/client.js dedupe), kept so the test shows it no longer drops anything.
      const id = packet.brokerId;
      if (id) {
        const counter = packet.brokerCounter ?? 0;
        if (!((client.duplicates[id] || 0) < counter)) return done();
        client.duplicates[id] = counter;
      }
      sent.push(`${packet.qos}:${packet.brokerCounter}`);
      done();
    },
  };
  deliverEachMessageOnce(client, BROKER);
  return { client, sent };
}

const deliver = (client: DeliveringClient, qos: number, counter: number, brokerId = BROKER) =>
  new Promise<void>((resolve) => client.deliverQoS({ qos, brokerId, brokerCounter: counter }, resolve));

describe('deliverEachMessageOnce', () => {
  it('sends a message that arrives after a later-numbered one (Aedes dropped it)', async () => {
    const { client, sent } = aedesLikeClient();
    for (const counter of [5, 3, 4, 9, 1]) await deliver(client, 1, counter);
    expect(sent).toEqual(['1:5', '1:3', '1:4', '1:9', '1:1']);
  });

  it('sends one copy of a message matched by several subscriptions (its deliveries come back to back)', async () => {
    const { client, sent } = aedesLikeClient();
    await deliver(client, 1, 7);
    await deliver(client, 1, 7);
    await deliver(client, 0, 8);
    await deliver(client, 0, 8);
    await deliver(client, 1, 8);
    await deliver(client, 1, 6);
    await deliver(client, 1, 6);
    expect(sent).toEqual(['1:7', '0:8', '1:6']);
  });

  it('keeps one number per connection, whatever it has sent', async () => {
    const { client } = aedesLikeClient();
    for (let counter = 1; counter <= 5000; counter++) await deliver(client, 1, counter);
    expect(client.hushLast).toBe(5000);
    expect(Object.keys(client).sort()).toEqual(['deliver0', 'deliverQoS', 'duplicates', 'hushLast']);
  });

  it('leaves packets without a broker number, or from another broker, to Aedes', async () => {
    const { client, sent } = aedesLikeClient();
    await new Promise<void>((resolve) => client.deliverQoS({ qos: 1 }, resolve));
    await new Promise<void>((resolve) => client.deliverQoS({ qos: 1 }, resolve));
    await deliver(client, 1, 4, 'other-broker');
    await deliver(client, 1, 4, 'other-broker');
    expect(sent).toEqual(['1:undefined', '1:undefined', '1:4']);
  });
});
