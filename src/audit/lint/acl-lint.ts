// Static lint of a Mosquitto aclfile: finds rules that let outsiders read other people's topics, rules that
// quietly grant more than meant, and placeholders that do not do what they seem to. It reuses the broker's own
// reader (src/broker/acl/parse.ts), so "who does this line apply to" is answered exactly as Mosquitto 2.0.11
// answers it (notes/brokers.md): rules before the first `user` line are anonymous, `pattern` lines are for
// everyone. A rule is "owned" when `%c`/`%u` pins it to the client; the seed's inbox rules pass untouched.

import { readFile } from 'node:fs/promises';
import { AclParseError, parseAclFile, type AclFile, type AclRule } from '../../broker/acl/index.ts';
import type { LintFinding, LintSeverity } from './types.ts';

/** Who a rule applies to. */
type Scope = { kind: 'anonymous' } | { kind: 'everyone' } | { kind: 'user'; name: string };

interface ScopedRule {
  rule: AclRule;
  scope: Scope;
  /** The line had no access word, so Mosquitto made it readwrite. */
  implicitAccess: boolean;
  /** For a pattern: the `user` block it stands in (patterns ignore it, which surprises readers). */
  inUserBlock: string | undefined;
}

/** What the mosquitto.conf lint needs to know about an aclfile beyond its findings. */
export interface AclFacts {
  /** Line of the first pattern that substitutes `%c` (client ids then decide who reads what). */
  clientIdPatternLine: number | undefined;
  /** Line of a rule that lets clients write into a topic that only its owner reads (an inbox). */
  inboxWriteLine: number | undefined;
}

/** Findings for one aclfile plus the facts the config lint combines with listener settings. */
export interface AclAnalysis {
  findings: LintFinding[];
  facts: AclFacts;
}

const PLACEHOLDER = /%[cu]/;
const INBOX_FIX = 'give each client only its own inbox: `pattern read chats/%c/messages`';

const isOwned = (rule: AclRule) => rule.kind === 'pattern' && PLACEHOLDER.test(rule.topic);
const reads = (rule: AclRule) => rule.access === 'read' || rule.access === 'readwrite';
const writes = (rule: AclRule) => rule.access === 'write' || rule.access === 'readwrite';
const forAll = (scope: Scope) => scope.kind !== 'user';

/**
 * How much of the topic tree a filter reaches: 'everything' when it starts with a wildcard (`#`, `+/#`,
 * `+/+/+`), 'subtree' when a later level is a wildcard (`chats/#`, `chats/+/messages`), else 'none'.
 */
function breadth(topic: string): 'none' | 'subtree' | 'everything' {
  const levels = topic.split('/');
  if (levels[0] === '#' || levels[0] === '+') return 'everything';
  return levels.some((l) => l === '#' || l === '+') ? 'subtree' : 'none';
}

/** The filter with each `%c`/`%u` level turned into `+`: every client's copy of an owned pattern at once. */
function anyClient(topic: string): string {
  return topic
    .split('/')
    .map((l) => (PLACEHOLDER.test(l) ? '+' : l))
    .join('/');
}

/** Whether some topic name matches both filters (the `$` rule included). */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const dollarX = a.startsWith('$');
  const dollarY = b.startsWith('$');
  // A wildcard first level never matches a `$` topic; two literal first levels are compared below.
  if (dollarX && !dollarY && (y[0] === '#' || y[0] === '+')) return false;
  if (dollarY && !dollarX && (x[0] === '#' || x[0] === '+')) return false;
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return p === q;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
}

/** C isspace() trimming of a line end, as the aclfile reader does. */
const trimEnd = (s: string) => s.replace(/[ \t\n\r\v\f]+$/, '');

/** Re-reads the lines for what the parsed rules do not keep: user-block positions and omitted access words. */
function scanLines(text: string): { users: { name: string; line: number }[]; implicit: Set<number> } {
  const users: { name: string; line: number }[] = [];
  const implicit = new Set<number>();
  text.split('\n').forEach((raw, index) => {
    const nul = raw.indexOf('\0');
    const line = trimEnd(nul === -1 ? raw : raw.slice(0, nul));
    if (line.startsWith('#')) return;
    const rest = line.replace(/^ +/, '');
    const space = rest.indexOf(' ');
    if (space === -1) return;
    const keyword = rest.slice(0, space);
    const after = rest.slice(space).replace(/^ +/, '');
    if (keyword === 'user') users.push({ name: after.replace(/^[ \t\v\f]+/, ''), line: index + 1 });
    // One word after topic/pattern: that word is the topic and the access defaults to readwrite.
    else if ((keyword === 'topic' || keyword === 'pattern') && !after.includes(' ')) implicit.add(index + 1);
  });
  return { users, implicit };
}

function scopedRules(acl: AclFile, text: string): ScopedRule[] {
  const { users, implicit } = scanLines(text);
  const blockAt = (line: number) => users.filter((u) => u.line < line).at(-1)?.name;
  const all: ScopedRule[] = [];
  const add = (rule: AclRule, scope: Scope) =>
    all.push({
      rule,
      scope,
      implicitAccess: implicit.has(rule.line),
      inUserBlock: rule.kind === 'pattern' ? blockAt(rule.line) : undefined,
    });
  for (const rule of acl.anonymous) add(rule, { kind: 'anonymous' });
  for (const [name, rules] of acl.users) for (const rule of rules) add(rule, { kind: 'user', name });
  for (const rule of acl.patterns) add(rule, { kind: 'everyone' });
  return all.sort((a, b) => a.rule.line - b.rule.line);
}

function who(scope: Scope): string {
  if (scope.kind === 'anonymous') {
    return 'clients without a username (this line stands before the first `user` line, so it is the anonymous list)';
  }
  if (scope.kind === 'everyone')
    return 'every client, anonymous ones included (a `pattern` line applies to everyone)';
  return `user '${scope.name}'`;
}

function accessWords(s: ScopedRule): string {
  return s.implicitAccess ? 'readwrite (no access word given, so Mosquitto uses readwrite)' : s.rule.access;
}

/** Lints aclfile text and also returns the facts a mosquitto.conf lint needs; parse errors become findings. */
export function analyzeAclText(text: string, file: string): AclAnalysis {
  let acl: AclFile;
  try {
    acl = parseAclFile(text, file);
  } catch (error) {
    if (!(error instanceof AclParseError)) throw error;
    const problem = error.message.replace(/^aclfile .* line \d+: /, '');
    return {
      findings: [
        {
          id: 'acl-parse-error',
          file,
          line: error.line,
          severity: 'critical',
          message: `Mosquitto refuses to start with this aclfile: ${problem}; nothing else in it was checked`,
          fix: 'write the line as `user NAME`, `topic [read|write|readwrite|deny] TOPIC` or `pattern [...] TOPIC` (comments need `#` in column 1)',
        },
      ],
      facts: { clientIdPatternLine: undefined, inboxWriteLine: undefined },
    };
  }

  const findings: LintFinding[] = [];
  const report = (s: ScopedRule, id: string, severity: LintSeverity, message: string, fix: string) =>
    findings.push({ id, file, line: s.rule.line, severity, message, fix });
  const rules = scopedRules(acl, text);
  if (rules.length === 0) {
    findings.push({
      id: 'acl-empty',
      file,
      line: undefined,
      severity: 'info',
      message: 'the aclfile has no rules: Mosquitto then denies every publish and every delivery to everyone',
      fix: `add the inbox rules: \`pattern read chats/%c/messages\` and \`pattern write chats/+/messages\``,
    });
  }

  const live = rules.filter((s) => s.rule.access !== 'deny');
  const ownedReads = live.filter((s) => isOwned(s.rule) && reads(s.rule));
  const foreignWrites = live.filter((s) => !isOwned(s.rule) && writes(s.rule));
  const flaggedCritical = new Set<number>();

  for (const s of live) {
    const { rule, scope } = s;
    const before = findings.length;
    const quoted = `\`${rule.topic}\``;

    if (rule.kind === 'topic' && PLACEHOLDER.test(rule.topic)) {
      report(
        s,
        'acl-placeholder-in-topic-rule',
        'medium',
        `${quoted} is a \`topic\` rule: Mosquitto only replaces %c/%u in \`pattern\` lines, so here they are literal text and match a topic literally named "%c" or "%u"`,
        `write it as \`pattern ${rule.access} ${rule.topic}\` (patterns apply to every client)`,
      );
    }
    if (rule.kind === 'pattern') {
      const partial = rule.topic.split('/').find((l) => PLACEHOLDER.test(l) && l !== '%c' && l !== '%u');
      if (partial !== undefined) {
        report(
          s,
          'acl-placeholder-not-whole-level',
          'medium',
          `level '${partial}' of ${quoted} mixes %c/%u with other text: Mosquitto 2.0 pastes the id in as plain text (an id holding '/' adds levels), while Mosquitto 2.1 and Hush's broker substitute only whole levels, so this rule grants different things on different brokers`,
          'make the placeholder a level of its own, e.g. `pattern read chats/%c/messages`',
        );
      }
    }

    if (reads(rule)) {
      if (rule.topic.startsWith('$SYS')) {
        if (forAll(scope) && !isOwned(rule)) {
          report(
            s,
            'acl-sys-readable',
            'medium',
            `${who(scope)} may read ${quoted}: $SYS topics disclose connected client counts, versions and, with some brokers, client ids and subscriptions`,
            'remove this line, or grant `$SYS` reads only to an operator account under its own `user` line',
          );
        }
      } else if (!isOwned(rule)) {
        const reach = breadth(rule.topic);
        if (forAll(scope) && reach !== 'none') {
          flaggedCritical.add(rule.line);
          report(
            s,
            scope.kind === 'anonymous' ? 'acl-anonymous-reads-wildcard' : 'acl-everyone-reads-wildcard',
            'critical',
            `${who(scope)} may read ${quoted} (${accessWords(s)}): anyone holding the page's credentials subscribes to it and receives every chat published under it`,
            `remove this line; ${INBOX_FIX}`,
          );
        } else if (scope.kind === 'everyone') {
          report(
            s,
            'acl-everyone-reads-topic',
            'high',
            `every client may read ${quoted}: a \`pattern\` without %c or %u is the same topic for everyone, so nothing published there is private`,
            `pin it to the client (\`pattern read chats/%c/messages\`); if the topic is meant to be public, say so with a \`topic read ${rule.topic}\` line in the anonymous list and a user-only \`topic write\``,
          );
        } else if (scope.kind === 'user') {
          const ownLevel = rule.topic.split('/').includes(scope.name);
          if (reach === 'everything' || (reach === 'subtree' && !ownLevel)) {
            report(
              s,
              'acl-user-reads-wildcard',
              'high',
              `user '${scope.name}' may read ${quoted} (${accessWords(s)}): that account receives other clients' messages, so whoever holds its password reads them too`,
              `narrow it to the account's own topics (e.g. \`topic read chats/${scope.name}/messages\`), or keep this account's password out of every web page and client`,
            );
          }
        }
      }
    }

    if (writes(rule) && !isOwned(rule) && forAll(scope) && breadth(rule.topic) === 'everything') {
      report(
        s,
        'acl-broad-write',
        'low',
        `${who(scope)} may publish to ${quoted}: any topic of any application on this broker can be written to`,
        'grant writes only where they are needed, e.g. `pattern write chats/+/messages` for the inboxes',
      );
    }

    if (rule.access === 'readwrite' && isOwned(rule)) {
      const writer = foreignWrites.find((w) => filtersOverlap(anyClient(rule.topic), w.rule.topic));
      if (writer !== undefined) {
        report(
          s,
          'acl-readwrite-own-inbox',
          'low',
          `${quoted} is an inbox others deliver to (line ${writer.rule.line} lets them write it), yet its owner gets ${accessWords(s)}: the owner only needs to read it`,
          `\`pattern read ${rule.topic}\``,
        );
      }
    }

    if (s.inUserBlock !== undefined) {
      report(
        s,
        'acl-pattern-in-user-block',
        'low',
        `this \`pattern\` line stands under \`user ${s.inUserBlock}\` but applies to every client: Mosquitto ignores user blocks for patterns`,
        `move it above the first \`user\` line, or make it \`topic ${rule.access} ...\` if only '${s.inUserBlock}' should have it`,
      );
    }

    if (s.implicitAccess && findings.length === before) {
      report(
        s,
        'acl-implicit-readwrite',
        'low',
        `${quoted} has no access word, so Mosquitto grants readwrite: both reading and publishing`,
        `say which one is meant: \`${rule.kind} read ${rule.topic}\` or \`${rule.kind} write ${rule.topic}\``,
      );
    }
  }

  // A topic everyone reads that everyone may also write is a broadcast anyone can forge. Owned inboxes
  // (read by one client, written by all) are the normal case and are not in this set; broad readers
  // already got a critical finding above.
  const publicReads = live.filter(
    (s) =>
      forAll(s.scope) &&
      reads(s.rule) &&
      !isOwned(s.rule) &&
      !s.rule.topic.startsWith('$SYS') &&
      !flaggedCritical.has(s.rule.line),
  );
  for (const w of foreignWrites.filter((s) => forAll(s.scope))) {
    const readers = publicReads.filter((r) => filtersOverlap(r.rule.topic, w.rule.topic));
    if (readers.length === 0) continue;
    const lines = readers.map((r) => r.rule.line).join(', ');
    report(
      w,
      'acl-spoofable-broadcast',
      'medium',
      `${who(w.scope)} may publish to \`${w.rule.topic}\`, which line ${lines} lets everyone read: any outsider can post there as if they were the real publisher`,
      'let only one account write a public topic (`user NAME` then `topic write TOPIC`) and sign what it publishes',
    );
  }

  const clientIdPattern = live.find((s) => s.rule.kind === 'pattern' && s.rule.topic.includes('%c'));
  const inboxWriter = foreignWrites.find((w) =>
    ownedReads.some((r) => filtersOverlap(anyClient(r.rule.topic), w.rule.topic)),
  );
  findings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return {
    findings,
    facts: { clientIdPatternLine: clientIdPattern?.rule.line, inboxWriteLine: inboxWriter?.rule.line },
  };
}

/** Lints aclfile text; `file` names it in findings. Never throws on bad input: a parse error is a finding. */
export function lintAclText(text: string, file: string): LintFinding[] {
  return analyzeAclText(text, file).findings;
}

/** Reads and lints an aclfile; a file that cannot be read is a critical finding, not a throw. */
export async function lintAclFile(path: string): Promise<LintFinding[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return [unreadableAcl(path, error)];
  }
  return lintAclText(text, path);
}

/** The finding for an aclfile that cannot be read (missing, a directory, no permission). */
export function unreadableAcl(path: string, error: unknown): LintFinding {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    id: 'acl-unreadable',
    file: path,
    line: undefined,
    severity: 'critical',
    message: `the aclfile cannot be read (${reason}): Mosquitto refuses to start with an acl_file it cannot open`,
    fix: 'create the file or correct the path; Mosquitto reads it as user `mosquitto` (mode 0640, group mosquitto)',
  };
}
