// MQTT topic-filter matching as Mosquitto 2.0.11 does it (lib/util_topic.c: mosquitto_topic_matches_sub,
// mosquitto_sub_topic_check), split into levels once so the per-message check only compares strings.
// Spec: MQTT 3.1.1 §4.7 (topic names and filters); a topic starting with `$` is matched only by a filter
// that also starts with `$`, so `#` and `+/…` never see `$SYS/…`.

/** A filter or topic cut at `/`, remembered with whether it starts with `$`. */
export interface Levels {
  readonly dollar: boolean;
  readonly levels: readonly string[];
}

/** Cuts a topic filter into levels; the filter must already be valid (see {@link topicFilterProblem}). */
export function splitFilter(filter: string): Levels {
  return { dollar: filter.startsWith('$'), levels: filter.split('/') };
}

/** Cuts a topic name into levels, or returns undefined when Mosquitto would refuse to match it at all. */
export function splitTopic(topic: string): Levels | undefined {
  // mosquitto_topic_matches_sub returns MOSQ_ERR_INVAL (never a match) for an empty topic or one with
  // wildcards in it; a PUBLISH can carry neither, so this only guards direct calls.
  if (topic === '' || topic.includes('+') || topic.includes('#')) return undefined;
  return { dollar: topic.startsWith('$'), levels: topic.split('/') };
}

/** Whether split filter levels match split topic levels; `#` also matches its parent (`a/#` matches `a`). */
export function levelsMatch(filter: Levels, topic: Levels): boolean {
  // Mosquitto compares the first characters: `$…` only against `$…`.
  if (filter.dollar !== topic.dollar) return false;
  const f = filter.levels;
  const t = topic.levels;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether every topic `inner` can match is also matched by `outer` (both valid filters). */
export function filterCovers(outer: Levels, inner: Levels): boolean {
  if (outer.dollar !== inner.dollar) return false;
  const o = outer.levels;
  const n = inner.levels;
  for (let i = 0; i < o.length; i++) {
    const level = o[i];
    if (level === '#') return true;
    if (i >= n.length) return false;
    const other = n[i];
    if (other === '#') return false;
    if (level === '+') continue;
    if (other === '+' || other !== level) return false;
  }
  return o.length === n.length;
}

/** Why a topic filter is invalid for Mosquitto (mosquitto_sub_topic_check), or undefined when it is valid. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === '') return 'a topic filter cannot be empty';
  // Mosquitto counts bytes; a JS string of over 65535 UTF-16 units is over the limit in bytes too.
  if (Buffer.byteLength(filter, 'utf8') > 65535) return 'a topic filter is at most 65535 bytes';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('+') && level !== '+') return `'+' must fill a whole level, got '${level}'`;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `'#' must be the whole last level, got '${level}'`;
    }
  }
  return undefined;
}

/** MQTT matching of a topic name against a topic filter, `$` rule included; invalid input never matches. */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (topicFilterProblem(filter) !== undefined) return false;
  const t = splitTopic(topic);
  return t !== undefined && levelsMatch(splitFilter(filter), t);
}
