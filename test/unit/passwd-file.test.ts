// The password file text format: what Mosquitto 2.0.11 reads, what we refuse, and round trips.
// See src/broker/passwd/file.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PasswordFileError,
  formatPasswordFile,
  hashPassword,
  parsePasswordFile,
  usernameProblem,
  verifyPassword,
} from '../../src/broker/passwd/index.ts';

const ALICE =
  '$7$101$mZg4OrccQrWkG67d$T0Q5iiu8PLJWy7sstToAZgWXUWtNdzHPITJzJS0JSSq596DdD7fBF6IOPI/e4l4OgQez43QfpFDBkhXNDv7fRg==';
const GRACE =
  '$6$RkP8Yp0Nm8Cwo+19$/FO4dt5d5lqmn4ab7Q85fvi0e3cUfjNsA2QbMs7walmS1rtXaToVnxcZp10/pQnZMjOc8huDQGCbq26pKeBDzg==';

/** The PasswordFileError thrown by parsing `text`, for asserting on its line and message. */
function parseError(text: string): PasswordFileError {
  try {
    parsePasswordFile(text, '/etc/mosquitto/passwd');
  } catch (error) {
    if (error instanceof PasswordFileError) return error;
    throw error;
  }
  throw new Error('expected a PasswordFileError');
}

describe('reading a password file', () => {
  it('reads one user per line, keeping file order', () => {
    const table = parsePasswordFile(`alice:${ALICE}\ngrace:${GRACE}\n`, 'passwd');
    expect(table.source).toBe('passwd');
    expect([...table.entries]).toEqual([
      ['alice', ALICE],
      ['grace', GRACE],
    ]);
  });

  it('reads an empty file as no users (what mosquitto_passwd -D leaves after the last user)', () => {
    expect(parsePasswordFile('', 'passwd').entries.size).toBe(0);
  });

  it('skips what Mosquitto skips: # comments and blank lines', () => {
    const table = parsePasswordFile(`# users\n\n   \nalice:${ALICE}\n\n# end\n`, 'passwd');
    expect([...table.entries.keys()]).toEqual(['alice']);
  });

  it('trims blanks as Mosquitto does, so CRLF files, tabs and spaces around the fields are fine', () => {
    const table = parsePasswordFile(`  alice \t: ${ALICE}  \r\ngrace:${GRACE}\r\n`, 'passwd');
    expect([...table.entries]).toEqual([
      ['alice', ALICE],
      ['grace', GRACE],
    ]);
  });

  it('reads a last line without a newline as a whole line', () => {
    expect(parsePasswordFile(`alice:${ALICE}`, 'passwd').entries.get('alice')).toBe(ALICE);
  });

  it('reads UTF-8 usernames and usernames with inner spaces', () => {
    const table = parsePasswordFile(`Zoë Müller:${ALICE}\n`, 'passwd');
    expect(table.entries.get('Zoë Müller')).toBe(ALICE);
  });
});

describe('refusing a malformed password file, naming file and line', () => {
  const cases: [string, string, number, RegExp][] = [
    ['a line without a colon', `alice:${ALICE}\ngarbage\n`, 2, /no ':'/],
    ['an empty username', `:${ALICE}\n`, 1, /username is empty/],
    ['a missing hash', `alice:\n`, 1, /no password hash/],
    ['a plain-text password', `alice:secret\n`, 1, /not hashed.*mosquitto_passwd -U/],
    ['a third field', `alice:${ALICE}:extra\n`, 1, /more than one ':'/],
    ['a username containing a colon', `a:b:${ALICE}\n`, 1, /more than one ':'|not hashed/],
    ['an unknown hash type', `alice:$5$abc$def\n`, 1, /unknown hash type \$5\$/],
    [
      'zero iterations (Mosquitto drops the user)',
      `alice:${ALICE.replace('$101$', '$0$')}\n`,
      1,
      /iteration count/,
    ],
    ['a short salt', `alice:${ALICE.replace('mZg4OrccQrWkG67d', 'mZg4Orcc')}\n`, 1, /salt must be 12 bytes/],
    ['a truncated hash', `alice:${ALICE.slice(0, 60)}\n`, 1, /hash must be 64 bytes/],
    ['a control character in the username', `al\x01ice:${ALICE}\n`, 1, /control characters/],
    [
      'a duplicate user',
      `alice:${ALICE}\ngrace:${GRACE}\nalice:${ALICE}\n`,
      3,
      /already on line 1.*last one/,
    ],
    ['a byte-order mark', `\uFEFFalice:${ALICE}\n`, 1, /byte-order mark/],
  ];
  for (const [what, text, line, message] of cases) {
    it(`refuses ${what}`, () => {
      const error = parseError(text);
      expect(error.source).toBe('/etc/mosquitto/passwd');
      expect(error.line).toBe(line);
      expect(error.message).toMatch(new RegExp(`^password file /etc/mosquitto/passwd line ${line}: `));
      expect(error.message).toMatch(message);
    });
  }

  it('does not echo the stored hash into the error message', () => {
    const error = parseError(`alice:${ALICE.slice(0, 60)}\n`);
    expect(error.message).not.toContain(ALICE.slice(20, 40));
  });
});

describe('writing a password file', () => {
  it('writes username:hash lines with a final newline', () => {
    const entries = new Map([
      ['alice', ALICE],
      ['grace', GRACE],
    ]);
    expect(formatPasswordFile({ source: 'passwd', entries })).toBe(`alice:${ALICE}\ngrace:${GRACE}\n`);
    expect(formatPasswordFile({ source: 'passwd', entries: new Map() })).toBe('');
  });

  it('refuses entries Mosquitto could not read back, naming the user', () => {
    const write = (username: string, stored: string) => () =>
      formatPasswordFile({ source: 'passwd', entries: new Map([[username, stored]]) });
    expect(write('a:b', ALICE)).toThrow(PasswordFileError);
    expect(write('a:b', ALICE)).toThrow(/cannot write user "a:b": .*':'/);
    expect(write('', ALICE)).toThrow(/empty/);
    expect(write('a\nb', ALICE)).toThrow(/control/);
    expect(write(' alice', ALICE)).toThrow(/space/);
    expect(write('alice', 'secret')).toThrow(/not hashed/);
  });

  const username = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
    .filter((name) => usernameProblem(name) === undefined);
  const stored = fc.oneof(
    fc.constant(ALICE),
    fc.constant(GRACE),
    fc
      .tuple(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
      )
      .map(
        ([n, salt, hash]) =>
          `$7$${n}$${Buffer.from(salt).toString('base64')}$${Buffer.from(hash).toString('base64')}`,
      ),
  );

  it('round-trips any valid table through format and parse (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(username, stored), { selector: ([name]) => name, maxLength: 8 }),
        (rows) => {
          const table = { source: 'passwd', entries: new Map(rows) };
          const back = parsePasswordFile(formatPasswordFile(table), 'passwd');
          expect([...back.entries]).toEqual(rows);
        },
      ),
    );
  });

  it('round-trips any valid username and password through hash, file and verify (property)', async () => {
    const password = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((p) => !p.includes('\0'));
    await fc.assert(
      fc.asyncProperty(username, password, password, async (name, right, wrong) => {
        fc.pre(right !== wrong);
        const text = formatPasswordFile({
          source: 'p',
          entries: new Map([[name, await hashPassword(right, 1)]]),
        });
        const back = parsePasswordFile(text, 'p').entries.get(name);
        expect(back).toBeDefined();
        expect(await verifyPassword(right, back as string)).toBe(true);
        expect(await verifyPassword(wrong, back as string)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('usernames, as mosquitto_passwd checks them', () => {
  it("refuses ':', control characters, empty names, over 65535 bytes, leading or trailing spaces and a leading '#'", () => {
    expect(usernameProblem('alice')).toBeUndefined();
    expect(usernameProblem('a b')).toBeUndefined();
    expect(usernameProblem('a:b')).toMatch(/':'/);
    expect(usernameProblem('a\tb')).toMatch(/control/);
    expect(usernameProblem('a\x7fb')).toMatch(/control/);
    expect(usernameProblem('')).toMatch(/empty/);
    expect(usernameProblem('a'.repeat(65535))).toBeUndefined();
    expect(usernameProblem('a'.repeat(65536))).toMatch(/65536/);
    expect(usernameProblem(' alice')).toMatch(/space/);
    expect(usernameProblem('alice ')).toMatch(/space/);
    // mosquitto_passwd writes "#root:…", and the broker skips that line as a comment.
    expect(usernameProblem('#root')).toMatch(/comment/);
    expect(usernameProblem('root#')).toBeUndefined();
  });
});
