/**
 * Snapshot patches: after each event the leader sends only what changed since its last snapshot, and for a read
 * whose data is a record (history per chat) only the changed entries. A typing event then costs a few bytes on
 * the channel instead of every chat's full history.
 */
import equal from 'fast-deep-equal';
import type { Snapshot, SnapshotEntry } from './wire.ts';

/** A change to one snapshot entry: the whole entry, or (for record data) the entries to set and to drop. */
export type EntryPatch =
  { whole: SnapshotEntry } | { kind: SnapshotEntry['kind']; set: Record<string, unknown>; drop: string[] };

export type SnapshotPatch = Record<string, EntryPatch>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What turns `before` into `after` (an empty object when nothing changed). */
export function diffSnapshot(before: Snapshot, after: Snapshot): SnapshotPatch {
  const patch: SnapshotPatch = {};
  for (const [name, next] of Object.entries(after)) {
    const prev = before[name];
    if (prev && prev.kind === next.kind && isRecord(prev.data) && isRecord(next.data)) {
      const set: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(next.data)) {
        if (!(key in prev.data) || !equal(prev.data[key], value)) set[key] = value;
      }
      const drop = Object.keys(prev.data).filter((key) => !(key in (next.data as Record<string, unknown>)));
      if (Object.keys(set).length > 0 || drop.length > 0) patch[name] = { kind: next.kind, set, drop };
    } else if (!prev || prev.kind !== next.kind || !equal(prev.data, next.data)) {
      patch[name] = { whole: next };
    }
  }
  return patch;
}

/** Applies a patch, returning a new snapshot (record entries are copied, never changed in place). */
export function applyPatch(snapshot: Snapshot, patch: SnapshotPatch): Snapshot {
  const out: Snapshot = { ...snapshot };
  for (const [name, change] of Object.entries(patch)) {
    if ('whole' in change) {
      out[name] = change.whole;
      continue;
    }
    const prev = out[name]?.data;
    const data: Record<string, unknown> = isRecord(prev) ? { ...prev } : {};
    for (const key of change.drop) delete data[key];
    Object.assign(data, change.set);
    out[name] = { kind: change.kind, data };
  }
  return out;
}
