// Reader for Mosquitto's `acl_file` format, line for line as Mosquitto 2.0.11 reads it
// (src/security_default.c: aclfile__parse, add__acl, add__acl_pattern; man page mosquitto.conf(5)).
// Each line is `user NAME`, `topic [read|write|readwrite|deny] TOPIC`, `pattern [...] TOPIC`, a `#`
// comment in the first column, or blank. Mosquitto splits with strtok on spaces only, so we do the same:
// a tab between words is not a separator, and `topic read` is the topic "read" with readwrite access.
// Rules are kept in file order; the evaluator (evaluate.ts) applies Mosquitto's deny-first ordering.

import { readFile } from 'node:fs/promises';
import { topicFilterProblem } from './match.ts';

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';

/** One `topic` or `pattern` line. `topic` keeps its text as written (with `%c`/`%u` unsubstituted). */
export interface AclRule {
  kind: 'topic' | 'pattern';
  access: AclAccess;
  topic: string;
  line: number;
}

/** A parsed aclfile: topic rules of anonymous clients, of each username, and the patterns for everyone. */
export interface AclFile {
  source: string;
  anonymous: AclRule[];
  users: Map<string, AclRule[]>;
  patterns: AclRule[];
}

/** A line Mosquitto would refuse to start with; names the file and the 1-based line. */
export class AclParseError extends Error {
  readonly source: string;
  readonly line: number;
  constructor(source: string, line: number, problem: string) {
    super(`aclfile ${source} line ${line}: ${problem}`);
    this.name = 'AclParseError';
    this.source = source;
    this.line = line;
  }
}

const ACCESS_WORDS: ReadonlySet<string> = new Set(['read', 'write', 'readwrite', 'deny']);

/** C isspace() in the "C" locale, which Mosquitto uses to trim line ends and topic/username blanks. */
const isCSpace = (ch: string | undefined) =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';

function trimTrailing(s: string): string {
  let end = s.length;
  while (end > 0 && isCSpace(s[end - 1])) end--;
  return s.slice(0, end);
}

/** misc__trimblanks: strips isspace() on both ends. */
function trimBlanks(s: string): string {
  let start = 0;
  while (start < s.length && isCSpace(s[start])) start++;
  return trimTrailing(s.slice(start));
}

/** strtok_r(…, " ", …): skips leading spaces, returns the next word and where scanning resumes. */
function nextWord(s: string, from: number): { word: string; rest: number } | undefined {
  let start = from;
  while (start < s.length && s[start] === ' ') start++;
  if (start >= s.length) return undefined;
  const end = s.indexOf(' ', start);
  if (end === -1) return { word: s.slice(start), rest: s.length };
  return { word: s.slice(start, end), rest: end + 1 };
}

/** Parses aclfile text the way Mosquitto 2.0.11 does; `source` (a path) only appears in error messages. */
export function parseAclFile(text: string, source: string): AclFile {
  const acl: AclFile = { source, anonymous: [], users: new Map(), patterns: [] };
  // Rules before any `user` line belong to the anonymous list (Mosquitto's user == NULL).
  let user: string | undefined;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    // Annotated so TypeScript narrows after a call, as it does after `throw`.
    const fail: (problem: string) => never = (problem) => {
      throw new AclParseError(source, lineNumber, problem);
    };
    let raw = lines[index] as string;
    // Mosquitto holds the line as a C string: anything after a NUL byte is invisible to it.
    const nul = raw.indexOf('\0');
    if (nul !== -1) raw = raw.slice(0, nul);
    const line = trimTrailing(raw);
    // Only a `#` in the very first column is a comment; "  # x" is an invalid line in Mosquitto.
    if (line.startsWith('#')) continue;
    const keyword = nextWord(line, 0);
    if (keyword === undefined) continue;

    if (keyword.word === 'topic' || keyword.word === 'pattern') {
      const kind = keyword.word;
      const first = nextWord(line, keyword.rest);
      if (first === undefined)
        fail(`'${kind}' without a topic: expected '${kind} [read|write|readwrite|deny] TOPIC'`);
      // strtok_r(NULL, "", …) hands back the rest of the line, if any, unsplit: topics may hold spaces.
      const restText = line.slice(first.rest);
      let access: AclAccess;
      let topic: string;
      if (restText === '') {
        // One word only: it is the topic, and access defaults to readwrite ("topic read" = topic "read").
        access = 'readwrite';
        topic = first.word;
      } else {
        if (!ACCESS_WORDS.has(first.word)) {
          fail(`unknown access '${first.word}': expected read, write, readwrite or deny before the topic`);
        }
        access = first.word as AclAccess;
        topic = trimBlanks(restText);
      }
      const problem = topicFilterProblem(topic);
      if (problem !== undefined) fail(`invalid topic filter '${topic}': ${problem}`);
      const rule: AclRule = { kind, access, topic, line: lineNumber };
      if (kind === 'pattern') {
        // Patterns apply to every client wherever they stand, even inside a user block.
        acl.patterns.push(rule);
      } else if (user === undefined) {
        acl.anonymous.push(rule);
      } else {
        // A second `user alice` block adds to the first one (add__acl finds the existing user).
        const list = acl.users.get(user);
        if (list) list.push(rule);
        else acl.users.set(user, [rule]);
      }
    } else if (keyword.word === 'user') {
      const restText = line.slice(keyword.rest);
      if (restText === '') fail(`'user' without a username: expected 'user NAME'`);
      // The username is the rest of the line, blanks trimmed: it may contain spaces.
      user = trimBlanks(restText);
    } else {
      fail(
        `unknown keyword '${keyword.word}': expected 'user', 'topic', 'pattern' or a '#' comment in column 1`,
      );
    }
  }
  return acl;
}

/** Reads and parses an aclfile from disk; read errors and parse errors both name the path. */
export async function loadAclFile(path: string): Promise<AclFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`aclfile ${path}: cannot read it: ${reason}`, { cause: error });
  }
  return parseAclFile(text, path);
}
