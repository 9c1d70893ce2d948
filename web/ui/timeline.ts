/**
 * Turns a chat's history into the rows the message list shows: a day separator before the first message of each
 * local calendar day, then the messages. Pure, so the virtualised list can be fed and tested without a DOM.
 */
import type { StoredMessage } from '../../src/client/api.ts';
import { dayKey, dayLabel } from './format.ts';

export type TimelineRow =
  { kind: 'day'; key: string; label: string } | { kind: 'message'; key: string; message: StoredMessage };

/** The rows for `history` (oldest first), with day separators. */
export function timelineRows(history: readonly StoredMessage[], now = Date.now()): TimelineRow[] {
  const rows: TimelineRow[] = [];
  let day = '';
  for (const message of history) {
    const key = dayKey(message.ts);
    if (key !== day) {
      day = key;
      rows.push({ kind: 'day', key: `day:${key}`, label: dayLabel(message.ts, now) });
    }
    rows.push({ kind: 'message', key: `msg:${message.id}:${message.from}`, message });
  }
  return rows;
}
