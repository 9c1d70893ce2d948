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
  it("hands a client's publishes to the emitter in call order, however their storing finishes", () => {
    const { broker, started, emitted, emitNow } = fakeBroker();
    const alice = {};
    const finished: string[] = [];
    for (const name of ['a1', 'a2', 'a3']) broker.publish({ name }, alice, () => finished.push(name));
    // All three are stored at once: none waits for the one before it to start.
    expect(started).toEqual(['a1', 'a2', 'a3']);
    emitNow('a3');
    emitNow('a2');
    expect(emitted).toEqual([]);
    emitNow('a1');
    expect(emitted).toEqual(['a1', 'a2', 'a3']);
    expect(finished).toEqual(['a1', 'a2', 'a3']);
    // Nothing held: the next one goes straight through.
    broker.publish({ name: 'a4' }, alice, () => undefined);
    emitNow('a4');
    expect(emitted.at(-1)).toBe('a4');
  });

  it('does not hold one client back behind another, nor the broker’s own publishes', () => {
    const { broker, emitted, emitNow } = fakeBroker();
    broker.publish({ name: 'a1' }, {}, () => undefined);
    broker.publish({ name: 'b1' }, {}, () => undefined);
    broker.publish({ name: 'sys1' }, () => undefined);
    emitNow('b1');
    emitNow('sys1');
    expect(emitted).toEqual(['b1', 'sys1']);
  });

  it('lets the ones behind go when a publish fails before the emitter, and passes the failure on', () => {
    const { broker, emitted, emitNow, failNow } = fakeBroker();
    const client = {};
    const results: Array<string | undefined> = [];
    broker.publish({ name: 'bad' }, client, (error) => results.push(error?.message));
    broker.publish({ name: 'good' }, client, (error) => results.push(error?.message));
    emitNow('good');
    expect(emitted).toEqual([]);
    failNow('bad', new Error('store failed'));
    expect(emitted).toEqual(['good']);
    // 'good' is emitted (and finishes) as soon as 'bad' is known not to reach the emitter.
    expect(results).toEqual([undefined, 'store failed']);
  });

  it('copes with a publish refused before it was numbered, and with one emitted synchronously', () => {
    const { broker, started, emitted } = fakeBroker({ emitAtOnce: (name) => name.startsWith('q0') });
    const client = {};
    const errors: string[] = [];
    broker.publish({ name: 'deep1' }, client, (e) => errors.push(e!.message));
    broker.publish({ name: 'q0-1' }, client, () => undefined);
    broker.publish({ name: 'q0-2' }, client, () => undefined);
    expect(errors).toEqual(['topic has too many levels']);
    expect(started).toEqual(['deep1', 'q0-1', 'q0-2']);
    expect(emitted).toEqual(['q0-1', 'q0-2']);
  });
});
