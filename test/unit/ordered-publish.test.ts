import { describe, expect, it } from 'vitest';
import { orderPublishesPerClient, type OrderedBroker } from '../../src/broker/ordered-publish.ts';

type Done = (error?: Error | null) => void;
interface Named {
  name: string;
  brokerCounter?: number;
}

/**
 * A broker shaped like Aedes: publish() numbers the packet at once, then stores it for as long as the test
 * says, then emits it. Records the order publishes started and packets were emitted.
 */
function fakeBroker(options: { emitAtOnce?: (name: string) => boolean } = {}) {
  const started: string[] = [];
  const emitted: string[] = [];
  const stored = new Map<string, { emit(): void; fail(error: Error): void }>();
  const broker: OrderedBroker = {
    counter: 0,
    mq: {
      emit(packet, done) {
        emitted.push((packet as Named).name);
        done?.();
        return undefined;
      },
    },
    publish(packet: unknown, _client?: unknown, done?: Done) {
      const name = (packet as Named).name;
      started.push(name);
      if (name.startsWith('deep')) return done?.(new Error('topic has too many levels'));
      const numbered: Named = { name, brokerCounter: ++broker.counter };
      const emit = () => broker.mq.emit(numbered, () => done?.());
      if (options.emitAtOnce?.(name)) emit();
      else stored.set(name, { emit, fail: (error) => done?.(error) });
    },
  };
  orderPublishesPerClient(broker);
  const emitNow = (name: string) => stored.get(name)!.emit();
  const failNow = (name: string, error: Error) => stored.get(name)!.fail(error);
  return { broker, started, emitted, emitNow, failNow };
}

describe('orderPublishesPerClient', () => {
  it("starts a client's next publish once the one before it was emitted, in call order", () => {
    const { broker, started, emitted, emitNow } = fakeBroker();
    const alice = {};
    const finished: string[] = [];
    for (const name of ['a1', 'a2', 'a3']) broker.publish({ name }, alice, () => finished.push(name));
    expect(started).toEqual(['a1']);
    emitNow('a1');
    expect(started).toEqual(['a1', 'a2']);
    emitNow('a2');
    emitNow('a3');
    expect(emitted).toEqual(['a1', 'a2', 'a3']);
    expect(finished).toEqual(['a1', 'a2', 'a3']);
    // Idle again: the next publish starts at once.
    broker.publish({ name: 'a4' }, alice, () => undefined);
    expect(started).toEqual(['a1', 'a2', 'a3', 'a4']);
  });

  it('does not hold one client back behind another, nor the broker’s own publishes', () => {
    const { broker, started } = fakeBroker();
    broker.publish({ name: 'a1' }, {}, () => undefined);
    broker.publish({ name: 'b1' }, {}, () => undefined);
    broker.publish({ name: 'sys1' }, () => undefined);
    broker.publish({ name: 'sys2' }, undefined, () => undefined);
    expect(started).toEqual(['a1', 'b1', 'sys1', 'sys2']);
  });

  it('passes a failure before the emitter to its caller and starts the next publish', () => {
    const { broker, started, failNow } = fakeBroker();
    const client = {};
    const results: Array<string | undefined> = [];
    broker.publish({ name: 'bad' }, client, (error) => results.push(error?.message));
    broker.publish({ name: 'good' }, client, (error) => results.push(error?.message));
    expect(started).toEqual(['bad']);
    failNow('bad', new Error('store failed'));
    expect(started).toEqual(['bad', 'good']);
    expect(results).toEqual(['store failed']);
  });

  it('copes with a publish refused before it was numbered, and with one emitted synchronously', () => {
    const { broker, started, emitted, emitNow } = fakeBroker({ emitAtOnce: (name) => name.startsWith('q0') });
    const client = {};
    const errors: string[] = [];
    broker.publish({ name: 'deep1' }, client, (e) => errors.push(e!.message));
    broker.publish({ name: 'q0-1' }, client, () => undefined);
    broker.publish({ name: 'q0-2' }, client, () => undefined);
    broker.publish({ name: 'last' }, client, () => undefined);
    expect(errors).toEqual(['topic has too many levels']);
    expect(started).toEqual(['deep1', 'q0-1', 'q0-2', 'last']);
    emitNow('last');
    expect(emitted).toEqual(['q0-1', 'q0-2', 'last']);
    // Nothing left waiting: a new publish starts at once.
    broker.publish({ name: 'after' }, client, () => undefined);
    expect(started.at(-1)).toBe('after');
  });
});
