/**
 * Remembers which subscriptions a topic matched until the subscriptions change. Aedes matches every
 * PUBLISH's topic twice against a trie (qlobber): once in its emitter to find the connected subscribers and
 * once in the persistence to find the persistent sessions to store it for. Each match splits the topic into
 * words and walks the trie; `hush bench` profiles put the pair at about 15% of the broker's CPU per message.
 * Chat traffic publishes to the same inbox topics over and over while subscriptions change only when
 * clients (re)connect, so a map from topic to the last answer, emptied on every change, saves both walks.
 * Neither qlobber nor Aedes offers such a cache.
 */

/** Most topics remembered; past it the map starts over (a miss costs one ordinary trie walk). */
const MAX_TOPICS = 16_384;
/** Long topics are matched every time rather than kept as keys. */
const MAX_TOPIC_LENGTH = 256;

/** Topic → match result, valid until `invalidate`. */
export class TopicMatchCache<T> {
  private readonly entries = new Map<string, T>();
  /** Bumped by every change, so an answer computed across a change is not kept. */
  private generation = 0;
  /** Changes started and not yet finished (asynchronous stores). */
  private changing = 0;

  /** The remembered answer for `topic`, if any. */
  get(topic: string): T | undefined {
    return this.entries.get(topic);
  }

  /** A token to pass to `set` for an answer computed asynchronously. */
  token(): number {
    return this.generation;
  }

  /** Keeps `value` for `topic` unless the subscriptions changed since `token` was taken. */
  set(topic: string, value: T, token: number = this.generation): void {
    if (token !== this.generation || this.changing > 0 || topic.length > MAX_TOPIC_LENGTH) return;
    if (this.entries.size >= MAX_TOPICS) this.entries.clear();
    this.entries.set(topic, value);
  }

  /** Forgets everything: the subscriptions changed. */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Runs an asynchronous change: nothing is remembered while it is in flight, and all is forgotten after. */
  change<R>(run: () => Promise<R>): Promise<R> {
    this.changing++;
    this.invalidate();
    let result: Promise<R>;
    try {
      result = run();
    } catch (error) {
      this.changing--;
      this.invalidate();
      throw error;
    }
    return result.finally(() => {
      this.changing--;
      this.invalidate();
    });
  }
}

/** The trie inside Aedes' emitter (mqemitter's qlobber): what the cache wraps. */
interface TopicMatcher {
  match(topic: string): unknown;
  add(...args: unknown[]): unknown;
  remove(...args: unknown[]): unknown;
  clear(...args: unknown[]): unknown;
}

function isTopicMatcher(value: unknown): value is TopicMatcher {
  const m = value as Partial<Record<keyof TopicMatcher, unknown>> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.match === 'function' &&
    typeof m.add === 'function' &&
    typeof m.remove === 'function' &&
    typeof m.clear === 'function'
  );
}

/**
 * Caches the matches of Aedes' emitter (`aedes.mq`, an mqemitter whose trie is `_matcher`). mqemitter only
 * iterates the list it gets, so one list can serve every publish to a topic. Throws if the emitter is not
 * shaped as expected, so a dependency upgrade that changes it fails the tests instead of going unnoticed.
 */
export function cacheEmitterMatches(emitter: unknown): void {
  const matcher = (emitter as { _matcher?: unknown } | null)?._matcher;
  if (!isTopicMatcher(matcher)) throw new Error('Aedes emitter has no topic matcher to cache');
  const cache = new TopicMatchCache<unknown>();
  const { match, add, remove, clear } = matcher;
  matcher.match = function cachedMatch(this: TopicMatcher, topic: string) {
    let found = cache.get(topic);
    if (found === undefined) {
      found = match.call(this, topic);
      cache.set(topic, found);
    }
    return found;
  };
  matcher.add = function cachedAdd(this: TopicMatcher, ...args: unknown[]) {
    cache.invalidate();
    return add.apply(this, args);
  };
  matcher.remove = function cachedRemove(this: TopicMatcher, ...args: unknown[]) {
    cache.invalidate();
    return remove.apply(this, args);
  };
  matcher.clear = function cachedClear(this: TopicMatcher, ...args: unknown[]) {
    cache.invalidate();
    return clear.apply(this, args);
  };
}
