/**
 * Several tabs of one profile share ONE device, so ONE MQTT connection and one writer of IndexedDB (issue 6).
 *
 * Leader: the tab that holds the Web Lock `hush-device-<profile>`. It alone opens the real client (connects, writes
 * the store) and holds the lock for its lifetime; the browser releases it when the tab closes, navigates or
 * crashes, and grants it to the next tab waiting in the queue, so there is never more than one leader and a
 * handover needs no timeouts or heartbeats.
 * Followers: every other tab. They wait in the lock's queue and meanwhile work through the leader over the
 * BroadcastChannel `hush-tabs-<profile>`: calls are RPCs with ids, the leader re-broadcasts every SDK event and,
 * after each event burst and each call, a snapshot of the synchronous reads (chats(), history(), clientId, …) so
 * a follower answers those from memory, synchronously, like the real client.
 *
 * Calls across a handover ("not lost, not run twice"):
 * - A call is addressed to one leader and acknowledged by it ('ack') before it starts. Unacknowledged calls are
 *   simply sent again to the next leader: they never started, because the ack is posted in the same task that
 *   starts the call, and the channel keeps each sender's order.
 * - An acknowledged call whose result never came (the leader went away mid-call) may or may not have taken effect.
 *   The next leader applies the method's replay policy: 'retry' (the default; for calls that are idempotent or
 *   harmless to repeat), 'reject' (the caller gets SharedCallError 'leader-lost' and decides), or a recovery probe
 *   that looks in the reopened store for the call's effect and returns its result instead of running it again
 *   (see hush-tabs.ts: sendText finds its own message, so a text is never sent twice).
 * - A follower's call that passes its timeout is rejected ('timeout'); the leader may still complete it.
 *
 * Written by hand because the pieces are the browser's own (Web Locks, BroadcastChannel) and what is specific —
 * replaying calls across a leader change with per-method semantics — is what no RPC library (Comlink and the like
 * are one-to-one MessagePort RPC) provides.
 */
import { applyPatch, diffSnapshot } from './snapshot.ts';
import {
  fromWireError,
  isTabMessage,
  SharedCallError,
  toWireError,
  type Snapshot,
  type TabMessage,
} from './wire.ts';

export { SharedCallError } from './wire.ts';

export type Role = 'leader' | 'follower';

type AnyFn = (...args: never[]) => unknown;
type Args<F> = F extends (...args: infer A) => unknown ? A : never;
type Result<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

/** The names of C's methods. */
export type MethodOf<C> = { [K in keyof C & string]: C[K] extends AnyFn ? K : never }[keyof C & string];

/** Event name → listener arguments. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

/** What the layer adds to the client's own events. */
export interface SharedEvents {
  /** This tab's role changed (a follower became the leader). */
  role: [Role];
  /** Something this tab could not do on its own: opening the client after a promotion, posting a snapshot. */
  error: [Error];
}

/** What a replay probe gets: when the caller made the call, and result keys already claimed by other probes. */
export interface ReplayContext {
  sentAt: number;
  /** Probes add what they recovered, so two identical uncertain calls never recover the same effect. */
  claimed: Set<string>;
}

/** How the next leader treats a call its predecessor acknowledged but never answered. */
export type ReplayPolicy<C, K extends keyof C> =
  | 'retry'
  | 'reject'
  | ((client: C, args: Args<C[K]>, context: ReplayContext) => Promise<{ value: Result<C[K]> } | undefined>);

/**
 * A synchronous read with arguments (history(chatId, {limit})): the leader captures plain data for the snapshot,
 * and a follower answers the read from it. The leader itself always reads its live client.
 */
export interface ReadSpec<C> {
  capture: (client: C) => unknown;
  read: (data: unknown, ...args: never[]) => unknown;
}

export interface SharedClientOptions<
  C extends object,
  M extends MethodOf<C>,
  G extends keyof C & string,
  R extends keyof C & string,
  E extends EventMap<E>,
> {
  /** The profile: one lock and one channel per profile. */
  profile: string;
  /** Opens the real client (and starts connecting); called only in the tab that holds the lock. */
  open: () => Promise<C>;
  /** Closes the client when the leader tab calls close(); default `client.close()` if it has one. */
  close?: (client: C) => Promise<void>;
  /** Methods followers may call (nothing else is run on their behalf). */
  methods: readonly M[];
  /** Events re-broadcast to followers. */
  events: readonly (keyof E & string)[];
  /** Properties or argument-less methods captured in every snapshot. */
  getters?: readonly G[];
  /** Synchronous reads with arguments, captured in every snapshot. */
  reads?: { readonly [K in R]: ReadSpec<C> };
  /** Per-method replay policy after a leader change ('retry' when absent). */
  replay?: { readonly [K in M]?: ReplayPolicy<C, K> };
  /** A follower's call fails with 'timeout' after this (60 s); 0 waits forever. */
  timeoutMs?: number;
  /** Per-method timeouts (0: no timeout), for calls that legitimately wait long (acceptInvite). */
  timeouts?: { readonly [K in M]?: number };
  /** How to listen to one client event; default `client.on(event, fn)` and `client.off(event, fn)`. */
  subscribe?: (client: C, event: string, listener: (...args: unknown[]) => void) => () => void;
}

/** A client-shaped object: methods return promises (they may run in another tab), reads stay synchronous. */
export type SharedView<C, M extends keyof C, G extends keyof C, R extends keyof C, E extends EventMap<E>> = {
  [K in M]: (...args: Args<C[K]>) => Promise<Result<C[K]>>;
} & { readonly [K in G | R]: C[K] } & {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): unknown;
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): unknown;
};

export interface SharedClient<
  C extends object,
  M extends MethodOf<C>,
  G extends keyof C & string,
  R extends keyof C & string,
  E extends EventMap<E>,
> {
  readonly role: Role;
  /** This tab's random id (for logs and tests). */
  readonly tabId: string;
  /** The real client, in the leader tab only. */
  readonly client: C | undefined;
  /** The same surface as the client for what was listed: hand this to the UI. */
  readonly view: SharedView<C, M, G, R, E>;
  /** Runs a listed method: directly in the leader, through the leader in a follower. */
  call<K extends M>(method: K, ...args: Args<C[K]>): Promise<Result<C[K]>>;
  /** A synchronous read: live in the leader, from the latest snapshot in a follower. */
  read<K extends G | R>(name: K, ...args: C[K] extends AnyFn ? Args<C[K]> : []): GetterValue<C[K]>;
  on<K extends keyof (E & SharedEvents) & string>(
    event: K,
    listener: (...args: (E & SharedEvents)[K]) => void,
  ): () => void;
  off<K extends keyof (E & SharedEvents) & string>(
    event: K,
    listener: (...args: (E & SharedEvents)[K]) => void,
  ): void;
  /** Leaves: a leader closes its client and hands the lock over; pending calls of this tab fail 'closed'. */
  close(): Promise<void>;
}

/** A property's type, or what an argument-less method returns. */
export type GetterValue<T> = T extends () => infer R ? R : T extends AnyFn ? ReturnType<T> : T;

interface PendingCall {
  id: string;
  method: string;
  args: unknown[];
  sentAt: number;
  /** The leader it was last sent to. */
  sentTo: string | undefined;
  acked: boolean;
  /** Some earlier leader acknowledged it and went away without answering. */
  uncertain: boolean;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The Web Lock that makes a tab the holder of the profile's device (onboarding may take it to register once). */
export function deviceLockName(profile: string): string {
  return `hush-device-${profile}`;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const SEEN_CAP = 2000;

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

/** Arrays from a snapshot are handed out as copies: a caller that sorts in place must not change the snapshot. */
function copied(data: unknown): unknown {
  return Array.isArray(data) ? [...data] : data;
}

class Shared<
  C extends object,
  M extends MethodOf<C>,
  G extends keyof C & string,
  R extends keyof C & string,
  E extends EventMap<E>,
> implements SharedClient<C, M, G, R, E> {
  readonly tabId = randomId();
  readonly #opts: SharedClientOptions<C, M, G, R, E>;
  readonly #channel: BroadcastChannel;
  readonly #abort = new AbortController();
  readonly #listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  readonly #pending = new Map<string, PendingCall>();
  /** Leader: ids of calls already taken, so a duplicate copy never runs twice. */
  readonly #seen = new Set<string>();
  readonly #claimed = new Set<string>();
  readonly #unsubscribe: Array<() => void> = [];
  #role: Role = 'follower';
  #client: C | undefined;
  #leaderId: string | undefined;
  #snapshot: Snapshot | undefined;
  /** Leader: the snapshot the followers hold now (the base of the next patch). */
  #sent: Snapshot = {};
  #outEvents: Array<{ name: string; args: unknown[] }> = [];
  #updateScheduled = false;
  #counter = 0;
  #closed = false;
  #releaseLock: (() => void) | undefined;
  #ready: { resolve: () => void; reject: (e: Error) => void; done: boolean };
  readonly readyPromise: Promise<void>;
  readonly view: SharedView<C, M, G, R, E>;

  constructor(opts: SharedClientOptions<C, M, G, R, E>) {
    this.#opts = opts;
    this.#channel = new BroadcastChannel(`hush-tabs-${opts.profile}`);
    let ready!: { resolve: () => void; reject: (e: Error) => void; done: boolean };
    this.readyPromise = new Promise<void>((resolve, reject) => {
      ready = { resolve, reject, done: false };
    });
    this.#ready = ready;
    this.view = this.#makeView();
  }

  get role(): Role {
    return this.#role;
  }

  get client(): C | undefined {
    return this.#client;
  }

  start(): void {
    this.#channel.onmessage = (event: MessageEvent) => {
      if (isTabMessage(event.data)) this.#onMessage(event.data);
    };
    // Every tab queues for the lock: the first gets it now, the others when the holder goes away.
    navigator.locks
      .request(deviceLockName(this.#opts.profile), { signal: this.#abort.signal }, () => this.#lead())
      .catch((error: unknown) => {
        if (this.#closed) return;
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      });
    this.#post({ t: 'hello', from: this.tabId });
  }

  call<K extends M>(method: K, ...args: Args<C[K]>): Promise<Result<C[K]>> {
    if (this.#closed) return Promise.reject(new SharedCallError('closed', 'tabs: this tab left the profile'));
    if (this.#role === 'leader') return this.#runLocal(method, args as unknown[]) as Promise<Result<C[K]>>;
    return new Promise<unknown>((resolve, reject) => {
      const id = `${this.tabId}:${++this.#counter}`;
      const timeoutMs = this.#opts.timeouts?.[method] ?? this.#opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const pending: PendingCall = {
        id,
        method,
        args: args as unknown[],
        sentAt: Date.now(),
        sentTo: undefined,
        acked: false,
        uncertain: false,
        resolve,
        reject,
        timer:
          timeoutMs > 0
            ? setTimeout(() => {
                this.#pending.delete(id);
                reject(
                  new SharedCallError(
                    'timeout',
                    `tabs: no answer to ${method} from the tab that holds the connection after ${timeoutMs} ms`,
                  ),
                );
              }, timeoutMs)
            : undefined,
      };
      this.#pending.set(id, pending);
      if (this.#leaderId !== undefined) this.#send(pending, this.#leaderId);
    }) as Promise<Result<C[K]>>;
  }

  read<K extends G | R>(name: K, ...args: C[K] extends AnyFn ? Args<C[K]> : []): GetterValue<C[K]> {
    const client = this.#client;
    if (this.#role === 'leader' && client) {
      const value = client[name] as unknown;
      return (
        typeof value === 'function' ? (value as AnyFn).apply(client, args as never[]) : value
      ) as GetterValue<C[K]>;
    }
    const entry = this.#snapshot?.[name];
    if (!entry) throw new SharedCallError('not-ready', `tabs: no snapshot of ${name} yet`);
    const spec = this.#opts.reads?.[name as R];
    if (spec) return spec.read(entry.data, ...(args as never[])) as GetterValue<C[K]>;
    return copied(entry.data) as GetterValue<C[K]>;
  }

  on<K extends keyof (E & SharedEvents) & string>(
    event: K,
    listener: (...args: (E & SharedEvents)[K]) => void,
  ): () => void {
    const set = this.#listeners.get(event) ?? new Set();
    set.add(listener as (...args: unknown[]) => void);
    this.#listeners.set(event, set);
    return () => this.off(event, listener);
  }

  off<K extends keyof (E & SharedEvents) & string>(
    event: K,
    listener: (...args: (E & SharedEvents)[K]) => void,
  ): void {
    this.#listeners.get(event)?.delete(listener as (...args: unknown[]) => void);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new SharedCallError('closed', 'tabs: this tab left the profile'));
    }
    this.#pending.clear();
    if (!this.#ready.done) this.#ready.reject(new SharedCallError('closed', 'tabs: closed before ready'));
    for (const off of this.#unsubscribe.splice(0)) off();
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      try {
        if (this.#opts.close) await this.#opts.close(client);
        else await (client as { close?: () => Promise<void> }).close?.();
      } finally {
        this.#channel.close();
        this.#releaseLock?.();
      }
    } else {
      this.#channel.close();
    }
  }

  // ---- leader ----

  /** Runs while this tab holds the lock: opens the client, takes over, and holds the lock until close(). */
  async #lead(): Promise<void> {
    if (this.#closed) return;
    let client: C;
    try {
      client = await this.#opts.open();
    } catch (error) {
      // Holding the lock without a client would stall every tab: fail here, let the lock go to the next tab.
      this.#fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#closed) {
      await (this.#opts.close ?? ((c: C) => (c as { close?: () => Promise<void> }).close?.()))(client);
      return;
    }
    this.#client = client;
    const subscribe =
      this.#opts.subscribe ??
      ((c: C, event: string, fn: (...args: unknown[]) => void) => {
        const emitter = c as unknown as {
          on(e: string, f: (...a: unknown[]) => void): unknown;
          off?(e: string, f: (...a: unknown[]) => void): unknown;
        };
        emitter.on(event, fn);
        return () => emitter.off?.(event, fn);
      });
    for (const name of this.#opts.events) {
      this.#unsubscribe.push(subscribe(client, name, (...args) => this.#onClientEvent(name, args)));
    }
    const wasFollower = this.#ready.done;
    this.#role = 'leader';
    this.#leaderId = this.tabId;
    this.#announce();
    this.#markReady();
    if (wasFollower) this.#emit('role', ['leader']);
    // This tab's own calls that were waiting for (or lost with) the previous leader run here now.
    for (const p of [...this.#pending.values()]) {
      this.#pending.delete(p.id);
      clearTimeout(p.timer);
      this.#seen.add(p.id);
      this.#execute(p.method, p.args, p.uncertain || p.acked, p.sentAt).then(
        (value) => {
          this.#flushUpdate();
          p.resolve(value);
        },
        (error: unknown) => p.reject(error instanceof Error ? error : new Error(String(error))),
      );
    }
    await new Promise<void>((resolve) => (this.#releaseLock = resolve));
  }

  #runLocal(method: string, args: unknown[]): Promise<unknown> {
    return this.#execute(method, args, false, Date.now()).finally(() => this.#scheduleUpdate());
  }

  /** Runs one call on the real client, honouring the replay policy when it may already have taken effect. */
  async #execute(method: string, args: unknown[], uncertain: boolean, sentAt: number): Promise<unknown> {
    const client = this.#client;
    if (!client) throw new SharedCallError('closed', 'tabs: this tab no longer holds the connection');
    if (!(this.#opts.methods as readonly string[]).includes(method))
      throw new SharedCallError('unknown-method', `tabs: ${method} may not be called from another tab`);
    if (uncertain) {
      const policy = this.#opts.replay?.[method as M] as ReplayPolicy<C, M> | undefined;
      if (policy === 'reject')
        throw new SharedCallError(
          'leader-lost',
          `tabs: the tab running ${method} closed before it answered; it may or may not have taken effect`,
        );
      if (typeof policy === 'function') {
        const found = await policy(client, args as Args<C[M]>, { sentAt, claimed: this.#claimed });
        if (found) return found.value;
      }
    }
    const fn = client[method as M] as unknown as (...a: unknown[]) => unknown;
    return await fn.apply(client, args);
  }

  #onCall(message: Extract<TabMessage, { t: 'call' }>): void {
    // Closing: no ack, so the caller sends the call again to the next leader as one that never started.
    if (this.#seen.has(message.id) || this.#closed || !this.#client) return;
    this.#seen.add(message.id);
    if (this.#seen.size > SEEN_CAP) this.#seen.delete(this.#seen.values().next().value as string);
    // The ack goes out in the same task that starts the call (see the header): no ack means it never started.
    this.#post({ t: 'ack', id: message.id, from: this.tabId, to: message.from });
    this.#execute(message.method, message.args, message.uncertain, message.sentAt).then(
      (value) => {
        this.#flushUpdate();
        try {
          this.#channel.postMessage({ t: 'result', id: message.id, to: message.from, ok: true, value });
        } catch (error) {
          this.#post({ t: 'result', id: message.id, to: message.from, ok: false, error: toWireError(error) });
        }
      },
      (error: unknown) => {
        this.#flushUpdate();
        this.#post({ t: 'result', id: message.id, to: message.from, ok: false, error: toWireError(error) });
      },
    );
  }

  #onClientEvent(name: string, args: unknown[]): void {
    this.#emit(name, args);
    this.#outEvents.push({ name, args });
    this.#scheduleUpdate();
  }

  /** Coalesces an event burst (the SDK emits several in one task) into one snapshot + events message. */
  #scheduleUpdate(): void {
    if (this.#updateScheduled || this.#role !== 'leader') return;
    this.#updateScheduled = true;
    queueMicrotask(() => this.#flushUpdate());
  }

  #flushUpdate(): void {
    this.#updateScheduled = false;
    if (this.#role !== 'leader' || this.#closed) return;
    const events = this.#outEvents;
    this.#outEvents = [];
    const snapshot = this.#capture();
    const patch = diffSnapshot(this.#sent, snapshot);
    if (events.length === 0 && Object.keys(patch).length === 0) return;
    this.#sent = snapshot;
    try {
      this.#channel.postMessage({ t: 'update', from: this.tabId, patch, events });
    } catch (error) {
      // An event argument that cannot be cloned must not cost the followers their snapshot.
      this.#emit('error', [error instanceof Error ? error : new Error(String(error))]);
      this.#post({ t: 'update', from: this.tabId, patch, events: [] });
    }
  }

  /** Tells every tab that this one leads, with the full snapshot (a new follower has nothing to patch). */
  #announce(): void {
    this.#sent = this.#capture();
    this.#post({ t: 'leader', from: this.tabId, snapshot: this.#sent });
  }

  #capture(): Snapshot {
    const client = this.#client;
    const out: Snapshot = {};
    if (!client) return out;
    for (const name of this.#opts.getters ?? []) {
      try {
        const value = client[name] as unknown;
        out[name] =
          typeof value === 'function'
            ? { kind: 'function', data: (value as AnyFn).call(client) }
            : { kind: 'value', data: value };
      } catch (error) {
        out[name] = { kind: 'value', data: undefined };
        this.#emit('error', [error instanceof Error ? error : new Error(String(error))]);
      }
    }
    const reads = this.#opts.reads as Record<string, ReadSpec<C>> | undefined;
    for (const [name, spec] of Object.entries(reads ?? {})) {
      out[name] = { kind: 'function', data: spec.capture(client) };
    }
    return out;
  }

  // ---- follower ----

  #onMessage(message: TabMessage): void {
    if (this.#closed) return;
    switch (message.t) {
      case 'hello':
        if (this.#role === 'leader') this.#announce();
        return;
      case 'leader': {
        if (this.#role === 'leader') return;
        this.#snapshot = message.snapshot;
        const changed = this.#leaderId !== message.from;
        this.#leaderId = message.from;
        this.#markReady();
        if (changed) for (const p of this.#pending.values()) this.#send(p, message.from);
        return;
      }
      case 'update':
        if (this.#role === 'leader') return;
        // A patch before this tab's first full snapshot has no base; the 'leader' answer to hello brings it.
        if (this.#snapshot) this.#snapshot = applyPatch(this.#snapshot, message.patch);
        for (const { name, args } of message.events) this.#emit(name, args);
        return;
      case 'call':
        if (this.#role === 'leader' && message.to === this.tabId) this.#onCall(message);
        return;
      case 'ack': {
        const p = message.to === this.tabId ? this.#pending.get(message.id) : undefined;
        if (p && p.sentTo === message.from) p.acked = true;
        return;
      }
      case 'result': {
        const p = message.to === this.tabId ? this.#pending.get(message.id) : undefined;
        if (!p) return;
        this.#pending.delete(p.id);
        clearTimeout(p.timer);
        if (message.ok) p.resolve(message.value);
        else p.reject(fromWireError(message.error));
        return;
      }
    }
  }

  /** Sends (or re-sends, after a leader change) one pending call to `leader`. */
  #send(p: PendingCall, leader: string): void {
    if (p.sentTo === leader) return;
    // Acknowledged by a leader that went away without answering: the call may have taken effect.
    if (p.sentTo !== undefined && p.acked) p.uncertain = true;
    p.sentTo = leader;
    p.acked = false;
    const message: TabMessage = {
      t: 'call',
      id: p.id,
      from: this.tabId,
      to: leader,
      method: p.method,
      args: p.args,
      sentAt: p.sentAt,
      uncertain: p.uncertain,
    };
    try {
      this.#channel.postMessage(message);
    } catch (error) {
      this.#pending.delete(p.id);
      clearTimeout(p.timer);
      p.reject(
        new SharedCallError(
          'not-cloneable',
          `tabs: the arguments of ${p.method} cannot be sent to another tab: ${(error as Error).message}`,
        ),
      );
    }
  }

  // ---- both ----

  #post(message: TabMessage): void {
    try {
      this.#channel.postMessage(message);
    } catch (error) {
      // After close() the channel is closed; results of calls that finish while closing go out before that.
      if (!this.#closed) throw error;
    }
  }

  #emit(event: string, args: unknown[]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        // As in the DOM: one failing listener neither stops the others nor the layer.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #markReady(): void {
    if (this.#ready.done) return;
    this.#ready.done = true;
    this.#ready.resolve();
  }

  #fail(error: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
    if (!this.#ready.done) {
      this.#ready.done = true;
      this.#ready.reject(error);
    } else {
      this.#emit('error', [error]);
    }
  }

  #makeView(): SharedView<C, M, G, R, E> {
    const view: Record<string, unknown> = {
      on: (event: string, fn: (...args: unknown[]) => void) => this.on(event as never, fn as never),
      off: (event: string, fn: (...args: unknown[]) => void) => this.off(event as never, fn as never),
    };
    for (const method of this.#opts.methods) {
      view[method] = (...args: unknown[]) => this.call(method, ...(args as Args<C[M]>));
    }
    const reads = [...(this.#opts.getters ?? []), ...Object.keys(this.#opts.reads ?? {})] as Array<G | R>;
    for (const name of reads) {
      Object.defineProperty(view, name, {
        enumerable: true,
        get: () => {
          // A method stays a method (chats()), a property stays a property (clientId).
          if (this.#isFunction(name)) return (...args: unknown[]) => this.read(name, ...(args as never));
          return this.read(name, ...([] as never));
        },
      });
    }
    return view as SharedView<C, M, G, R, E>;
  }

  #isFunction(name: string): boolean {
    if (this.#role === 'leader' && this.#client) return typeof this.#client[name as keyof C] === 'function';
    return this.#snapshot?.[name]?.kind === 'function';
  }
}

/**
 * Opens a profile's client shared by all its tabs: resolves as the leader once the real client is open, or as a
 * follower once the leader's first snapshot arrived (so synchronous reads work from the first moment).
 */
export async function openSharedClient<
  C extends object,
  const M extends MethodOf<C>,
  const G extends keyof C & string = never,
  const R extends keyof C & string = never,
  E extends EventMap<E> = Record<string, unknown[]>,
>(opts: SharedClientOptions<C, M, G, R, E>): Promise<SharedClient<C, M, G, R, E>> {
  if (typeof navigator === 'undefined' || !('locks' in navigator) || typeof BroadcastChannel === 'undefined')
    throw new SharedCallError('unsupported', 'tabs: this browser has no Web Locks or BroadcastChannel');
  const shared = new Shared(opts);
  shared.start();
  await shared.readyPromise;
  return shared;
}

/**
 * Calls `fn` whenever some tab of `profile` starts leading (its client is open), and once soon if one leads
 * already. A tab still on the onboarding screen uses this to continue once another tab created the device.
 * Returns a function that stops listening.
 */
export function onLeaderAnnounced(profile: string, fn: () => void): () => void {
  const channel = new BroadcastChannel(`hush-tabs-${profile}`);
  channel.onmessage = (event: MessageEvent) => {
    if (isTabMessage(event.data) && event.data.t === 'leader') fn();
  };
  // A leader that announced before this listener existed answers a hello with its announcement again.
  const hello: TabMessage = { t: 'hello', from: randomId() };
  channel.postMessage(hello);
  return () => channel.close();
}
