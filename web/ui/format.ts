/** Small text formatters shared by the UI parts (pure functions: no DOM). */

/** An error's message for a status line. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The local calendar day of a timestamp, as a sortable key (YYYY-MM-DD). */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A day separator's label: "Today", "Yesterday" or the date in the user's locale. */
export function dayLabel(ts: number, now = Date.now()): string {
  const key = dayKey(ts);
  if (key === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === dayKey(yesterday.getTime())) return 'Yesterday';
  return new Date(ts).toLocaleDateString([], {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  });
}

/** Hours and minutes of a timestamp in the user's locale. */
export function clockTime(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Splits a 60-digit safety number into the 12 groups of 5 digits it is shown and compared in. */
export function safetyNumberGroups(digits: string): string[] {
  if (!/^\d{60}$/.test(digits))
    throw new Error(`safety number: expected 60 digits, got ${digits.length} characters`);
  const groups: string[] = [];
  for (let i = 0; i < 60; i += 5) groups.push(digits.slice(i, i + 5));
  return groups;
}
