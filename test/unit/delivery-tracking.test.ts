// End-to-end delivery of own texts (src/client/delivery.ts): a recipient that receipts a later text first never
// got the earlier one; no receipt within the bound is "not delivered" too; a late receipt clears it; copies still
// in the outbox are never judged; departed members are forgotten.
import { describe, expect, it } from 'vitest';
import {
  applyReceipt,
  DELIVERY_TRACK_CAP,
  expireDeliveries,
  markTaken,
  trackDelivery,
  type DeliveryEntry,
} from '../../src/client/delivery.ts';

const none = () => false;
const sent = (ids: string[], recipients: string[], at = 0): DeliveryEntry[] =>
  ids.reduce<DeliveryEntry[]>((list, id) => trackDelivery(list, id, recipients, at), []);

describe('delivery tracking', () => {
  it('a receipt for a later text marks the earlier ones missing for that recipient only', () => {
    const list = sent(['m1', 'm2', 'm3'], ['bob', 'carol']);
    const change = applyReceipt(list, 'bob', ['m3'], none);
    expect(change.missed).toEqual(['m1', 'm2']);
    expect(change.stillMissing).toEqual(new Set(['m1', 'm2']));
    const m1 = change.list.find((e) => e.id === 'm1')!;
    expect(m1.missing).toEqual(['bob']);
    expect(m1.waiting).toEqual(['carol']);
    expect(change.list.find((e) => e.id === 'm3')!.waiting).toEqual(['carol']);
  });

  it('receipts in order mark nothing missing, and fully receipted texts are forgotten', () => {
    let list = sent(['m1', 'm2'], ['bob']);
    for (const id of ['m1', 'm2']) {
      const change = applyReceipt(list, 'bob', [id], none);
      expect(change.missed).toEqual([]);
      list = change.list;
    }
    expect(list).toEqual([]);
  });

  it('a late receipt recovers a missing text', () => {
    const first = applyReceipt(sent(['m1', 'm2'], ['bob']), 'bob', ['m2'], none);
    const late = applyReceipt(first.list, 'bob', ['m1'], none);
    expect(late.recovered).toEqual(['m1']);
    expect(late.stillMissing.size).toBe(0);
    expect(late.list).toEqual([]);
  });

  it('a copy still in the outbox is not judged missing', () => {
    const list = sent(['m1', 'm2'], ['bob']);
    const change = applyReceipt(list, 'bob', ['m2'], (id) => id === 'm1');
    expect(change.missed).toEqual([]);
    expect(change.list.map((e) => e.id)).toEqual(['m1']);
  });

  it('the time bound counts from when the broker took the copy, for recipients still members', () => {
    let list = sent(['m1'], ['bob', 'carol'], 0);
    list = markTaken(list, 'm1', 1000);
    const members = new Set(['me', 'bob', 'carol']);
    expect(expireDeliveries(list, 1500, 1000, members, none).missed).toEqual([]);
    const late = expireDeliveries(list, 2000, 1000, members, none);
    expect(late.missed).toEqual(['m1']);
    expect(late.list[0]!.missing).toEqual(['bob', 'carol']);
    // Carol left: nothing more will come from her, and she no longer keeps the text missing.
    const after = expireDeliveries(late.list, 2000, 1000, new Set(['me', 'bob']), none);
    expect(after.list[0]!.missing).toEqual(['bob']);
  });

  it('keeps at most DELIVERY_TRACK_CAP texts, dropping the oldest', () => {
    let list: DeliveryEntry[] = [];
    for (let i = 0; i < DELIVERY_TRACK_CAP + 5; i++) list = trackDelivery(list, `m${i}`, ['bob'], i);
    expect(list.length).toBe(DELIVERY_TRACK_CAP);
    expect(list[0]!.id).toBe('m5');
  });
});
