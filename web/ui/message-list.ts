/**
 * A virtualised list for long histories: only the rows that intersect the viewport (plus a buffer of
 * BUFFER_PX either side) are in the DOM; two spacers stand in for the rest. Row heights are measured after
 * drawing and remembered by row key; rows never drawn count with their estimate. When measurements change the
 * heights above the viewport, the scroll position is corrected so the rows being read do not jump; while the
 * user is at the end, the list follows new rows.
 *
 * The spacers are SVG elements with a `height` attribute: the CSP forbids style attributes, and an SVG's
 * width/height are plain presentation attributes, so no inline style is needed to give them a size.
 */
import { rowTops, visibleRange } from './virtual-window.ts';

const BUFFER_PX = 800;
const SVG_NS = 'http://www.w3.org/2000/svg';
/** How close to the end (in pixels) still counts as "at the end" (sub-pixel rounding, a thin last row). */
const END_SLACK_PX = 24;

export interface RowRenderer<R> {
  key(row: R): string;
  /** Changes whenever the row must be drawn again (say, a message's delivery state). */
  version(row: R): string;
  render(row: R): HTMLLIElement;
  /** A guess of the row's height in pixels before it was ever drawn. */
  estimate(row: R): number;
}

function spacer(name: string): { li: HTMLLIElement; svg: SVGSVGElement } {
  const li = document.createElement('li');
  li.className = `spacer ${name}`;
  li.setAttribute('aria-hidden', 'true');
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('width', '1');
  svg.setAttribute('height', '0');
  svg.setAttribute('focusable', 'false');
  li.append(svg);
  return { li, svg };
}

/** A scrolling <ol> that draws only the visible part of a long list of rows. */
export class VirtualList<R> {
  readonly element: HTMLOListElement;
  readonly #renderer: RowRenderer<R>;
  #rows: R[] = [];
  readonly #heights = new Map<string, number>();
  #drawn = new Map<string, { li: HTMLLIElement; version: string }>();
  readonly #top = spacer('top');
  readonly #bottom = spacer('bottom');
  #atEnd = true;
  #frame = 0;
  /** Called when the view leaves or reaches the end (to offer a "jump to newest" button). */
  onEndChange: (atEnd: boolean) => void = () => undefined;

  constructor(element: HTMLOListElement, renderer: RowRenderer<R>) {
    this.element = element;
    this.#renderer = renderer;
    element.append(this.#top.li, this.#bottom.li);
    element.addEventListener('scroll', () => {
      const atEnd = this.#distanceToEnd() <= END_SLACK_PX;
      if (atEnd !== this.#atEnd) {
        this.#atEnd = atEnd;
        this.onEndChange(atEnd);
      }
      this.#schedule();
    });
    new ResizeObserver(() => this.#schedule()).observe(element);
  }

  /** Replaces the rows. `reset` (another chat opened) jumps to the end and forgets what was drawn. */
  setRows(rows: R[], { reset = false }: { reset?: boolean } = {}): void {
    this.#rows = rows;
    if (reset) {
      if (!this.#atEnd) this.onEndChange(true);
      this.#atEnd = true;
      for (const { li } of this.#drawn.values()) li.remove();
      this.#drawn.clear();
    }
    this.#update();
  }

  /** True while the view is at (or following) the newest row. */
  get atEnd(): boolean {
    return this.#atEnd;
  }

  /** Scrolls to the newest row and keeps following new ones. */
  scrollToEnd(): void {
    if (!this.#atEnd) this.onEndChange(true);
    this.#atEnd = true;
    this.#update();
  }

  /** The number of rows currently in the DOM (for tests and diagnostics). */
  get drawnCount(): number {
    return this.#drawn.size;
  }

  #distanceToEnd(): number {
    const e = this.element;
    return e.scrollHeight - e.scrollTop - e.clientHeight;
  }

  #schedule(): void {
    if (this.#frame !== 0) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#update();
    });
  }

  #heightsNow(): number[] {
    return this.#rows.map(
      (row) => this.#heights.get(this.#renderer.key(row)) ?? this.#renderer.estimate(row),
    );
  }

  #update(): void {
    const viewport = this.element.clientHeight;
    // Hidden (another view on a phone): nothing can be measured; the ResizeObserver calls again once shown.
    if (!this.element.isConnected || viewport === 0) return;
    // Drawing can change measured heights, which moves the range: a few passes settle it.
    for (let pass = 0; pass < 3; pass++) {
      const tops = rowTops(this.#heightsNow());
      const total = tops[tops.length - 1]!;
      const scrollTop = this.#atEnd ? Math.max(0, total - viewport) : this.element.scrollTop;
      const { start, end } = visibleRange(tops, scrollTop, viewport, BUFFER_PX);
      // The anchor: the first row at the top of the viewport and how far into it the view is.
      const anchor = this.#firstAt(tops, scrollTop, start, end);
      const into = scrollTop - (tops[anchor] ?? 0);
      this.#draw(start, end, tops);
      const changed = this.#measure(start, end);
      if (this.#atEnd) {
        this.element.scrollTop = this.element.scrollHeight;
      } else if (changed) {
        const after = rowTops(this.#heightsNow());
        this.#setSpacers(after, start, end);
        this.element.scrollTop = (after[anchor] ?? 0) + into;
      }
      if (!changed) break;
    }
  }

  #firstAt(tops: readonly number[], y: number, start: number, end: number): number {
    for (let i = start; i < end; i++) if (tops[i + 1]! > y) return i;
    return start;
  }

  #setSpacers(tops: readonly number[], start: number, end: number): void {
    const total = tops[tops.length - 1]!;
    this.#top.svg.setAttribute('height', String(Math.round(tops[start] ?? 0)));
    this.#bottom.svg.setAttribute('height', String(Math.max(0, Math.round(total - (tops[end] ?? total)))));
  }

  /** Puts rows [start, end) between the spacers, reusing drawn rows whose version did not change. */
  #draw(start: number, end: number, tops: readonly number[]): void {
    const next = new Map<string, { li: HTMLLIElement; version: string }>();
    for (let i = start; i < end; i++) {
      const row = this.#rows[i]!;
      const key = this.#renderer.key(row);
      const version = this.#renderer.version(row);
      const old = this.#drawn.get(key);
      next.set(key, old && old.version === version ? old : { li: this.#renderer.render(row), version });
    }
    for (const [key, { li }] of this.#drawn) if (next.get(key)?.li !== li) li.remove();
    // Insert in order, moving only what is out of place (a focused row that stays keeps its focus).
    let cursor: ChildNode = this.#top.li;
    for (const { li } of next.values()) {
      if (cursor.nextSibling !== li) cursor.after(li);
      cursor = li;
    }
    this.#drawn = next;
    this.#setSpacers(tops, start, end);
  }

  /** Records the drawn rows' heights; true if any differs from what was assumed. */
  #measure(start: number, end: number): boolean {
    let changed = false;
    for (let i = start; i < end; i++) {
      const key = this.#renderer.key(this.#rows[i]!);
      const li = this.#drawn.get(key)?.li;
      if (!li) continue;
      const height = li.offsetHeight;
      const known = this.#heights.get(key) ?? this.#renderer.estimate(this.#rows[i]!);
      if (Math.abs(known - height) > 0.5) changed = true;
      this.#heights.set(key, height);
    }
    return changed;
  }
}
