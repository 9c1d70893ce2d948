/**
 * Text from other people reaches the terminal here. A decrypted message could carry ANSI escape
 * sequences (cursor moves, title changes, OSC 52 clipboard writes): the terminal equivalent of innerHTML.
 * Every control character is replaced by a visible placeholder before anything is drawn.
 */

// C0 controls, DEL, C1 controls, and bidi overrides that could reorder what the user sees.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Makes untrusted text safe to print: control characters become "�", newlines a visible "⏎". */
export function sanitizeForTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => (c === '\n' ? '⏎' : '\uFFFD'));
}

/** Display width of a string, counting East Asian wide characters and emoji as two columns. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch.codePointAt(0)!);
  return width;
}

function charWidth(cp: number): number {
  if (cp === 0) return 0;
  // Combining marks take no column.
  if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x200d) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Cuts text to at most `width` columns (adding "…" when cut) and pads it with spaces to exactly `width`. */
export function fitToWidth(text: string, width: number): string {
  if (width <= 0) return '';
  let out = '';
  let used = 0;
  const full = displayWidth(text);
  const limit = full > width ? width - 1 : width;
  for (const ch of text) {
    const w = charWidth(ch.codePointAt(0)!);
    if (used + w > limit) break;
    out += ch;
    used += w;
  }
  if (full > width) {
    out += '…';
    used += 1;
  }
  return out + ' '.repeat(Math.max(0, width - used));
}

/** Splits text into lines of at most `width` columns, breaking at spaces where possible. */
export function wrapToWidth(text: string, width: number): string[] {
  if (width <= 0) return [];
  const lines: string[] = [];
  let line = '';
  let used = 0;
  for (const word of text.split(/(\s+)/)) {
    const w = displayWidth(word);
    if (used + w <= width) {
      line += word;
      used += w;
      continue;
    }
    if (line.trim()) lines.push(line.trimEnd());
    line = '';
    used = 0;
    if (/^\s+$/.test(word)) continue;
    // A word longer than the line is broken by characters.
    for (const ch of word) {
      const cw = displayWidth(ch);
      if (used + cw > width) {
        lines.push(line);
        line = '';
        used = 0;
      }
      line += ch;
      used += cw;
    }
  }
  if (line.trim() || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}
