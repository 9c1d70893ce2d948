/**
 * The arithmetic behind the web app's virtualised message list (web/ui/virtual-window.ts): row tops, the row under
 * a pixel, and which rows a viewport needs — including the edges (empty list, the very top and end, rows of
 * height zero, a viewport larger than the list).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rowAt, rowTops, visibleRange } from '../../web/ui/virtual-window.ts';

describe('virtual window', () => {
  it('sums heights into row tops', () => {
    expect(rowTops([])).toEqual([0]);
    expect(rowTops([10, 20, 5])).toEqual([0, 10, 30, 35]);
  });

  it('finds the row covering a pixel', () => {
    const tops = rowTops([10, 20, 5]);
    expect(rowAt(tops, 0)).toBe(0);
    expect(rowAt(tops, 9.5)).toBe(0);
    expect(rowAt(tops, 10)).toBe(1);
    expect(rowAt(tops, 34)).toBe(2);
    expect(rowAt(tops, 35)).toBe(3);
    expect(rowAt(tops, 1e9)).toBe(3);
  });

  it('draws only what a viewport of 2,000 rows needs', () => {
    const tops = rowTops(new Array<number>(2000).fill(50));
    expect(visibleRange(tops, 0, 600, 200)).toEqual({ start: 0, end: 17 });
    const end = visibleRange(tops, 2000 * 50 - 600, 600, 200);
    expect(end).toEqual({ start: 2000 - 16, end: 2000 });
    const middle = visibleRange(tops, 50_000, 600, 200);
    expect(middle.start).toBe(996);
    expect(middle.end - middle.start).toBeLessThan(30);
  });

  it('handles an empty list and a viewport larger than the list', () => {
    expect(visibleRange([0], 0, 600, 200)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(rowTops([10, 10]), 0, 600, 200)).toEqual({ start: 0, end: 2 });
  });

  it('always covers every row that intersects the viewport (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 300 }),
        fc.nat(100_000),
        fc.integer({ min: 1, max: 2000 }),
        fc.nat(1000),
        (heights, rawTop, height, buffer) => {
          const tops = rowTops(heights);
          const total = tops[tops.length - 1]!;
          const scrollTop = total === 0 ? 0 : rawTop % (total + 1);
          const { start, end } = visibleRange(tops, scrollTop, height, buffer);
          expect(start).toBeGreaterThanOrEqual(0);
          expect(end).toBeLessThanOrEqual(heights.length);
          expect(start).toBeLessThan(end);
          for (let i = 0; i < heights.length; i++) {
            const intersects = tops[i + 1]! > scrollTop && tops[i]! < scrollTop + height;
            if (intersects) expect(i >= start && i < end, `row ${i}`).toBe(true);
          }
        },
      ),
    );
  });
});
