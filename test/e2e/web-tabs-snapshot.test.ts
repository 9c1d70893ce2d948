/**
 * Snapshot patches (web/tabs/snapshot.ts): a follower that applies the leader's patch to what it holds ends with
 * exactly the leader's snapshot, and a patch carries only what changed. Plain logic, so checked in Node.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyPatch, diffSnapshot } from '../../web/tabs/snapshot.ts';
import type { Snapshot } from '../../web/tabs/wire.ts';

// Null-prototype objects never cross a BroadcastChannel (structured clone makes plain objects): not generated.
const plain = { noNullPrototype: true } as const;
const message = fc.record(
  { id: fc.string(), text: fc.string(), state: fc.constantFrom('sending', 'sent', 'read') },
  plain,
);
const entry = fc.oneof(
  fc.record({
    kind: fc.constant<'value'>('value'),
    data: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
  }),
  fc.record({ kind: fc.constant<'function'>('function'), data: fc.array(message, { maxLength: 4 }) }, plain),
  // Record data (history per chat): patched entry by entry.
  fc.record({
    kind: fc.constant<'function'>('function'),
    data: fc.dictionary(fc.constantFrom('c1', 'c2', 'c3', 'c4'), fc.array(message, { maxLength: 4 }), plain),
  }),
);
const snapshot: fc.Arbitrary<Snapshot> = fc.dictionary(
  fc.constantFrom('a', 'b', 'history', 'chats'),
  entry,
  plain,
);

describe('snapshot patches', () => {
  it('apply(before, diff(before, after)) is after, for any two snapshots with the same reads', () => {
    fc.assert(
      fc.property(snapshot, snapshot, (before, after) => {
        // The leader always captures the same names; a follower's snapshot is the leader's previous one.
        const names = new Set([...Object.keys(before), ...Object.keys(after)]);
        for (const n of names) {
          before[n] ??= { kind: 'value', data: undefined };
          after[n] ??= { kind: 'value', data: undefined };
        }
        const patch = structuredClone(diffSnapshot(before, after));
        expect(applyPatch(before, patch)).toEqual(after);
        expect(diffSnapshot(after, after)).toEqual({});
      }),
    );
  });

  it('sends only the changed chat of a history record, and nothing when nothing changed', () => {
    const big = Array.from({ length: 1000 }, (_, i) => ({ id: `m${i}`, text: 'x', state: 'read' }));
    const before: Snapshot = {
      history: { kind: 'function', data: { c1: big, c2: [{ id: 'a', state: 'sent' }] } },
    };
    const after: Snapshot = {
      history: { kind: 'function', data: { c1: big, c2: [{ id: 'a', state: 'delivered' }], c3: [] } },
    };
    expect(diffSnapshot(before, after)).toEqual({
      history: { kind: 'function', set: { c2: [{ id: 'a', state: 'delivered' }], c3: [] }, drop: [] },
    });
    const dropped: Snapshot = { history: { kind: 'function', data: { c1: big } } };
    expect(diffSnapshot(after, dropped)).toEqual({
      history: { kind: 'function', set: {}, drop: ['c2', 'c3'] },
    });
    // Applying never changes the snapshot it started from (a follower may still be reading it).
    const copy = structuredClone(before);
    applyPatch(before, diffSnapshot(before, after));
    expect(before).toEqual(copy);
  });
});
