/**
 * The web app's pure helpers: day separators in a history (web/ui/timeline.ts) and the grouping of a safety
 * number into the 12 groups of 5 digits both people compare (web/ui/format.ts).
 */
import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/client/api.ts';
import { dayKey, safetyNumberGroups } from '../../web/ui/format.ts';
import { timelineRows } from '../../web/ui/timeline.ts';

const at = (y: number, m: number, d: number, h: number) => new Date(y, m - 1, d, h).getTime();
const msg = (id: string, ts: number): StoredMessage => ({
  chatId: 'c',
  id,
  from: 'a',
  text: id,
  ts,
  state: 'received',
});

describe('timeline rows', () => {
  it('puts one day separator before the first message of each local day', () => {
    const now = at(2026, 3, 10, 12);
    const rows = timelineRows(
      [
        msg('1', at(2026, 3, 1, 9)),
        msg('2', at(2026, 3, 1, 23)),
        msg('3', at(2026, 3, 9, 8)),
        msg('4', at(2026, 3, 10, 0)),
        msg('5', at(2026, 3, 10, 11)),
      ],
      now,
    );
    expect(rows.map((r) => (r.kind === 'day' ? `[${r.label}]` : r.message.id))).toEqual([
      expect.stringMatching(/^\[.+\]$/),
      '1',
      '2',
      '[Yesterday]',
      '3',
      '[Today]',
      '4',
      '5',
    ]);
    expect(rows[0]!.kind === 'day' && rows[0]!.label).not.toMatch(/Today|Yesterday/);
  });

  it('keys rows uniquely, even when two senders reuse a message id', () => {
    const rows = timelineRows([msg('x', at(2026, 1, 1, 1)), { ...msg('x', at(2026, 1, 1, 2)), from: 'b' }]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });

  it('is empty for an empty history', () => {
    expect(timelineRows([])).toEqual([]);
  });

  it('uses the local calendar day', () => {
    expect(dayKey(at(2026, 12, 31, 23))).toBe('2026-12-31');
    expect(dayKey(at(2027, 1, 1, 0))).toBe('2027-01-01');
  });
});

describe('safety number groups', () => {
  it('splits 60 digits into 12 groups of 5', () => {
    const digits = '012345678901234567890123456789012345678901234567890123456789';
    const groups = safetyNumberGroups(digits);
    expect(groups).toHaveLength(12);
    expect(groups.join('')).toBe(digits);
    expect(groups.every((g) => /^\d{5}$/.test(g))).toBe(true);
  });

  it('refuses anything but 60 digits, saying what came', () => {
    expect(() => safetyNumberGroups('123')).toThrow(/expected 60 digits, got 3/);
    expect(() => safetyNumberGroups('x'.repeat(60))).toThrow(/expected 60 digits/);
  });
});
