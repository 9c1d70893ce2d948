/**
 * What tabs of one profile say to each other on their BroadcastChannel (see shared-client.ts), and how an error
 * crosses it. Everything here is plain data: the channel structured-clones it, so no class instance, function or
 * CryptoKey-bearing object may appear in a message.
 */

import type { SnapshotPatch } from './snapshot.ts';

/** An error as it crosses the channel: its class name, its stable code (if any) and its message. */
export interface WireError {
  name: string;
  code?: string;
  message: string;
}

/** What a read looks like in a snapshot: a property's value, or what a sync method's capture returned. */
export interface SnapshotEntry {
  kind: 'value' | 'function';
  data: unknown;
}

/** The leader's view of the synchronous reads, pushed to followers after every event and every call. */
export type Snapshot = Record<string, SnapshotEntry>;

export type TabMessage =
  /** A tab starts (or wants the current state): the leader answers with 'leader'. */
  | { t: 'hello'; from: string }
  /** The sender holds the lock and its client is open; followers send their calls to it from now on. */
  | { t: 'leader'; from: string; snapshot: Snapshot }
  /** What changed in the snapshot since the last one (snapshot.ts), then the SDK events since then, in order. */
  | { t: 'update'; from: string; patch: SnapshotPatch; events: Array<{ name: string; args: unknown[] }> }
  /**
   * A follower's call, addressed to one leader (a dying leader's late copy is never run by its successor).
   * `uncertain`: an earlier leader acknowledged it and then went away, so it may already have taken effect.
   */
  | {
      t: 'call';
      id: string;
      from: string;
      to: string;
      method: string;
      args: unknown[];
      sentAt: number;
      uncertain: boolean;
    }
  /** The leader received the call and is about to run it (posted before the call starts). */
  | { t: 'ack'; id: string; from: string; to: string }
  | { t: 'result'; id: string; to: string; ok: true; value: unknown }
  | { t: 'result'; id: string; to: string; ok: false; error: WireError };

/** An error raised by the shared-client layer itself or rebuilt from the leader's answer. */
export class SharedCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    name = 'SharedCallError',
  ) {
    super(message);
    this.name = name;
  }
}

/** Reduces any thrown value to what can cross the channel. */
export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

/** Rebuilds an error that came over the channel, keeping name, code and message (the UI shows the message). */
export function fromWireError(error: WireError): SharedCallError {
  return new SharedCallError(error.code ?? 'remote-error', error.message, error.name);
}

/** Loose check that a channel message has the shape this module sends (other code may share the channel name). */
export function isTabMessage(value: unknown): value is TabMessage {
  if (typeof value !== 'object' || value === null) return false;
  const t = (value as { t?: unknown }).t;
  return t === 'hello' || t === 'leader' || t === 'update' || t === 'call' || t === 'ack' || t === 'result';
}
