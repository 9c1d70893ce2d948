// The broker remembers which subscriptions a topic matched (src/broker/topic-match-cache.ts), in Aedes'
// emitter and in the session store, a speed-up `hush bench` motivated. Remembering must never change who
// gets a message: after any sequence of subscribes, unsubscribes and session removals, including changes
// still in flight when a publish asks, the answer is the one an uncached trie or store gives.
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TopicMatchCache, cacheEmitterMatches } from '../../src/broker/topic-match-cache.ts';
import { createPersistence, type AedesPersistence } from '../../src/broker/persistence.ts';
import { QueueQuota } from '../../src/broker/limits/queue-quota.ts';
import { limitsSchema } from '../../src/broker/options.ts';

// qlobber is the trie inside Aedes' emitter; take the copy Aedes itself resolves.
const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
const fromMqemitter = createRequire(fromAedes.resolve('mqemitter'));
const { Qlobber } = fromMqemitter('qlobber') as {
  Qlobber: new (options: object) => {
    add(topic: string, value: unknown): unknown;
    remove(topic: string, value?: unknown): unknown;
    match(topic: string): unknown[];
    clear(): unknown;
  };
};
const QLOBBER_OPTIONS = { match_empty_levels: true, separator: '/', wildcard_one: '+', wildcard_some: '#' };

const filters = fc.constantFrom(
  'chats/alice/messages',
  'chats/bob/messages',
  'chats/+/messages',
  'chats/#',
  '#',
  '+/+/messages',
  '$SYS/#',
);
const topics = fc.constantFrom(
  'chats/alice/messages',
  'chats/bob/messages',
  'chats/carol/messages',
  'chats',
  '$SYS/broker/uptime',
  `chats/${'x'.repeat(300)}/messages`,
);
const clients = fc.constantFrom('alice', 'bob', 'carol');

const sorted = (values: unknown[]) => values.map((v) => JSON.stringify(v)).sort();

describe('TopicMatchCache', () => {
  it('remembers an answer until invalidated', () => {
    const cache = new TopicMatchCache<string[]>();
    cache.set('a/b', ['x']);
    expect(cache.get('a/b')).toEqual(['x']);
    cache.invalidate();
    expect(cache.get('a/b')).toBeUndefined();
  });

  it('drops an answer computed across a change (stale token)', () => {
    const cache = new TopicMatchCache<string[]>();
    const token = cache.token();
    cache.invalidate();
    cache.set('a/b', ['old'], token);
    expect(cache.get('a/b')).toBeUndefined();
  });

  it('keeps nothing while a change is in flight, and forgets what it had when the change ends', async () => {
    const cache = new TopicMatchCache<string[]>();
    cache.set('a/b', ['before']);
    let finish!: () => void;
    const change = cache.change(() => new Promise<void>((resolve) => (finish = resolve)));
    expect(cache.get('a/b')).toBeUndefined();
    cache.set('a/b', ['during']);
    expect(cache.get('a/b')).toBeUndefined();
    const token = cache.token();
    finish();
    await change;
    cache.set('a/b', ['computed during the change'], token);
    expect(cache.get('a/b')).toBeUndefined();
    cache.set('a/b', ['after']);
    expect(cache.get('a/b')).toEqual(['after']);
  });

  it('ends a change that failed, synchronously or not', async () => {
    const cache = new TopicMatchCache<string[]>();
    expect(() =>
      cache.change(() => {
        throw new Error('sync');
      }),
    ).toThrow('sync');
    await expect(cache.change(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
    cache.set('a/b', ['x']);
    expect(cache.get('a/b')).toEqual(['x']);
  });

  it('does not keep very long topics as keys', () => {
    const cache = new TopicMatchCache<string[]>();
    const long = `chats/${'x'.repeat(300)}/messages`;
    cache.set(long, ['x']);
    expect(cache.get(long)).toBeUndefined();
  });
});

describe("cached matches in Aedes' emitter", () => {
  it('equal an uncached trie after any sequence of adds, removes and clears', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), filter: filters, value: clients }),
      fc.record({ kind: fc.constant('remove' as const), filter: filters, value: clients }),
      fc.record({ kind: fc.constant('clear' as const) }),
      fc.record({ kind: fc.constant('match' as const), topic: topics }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const plain = new Qlobber(QLOBBER_OPTIONS);
        const cached = new Qlobber(QLOBBER_OPTIONS);
        cacheEmitterMatches({ _matcher: cached });
        for (const o of ops) {
          if (o.kind === 'add') {
            plain.add(o.filter, o.value);
            cached.add(o.filter, o.value);
          } else if (o.kind === 'remove') {
            plain.remove(o.filter, o.value);
            cached.remove(o.filter, o.value);
          } else if (o.kind === 'clear') {
            plain.clear();
            cached.clear();
          }
          const topic = o.kind === 'match' ? o.topic : 'chats/alice/messages';
          expect(sorted(cached.match(topic))).toEqual(sorted(plain.match(topic)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an emitter it does not recognise', () => {
    expect(() => cacheEmitterMatches({})).toThrow(/no topic matcher/);
    expect(() => cacheEmitterMatches({ _matcher: { match: () => [] } })).toThrow(/no topic matcher/);
  });
});

describe('cached subscriptionsByTopic in the session store', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const policy = {
    quota: new QueueQuota(limitsSchema.parse({})),
    mayQueue: () => true,
    senderOf: () => '',
    onQueueFull: () => undefined,
    maxIncomingQos2: 64,
    maxIncomingQos2Bytes: 1 << 20,
    maxRetainedMessages: 100,
    maxRetainedBytes: 1 << 20,
  };

  type Op =
    | { kind: 'add'; client: string; filter: string; qos: number }
    | { kind: 'remove'; client: string; filter: string }
    | { kind: 'clean'; client: string }
    | { kind: 'match'; topic: string };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('add' as const),
      client: clients,
      filter: filters,
      qos: fc.constantFrom(0, 1),
    }),
    fc.record({ kind: fc.constant('remove' as const), client: clients, filter: filters }),
    fc.record({ kind: fc.constant('clean' as const), client: clients }),
    fc.record({ kind: fc.constant('match' as const), topic: topics }),
  );

  /** Runs one operation; matches return what the store answered. */
  function apply(store: AedesPersistence, o: Op): Promise<unknown> {
    const client = { id: o.kind === 'match' ? '' : o.client };
    if (o.kind === 'add') return store.addSubscriptions(client, [{ topic: o.filter, qos: o.qos }]);
    if (o.kind === 'remove') return store.removeSubscriptions(client, [o.filter]);
    if (o.kind === 'clean') return store.cleanSubscriptions(client);
    return store.subscriptionsByTopic(o.topic);
  }

  /** What the subscriptions are worth comparing by: who, which filter, which QoS. */
  const summary = (subs: unknown) =>
    (subs as Array<{ clientId: string; topic: string; qos: number }>)
      .map((s) => `${s.clientId} ${s.topic} ${s.qos}`)
      .sort();

  for (const kind of ['memory', 'level'] as const) {
    it(`(${kind}) answers as the store itself after batches of concurrent changes`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 8 }),
          async (batches) => {
            const dir =
              kind === 'level' ? await mkdtemp(path.join(os.tmpdir(), 'hush-match-cache-')) : undefined;
            if (dir) dirs.push(dir);
            const store = await createPersistence(dir, policy);
            // The store underneath, queried without the cache: a second instance is a different store, so the
            // reference is the cached store's own uncached method, reached through the prototype.
            const uncached = Object.getPrototypeOf(store.persistence) as AedesPersistence;
            try {
              const probe = ['chats/alice/messages', 'chats/bob/messages', '$SYS/broker/uptime'];
              for (const batch of batches) {
                // Each batch is issued without waiting in between: a publish may ask while a change is in flight.
                await Promise.all(batch.map((o) => apply(store.persistence, o)));
                for (const topic of probe) {
                  const cached = await store.persistence.subscriptionsByTopic(topic);
                  const fresh = await uncached.subscriptionsByTopic.call(store.persistence, topic);
                  expect(summary(cached)).toEqual(summary(fresh));
                }
              }
            } finally {
              await store.close();
            }
          },
        ),
        { numRuns: kind === 'level' ? 15 : 100 },
      );
    });
  }
});
