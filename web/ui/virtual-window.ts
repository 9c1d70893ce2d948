/**
 * The arithmetic of the virtualised message list (pure, no DOM): row tops from row heights, and which rows
 * intersect the viewport plus a buffer. Heights are the measured ones where known and estimates otherwise.
 */

/** Row tops: `tops[i]` is where row i starts, `tops[n]` is the total height. */
export function rowTops(heights: readonly number[]): number[] {
  const tops = new Array<number>(heights.length + 1);
  tops[0] = 0;
  for (let i = 0; i < heights.length; i++) tops[i + 1] = tops[i]! + heights[i]!;
  return tops;
}

/** The first index i in [0, n] whose `tops[i + 1] > y` (n if none): the row that covers pixel y. */
export function rowAt(tops: readonly number[], y: number): number {
  const n = tops.length - 1;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tops[mid + 1]! > y) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Rows [start, end) to render for a viewport at `scrollTop` of `height` pixels, with `buffer` pixels either side. */
export function visibleRange(
  tops: readonly number[],
  scrollTop: number,
  height: number,
  buffer: number,
): { start: number; end: number } {
  const n = tops.length - 1;
  if (n <= 0) return { start: 0, end: 0 };
  const start = Math.min(rowAt(tops, Math.max(0, scrollTop - buffer)), n - 1);
  const end = Math.max(start + 1, Math.min(n, rowAt(tops, scrollTop + height + buffer) + 1));
  return { start, end };
}
