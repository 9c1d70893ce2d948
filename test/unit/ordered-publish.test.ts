import { describe, expect, it } from 'vitest';
import { orderPublishesPerClient, type Publisher } from '../../src/broker/ordered-publish.ts';

type Done = (error?: Error | null) => void;

/** A broker whose publishes finish only when the test says so, recording the order they started in. */
function slowBroker() {
  const started: string[] = [];
  const pending = new Map<string, Done>();
  const broker: Publisher = {
    publish(packet, _client, done) {
      const name = (packet as { name: string }).name;
      started.push(name);
      pending.set(name, done ?? (() => undefined));
    },
  };
  orderPublishesPerClient(broker);
  const finish = (name: string, error?: Error) => {
    const done = pending.get(name)!;
    pending.delete(name);
    done(error);
  };
  return { broker, started, finish };
}

describe('orderPublishesPerClient', () => {
  it("starts a client's next publish only when the one before it is done, in call order", () => {
    const { broker, started, finish } = slowBroker();
    const alice = {};
    const finished: string[] = [];
    for (const name of ['a1', 'a2', 'a3']) broker.publish({ name }, alice, () => finished.push(name));
    expect(started).toEqual(['a1']);
    finish('a1');
    expect(started).toEqual(['a1', 'a2']);
    finish('a2');
    finish('a3');
    expect(finished).toEqual(['a1', 'a2', 'a3']);
    // Idle again: the next publish starts at once.
    broker.publish({ name: 'a4' }, alice, () => undefined);
    expect(started).toEqual(['a1', 'a2', 'a3', 'a4']);
  });

  it('does not hold one client back behind another, nor the broker’s own publishes', () => {
    const { broker, started } = slowBroker();
    broker.publish({ name: 'a1' }, {}, () => undefined);
    broker.publish({ name: 'b1' }, {}, () => undefined);
    broker.publish({ name: 'sys1' }, () => undefined);
    broker.publish({ name: 'sys2' }, undefined, () => undefined);
    expect(started).toEqual(['a1', 'b1', 'sys1', 'sys2']);
  });

  it('passes a failure to its caller and still runs the next publish', () => {
    const { broker, started, finish } = slowBroker();
    const client = {};
    const results: Array<string | undefined> = [];
    broker.publish({ name: 'bad' }, client, (error) => results.push(error?.message));
    broker.publish({ name: 'good' }, client, (error) => results.push(error?.message));
    finish('bad', new Error('topic has too many levels'));
    finish('good');
    expect(started).toEqual(['bad', 'good']);
    expect(results).toEqual(['topic has too many levels', undefined]);
  });

  it('copes with a publish that finishes synchronously', () => {
    const calls: string[] = [];
    const broker: Publisher = {
      publish(packet, _client, done) {
        calls.push((packet as { name: string }).name);
        done?.(new Error('refused at once'));
      },
    };
    orderPublishesPerClient(broker);
    const client = {};
    const errors: string[] = [];
    broker.publish({ name: 'x' }, client, (e) => errors.push(e!.message));
    broker.publish({ name: 'y' }, client, (e) => errors.push(e!.message));
    expect(calls).toEqual(['x', 'y']);
    expect(errors).toEqual(['refused at once', 'refused at once']);
  });
});
