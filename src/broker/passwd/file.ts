// The Mosquitto password file as text: one `username:hash` per line, read into a username → hash map.
// Follows pwfile__parse() and unpwd__decode_passwords() in mosquitto 2.0.11 src/security_default.c:
// a line whose first character is '#' is a comment, a line without ':' is skipped, and blanks around
// the username and the hash are trimmed (so CRLF files work). Where Mosquitto silently skips a line or
// logs "removing entry" and carries on, we stop with an error naming the file and line instead: a
// typo there means a user who cannot log in, and the admin should hear about it before the broker does.

import { parseStoredHash } from './hash.ts';
import { usernameProblem } from './rules.ts';

/** A problem in a password file, with the file and (when it is about one line) the line number. */
export class PasswordFileError extends Error {
  constructor(
    readonly source: string,
    readonly line: number | undefined,
    readonly problem: string,
    /** The errno code (ENOENT, EACCES…) when the problem came from the filesystem. */
    readonly code?: string,
  ) {
    super(`password file ${source}${line === undefined ? '' : ` line ${line}`}: ${problem}`);
    this.name = 'PasswordFileError';
  }
}

/** A parsed password file: where it came from, and username → stored hash ("$7$101$salt$hash") in file order. */
export interface PasswordTable {
  source: string;
  entries: Map<string, string>;
}

/** C's isspace() in the "C" locale, which is what Mosquitto's trimming uses. */
const BLANKS = ' \t\n\v\f\r';

/** Parses password file text; throws PasswordFileError naming `source` and the line on the first bad line. */
export function parsePasswordFile(text: string, source: string): PasswordTable {
  const entries = new Map<string, string>();
  const lineOf = new Map<string, number>();
  if (text.startsWith('\uFEFF')) {
    throw new PasswordFileError(
      source,
      1,
      'starts with a byte-order mark, which Mosquitto would read as part of the username; save the file without it',
    );
  }
  const lines = text.split('\n');
  // A final "\n" ends the last line rather than starting an empty one.
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (problem: string) => new PasswordFileError(source, line, problem);
    if (raw.startsWith('#') || trimBlanks(raw) === '') return;
    const colon = raw.indexOf(':');
    if (colon < 0)
      throw fail("no ':' between username and password hash (Mosquitto would silently skip this line)");
    const username = trimBlanks(raw.slice(0, colon));
    const stored = trimBlanks(raw.slice(colon + 1));
    if (username === '') throw fail('the username is empty');
    const problem = usernameProblem(username);
    if (problem !== undefined) throw fail(problem);
    if (stored === '') throw fail(`user ${username} has no password hash`);
    if (stored.includes(':')) {
      throw fail(
        `more than one ':' on the line of user ${username} (a username cannot contain ':' and a hash never does)`,
      );
    }
    const parsed = parseStoredHash(stored);
    if (typeof parsed === 'string') throw fail(`user ${username}: ${parsed}`);
    const earlier = lineOf.get(username);
    if (earlier !== undefined) {
      throw fail(
        `user ${username} is already on line ${earlier} (Mosquitto would use the last one); remove one of them`,
      );
    }
    lineOf.set(username, line);
    entries.set(username, stored);
  });
  return { source, entries };
}

/** Writes a table back as password file text, one "username:hash\n" per user in map order; throws on an entry Mosquitto could not read. */
export function formatPasswordFile(table: PasswordTable): string {
  let text = '';
  for (const [username, stored] of table.entries) {
    const problem = usernameProblem(username) ?? hashProblem(stored);
    if (problem !== undefined)
      throw new PasswordFileError(
        table.source,
        undefined,
        `cannot write user ${JSON.stringify(username)}: ${problem}`,
      );
    text += `${username}:${stored}\n`;
  }
  return text;
}

function hashProblem(stored: string): string | undefined {
  if (typeof stored !== 'string') return 'the password hash must be a string';
  const parsed = parseStoredHash(stored);
  return typeof parsed === 'string' ? parsed : undefined;
}

function trimBlanks(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && BLANKS.includes(text[start] as string)) start++;
  while (end > start && BLANKS.includes(text[end - 1] as string)) end--;
  return text.slice(start, end);
}
