// Per-client access checks for a parsed aclfile, in the order Mosquitto 2.0.11 applies them:
// src/security.c mosquitto_acl_check() → acl__check_dollar(), then src/security_default.c
// mosquitto_acl_check_default(). compileClientAcl runs once per connection (find the client's list, put
// deny rules first, substitute %c/%u, split levels); `check` below then reads like the C function, so a
// reviewer can hold the two side by side. Places where Hush differs are marked "Hush:".

import type { AclAccess, AclFile, AclRule } from './parse.ts';
import { filterCovers, levelsMatch, splitFilter, splitTopic, type Levels } from './match.ts';

/** What one connected client may do; cheap to call for every delivered message. */
export interface ClientAcl {
  canRead(topic: string): boolean;
  canWrite(topic: string): boolean;
  canSubscribe(filter: string): boolean;
}

type Want = 'read' | 'write';

interface CompiledRule extends Levels {
  readonly access: AclAccess;
  /** After %c/%u substitution for patterns; as written for topic rules. */
  readonly topic: string;
  readonly line: number;
}

const BRIDGE_STATE = splitFilter('$SYS/broker/connection/+/state');

const grants = (access: AclAccess, want: Want) => access === 'readwrite' || access === want;

/** Longer topics are not remembered, so a client cannot make the broker hold big strings. */
const MEMO_TOPIC_CHARS = 256;

const NONE: readonly CompiledRule[] = Object.freeze([]);

function matches(filter: Levels, topic: string): boolean {
  const levels = splitTopic(topic);
  return levels !== undefined && levelsMatch(filter, levels);
}

function compile(rule: AclRule, topic: string): CompiledRule {
  return { ...splitFilter(topic), access: rule.access, topic, line: rule.line };
}

/**
 * add__acl / add__acl_pattern put each `deny` rule at the front of its list (so denies end up in reverse
 * file order) and append the others. The order among denies cannot change a verdict: any matching deny
 * returns DENIED at once.
 */
function denyFirst(rules: readonly AclRule[]): AclRule[] {
  const denies = rules.filter((r) => r.access === 'deny').reverse();
  return [...denies, ...rules.filter((r) => r.access !== 'deny')];
}

/** Builds the checks for one client: its topic list (by username, or anonymous) plus substituted patterns. */
export function compileClientAcl(
  acl: AclFile,
  client: { clientId: string; username: string | undefined },
): ClientAcl {
  const { clientId, username } = client;

  // acl__find_acls: a client with a username gets that user's list (none if the file has no such block);
  // a client without one gets the anonymous list. Hush: an empty-string username counts as a username,
  // as a non-NULL "" does in Mosquitto.
  const ownRules = username === undefined ? acl.anonymous : (acl.users.get(username) ?? []);
  const topicRules = denyFirst(ownRules).map((rule) => compile(rule, rule.topic));
  // `ed->client->acl_list` is NULL exactly when the client has no topic rules.
  const hasTopicList = topicRules.length > 0;
  // The guard below looks at the file's patterns, before %u patterns are dropped for this client.
  const filePatterns = acl.patterns.length > 0;
  // CVE-2017-7650: an id or username with a wildcard could widen a %c/%u pattern. Since 1.4.13 `/` is
  // allowed (a/b turns chats/%c/# into chats/a/b/#); Hush refuses such ids at CONNECT, not here.
  const dangerous = /[+#]/.test(clientId) || (username !== undefined && /[+#]/.test(username));
  const patterns = denyFirst(acl.patterns)
    // A pattern holding %u is skipped for a client without a username (acl_root->ucount && !username).
    .filter((rule) => username !== undefined || !rule.topic.includes('%u'))
    // Plain text replacement, left to right, like the C loop: %c → client id, %u → username. An id with
    // a `/` therefore spans several levels (Mosquitto 2.1 changed this; 2.0.11 did not).
    .map((rule) =>
      compile(
        rule,
        rule.topic.replace(/%[cu]/g, (m) => (m === '%c' ? clientId : (username as string))),
      ),
    );

  // Hush: Mosquitto grants every SUBSCRIBE and filters deliveries. A `$` filter (e.g. `$SYS/#`) is granted
  // only if one read-capable rule that this client's check could reach starts with `$` and covers the
  // whole filter (every topic the filter can match, that rule matches: `$SYS/#` covers `$SYS/broker/+`,
  // `$SYS/broker/+` does not cover `$SYS/#`). Deny rules are not consulted; canRead still runs per
  // delivered message, so this only narrows what may be subscribed to.
  const dollarReadRules: Levels[] = [
    ...topicRules.filter((r) => r.dollar && grants(r.access, 'read')),
    ...(filePatterns && dangerous ? [] : patterns.filter((r) => r.dollar && grants(r.access, 'read'))),
  ];

  // Most clients have no topic list and no `$` rule: they share one empty list instead of holding two each.
  return new CompiledAcl(
    hasTopicList ? topicRules : NONE,
    patterns,
    hasTopicList,
    filePatterns,
    dangerous,
    dollarReadRules.length > 0 ? dollarReadRules : NONE,
  );
}

/**
 * One client's compiled rules. A class rather than closures: one of these lives for every connection, and
 * methods on the prototype cost nothing per client (`hush bench` counts memory per idle connection).
 */
class CompiledAcl implements ClientAcl {
  /**
   * The last topic checked per direction and its verdict. A verdict depends only on the topic once the rules
   * are compiled, and canRead runs for every delivered message (twice for a persistent session: when queued
   * and when sent), nearly always on the client's own inbox: remembering one topic skips splitting it again
   * (`hush bench` profiles showed the split). A reload compiles a new CompiledAcl, so no verdict outlives
   * its rules.
   */
  private lastRead: string | undefined;
  private lastReadVerdict = false;
  private lastWrite: string | undefined;
  private lastWriteVerdict = false;

  constructor(
    private readonly topicRules: readonly CompiledRule[],
    private readonly patterns: readonly CompiledRule[],
    private readonly hasTopicList: boolean,
    private readonly filePatterns: boolean,
    private readonly dangerous: boolean,
    private readonly dollarReadRules: readonly Levels[],
  ) {}

  canRead(topic: string): boolean {
    if (topic === this.lastRead) return this.lastReadVerdict;
    const verdict = this.check(topic, 'read');
    if (topic.length <= MEMO_TOPIC_CHARS) {
      this.lastRead = topic;
      this.lastReadVerdict = verdict;
    }
    return verdict;
  }

  canWrite(topic: string): boolean {
    if (topic === this.lastWrite) return this.lastWriteVerdict;
    const verdict = this.check(topic, 'write');
    if (topic.length <= MEMO_TOPIC_CHARS) {
      this.lastWrite = topic;
      this.lastWriteVerdict = verdict;
    }
    return verdict;
  }

  canSubscribe(filter: string): boolean {
    if (!filter.startsWith('$')) return true;
    const wanted = splitFilter(filter);
    return this.dollarReadRules.some((rule) => filterCovers(rule, wanted));
  }

  private check(topic: string, want: Want): boolean {
    // --- security.c acl__check_dollar(): before any aclfile rule. ---
    if (topic.startsWith('$SYS')) {
      // Clients never write $SYS, except the bridge status topic, which then still needs an aclfile
      // grant. (strncmp(topic, "$SYS", 4): "$SYSfoo" counts too.)
      if (want === 'write' && !matches(BRIDGE_STATE, topic)) return false;
    } else if (topic.startsWith('$share')) {
      // $share is only for SUBSCRIBE/UNSUBSCRIBE; nothing is published or delivered under that name.
      return false;
    }

    // --- security_default.c mosquitto_acl_check_default(). ---
    // SUBSCRIBE is always granted there; see canSubscribe for what Hush does instead.
    if (!this.hasTopicList && !this.filePatterns) return false;

    const levels = splitTopic(topic);
    // An invalid topic makes mosquitto_topic_matches_sub fail for every rule: no match, so DENIED.
    if (levels === undefined) return false;

    // The client's own topic list, deny rules first.
    for (const rule of this.topicRules) {
      // "If subscription starts with $, acl_root->topic must also start with $."
      if (levels.dollar && !rule.dollar) continue;
      if (levelsMatch(rule, levels)) {
        if (rule.access === 'deny') return false; // a match on deny ends the check: no fall-through
        if (grants(rule.access, want)) return true;
        // A match whose access does not cover the request falls through to the next rule.
      }
    }

    // Patterns exist: refuse clients whose id or username contains + or #.
    if (this.filePatterns && this.dangerous) return false;

    // Patterns, deny rules first. (2.0.11 has no `$` skip here; the matcher's `$` rule still applies.)
    for (const rule of this.patterns) {
      if (levelsMatch(rule, levels)) {
        if (rule.access === 'deny') return false;
        if (grants(rule.access, want)) return true;
      }
    }

    return false;
  }
}
