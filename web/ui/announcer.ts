/**
 * A visually hidden live region for screen readers: new messages and important changes are read out once,
 * instead of making the (virtualised, redrawn) message list itself live.
 */
import { h } from '../dom.ts';

/** A polite live region; say() replaces its text so each announcement is read once. */
export class Announcer {
  readonly element = h('div', {
    className: 'visually-hidden',
    attrs: { id: 'announcer', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' },
  });

  /** Reads `text` out. */
  say(text: string): void {
    this.element.textContent = '';
    // A fresh text node in the next frame is announced even when the text repeats.
    requestAnimationFrame(() => (this.element.textContent = text));
  }
}
