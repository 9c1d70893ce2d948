/**
 * End-to-end delivery tracking of own texts (issue 13): the broker's PUBACK only says the broker took a copy, and a
 * broker may still drop it (a full offline queue: Mosquitto drops silently after the PUBACK). So each own text
 * waits, per recipient, for that recipient's delivery (or read) receipt, and is found "not delivered" to it when
 * - the recipient receipts a LATER text of this device in the same chat first: a recipient handles one sender's
 *   messages in order, so the earlier one never reached it; or
 * - no receipt came within a time bound after the broker took it (the recipient may just be offline that long,
 *   but the user must not read "sent" forever).
 * A receipt that comes later still clears it. Pure functions on the list stored in the chat record.
 */

/** One own text still waiting for receipts, in sending order. */
export interface DeliveryEntry {
  id: string;
  /** When the broker took the last copy (or when it was written, until then), ms since 1970. */
  sentAt: number;
  /** Recipients whose receipt has not come. */
  waiting: string[];
  /** Recipients it was found not delivered to (a subset of the original recipients, no longer in `waiting`). */
  missing: string[];
}

/** Texts tracked per chat; beyond it the oldest entry is forgotten (it keeps the state it has). */
export const DELIVERY_TRACK_CAP = 2000;

/** Default time after which a text with no receipt from a recipient counts as not delivered to it: 7 days. */
export const DEFAULT_UNDELIVERED_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/** True when the copy of text `id` for `to` is still in the outbox (not yet taken by the broker). */
export type StillQueued = (id: string, to: string) => boolean;

/** Starts tracking a text sent to `recipients`; returns the new list (the oldest dropped beyond the cap). */
export function trackDelivery(
  list: readonly DeliveryEntry[],
  id: string,
  recipients: readonly string[],
  now: number,
): DeliveryEntry[] {
  if (recipients.length === 0) return [...list];
  const next = [...list, { id, sentAt: now, waiting: [...recipients], missing: [] }];
  return next.length > DELIVERY_TRACK_CAP ? next.slice(next.length - DELIVERY_TRACK_CAP) : next;
}

/** What a receipt or a time check changed. */
export interface DeliveryChange {
  /** Texts newly found not delivered to someone. */
  missed: string[];
  /** Texts receipted by `from` that it had been counted as missing (a late receipt). */
  recovered: string[];
  /** Texts whose entry still lists someone as missing after this change. */
  stillMissing: Set<string>;
  /** The list without entries that nobody is waiting for any more. */
  list: DeliveryEntry[];
}

/**
 * Applies a delivery or read receipt from recipient `from` for `ids`: those stop waiting for `from`, and every
 * EARLIER tracked text still waiting for `from` (and already taken by the broker) is missing for it.
 */
export function applyReceipt(
  list: readonly DeliveryEntry[],
  from: string,
  ids: readonly string[],
  stillQueued: StillQueued,
): DeliveryChange {
  const entries = list.map((e) => ({ ...e, waiting: [...e.waiting], missing: [...e.missing] }));
  const wanted = new Set(ids);
  let latest = -1;
  const recovered: string[] = [];
  entries.forEach((entry, index) => {
    if (!wanted.has(entry.id)) return;
    if (entry.missing.includes(from)) recovered.push(entry.id);
    entry.waiting = entry.waiting.filter((r) => r !== from);
    entry.missing = entry.missing.filter((r) => r !== from);
    latest = Math.max(latest, index);
  });
  const missed: string[] = [];
  for (let i = 0; i < latest; i++) {
    const entry = entries[i]!;
    if (!entry.waiting.includes(from) || stillQueued(entry.id, from)) continue;
    entry.waiting = entry.waiting.filter((r) => r !== from);
    entry.missing.push(from);
    missed.push(entry.id);
  }
  return settle(entries, missed, recovered);
}

/**
 * Counts as missing every recipient that has not receipted a text within `boundMs` of the broker taking it, and
 * forgets recipients that are no longer `members` (nothing more will come from them).
 */
export function expireDeliveries(
  list: readonly DeliveryEntry[],
  now: number,
  boundMs: number,
  members: ReadonlySet<string>,
  stillQueued: StillQueued,
): DeliveryChange {
  const missed: string[] = [];
  const entries = list.map((e) => {
    const entry = {
      ...e,
      waiting: e.waiting.filter((r) => members.has(r)),
      missing: e.missing.filter((r) => members.has(r)),
    };
    if (now - entry.sentAt < boundMs) return entry;
    const late = entry.waiting.filter((r) => !stillQueued(entry.id, r));
    if (late.length > 0) {
      entry.waiting = entry.waiting.filter((r) => !late.includes(r));
      entry.missing.push(...late);
      missed.push(entry.id);
    }
    return entry;
  });
  return settle(entries, missed, []);
}

/** The time the broker took the last copy of `id`: its bound counts from then. */
export function markTaken(list: readonly DeliveryEntry[], id: string, now: number): DeliveryEntry[] {
  return list.map((e) => (e.id === id ? { ...e, sentAt: now } : e));
}

function settle(entries: DeliveryEntry[], missed: string[], recovered: string[]): DeliveryChange {
  const stillMissing = new Set(entries.filter((e) => e.missing.length > 0).map((e) => e.id));
  return {
    missed,
    recovered,
    stillMissing,
    list: entries.filter((e) => e.waiting.length > 0 || e.missing.length > 0),
  };
}
