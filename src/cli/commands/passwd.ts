// `hush passwd`: add, update or delete a user in a Mosquitto password file, like `mosquitto_passwd`.
// Follows the -b / -c / -D / -I handling of mosquitto 2.0.11 apps/mosquitto_passwd/mosquitto_passwd.c,
// with the same flag conflicts, limits and exit status 1 on any error. Unlike mosquitto_passwd it
// refuses a corrupt file (2.0.11 warns, exits 0 and drops every line from the bad one on), replaces
// the file atomically, keeps its owner, group and mode, and never leaves it world-readable.

import type { Command } from 'commander';
import {
  DEFAULT_ITERATIONS,
  MAX_ITERATIONS,
  PasswordFileError,
  hashPassword,
  loadPasswordFile,
  passwordProblem,
  savePasswordFile,
  usernameProblem,
  withPasswordFileLock,
  type PasswordTable,
} from '../../broker/passwd/index.ts';
import { UserError } from '../shared/errors.ts';

const USAGE = [
  'usage: hush passwd [-c] [-I iterations] -b FILE USERNAME PASSWORD',
  '       hush passwd -D FILE USERNAME',
].join('\n');

interface PasswdFlags {
  b?: boolean;
  c?: boolean;
  D?: boolean;
  I?: string;
}

/** Registers `hush passwd`; the work is in runPasswd. */
export function registerPasswdCommand(program: Command): void {
  program
    .command('passwd')
    .description('add, update or delete a user in a Mosquitto password file (like mosquitto_passwd)')
    .argument('<file>', 'the password file')
    .argument('[username]', 'the user to add, update or delete')
    .argument('[password]', 'the password, with -b')
    .option('-b', 'batch mode: take the password from the command line')
    .option('-c', 'create a new password file holding just this user; overwrites an existing one')
    .option('-D', 'delete the user instead of adding or updating it')
    .option(
      '-I <iterations>',
      `PBKDF2 iterations for the new hash (default ${DEFAULT_ITERATIONS}, like mosquitto_passwd)`,
    )
    .addHelpText(
      'after',
      [
        '',
        'The file is replaced atomically and keeps its owner, group and mode, minus any world bits;',
        'a new file is created 0600. A password that starts with "-" goes after "--":',
        '  hush passwd -b /etc/mosquitto/passwd alice -- -s3cret',
      ].join('\n'),
    )
    .action(
      async (
        file: string,
        username: string | undefined,
        password: string | undefined,
        flags: PasswdFlags,
      ) => {
        await runPasswd({ file, username, password, ...flags });
      },
    );
}

/** What `hush passwd` was asked to do, as parsed from the command line. */
export interface PasswdRequest extends PasswdFlags {
  file: string;
  username: string | undefined;
  password: string | undefined;
}

/** Carries out one `hush passwd` invocation under the file's lock (shared with `hush start`); throws UserError. */
export async function runPasswd(request: PasswdRequest): Promise<void> {
  try {
    await withPasswordFileLock(request.file, () => runPasswdLocked(request));
  } catch (error) {
    throw asUserError(error);
  }
}

async function runPasswdLocked(request: PasswdRequest): Promise<void> {
  const { file, username, password } = request;
  // Same conflicts, in the same order, as mosquitto_passwd.
  if (request.c && request.D) throw new UserError('-c and -D cannot be used together');
  if (request.D && request.b) throw new UserError('-b and -D cannot be used together');
  const iterations = parseIterations(request.I);

  if (request.D) {
    if (username === undefined || password !== undefined)
      throw new UserError(`-D needs FILE and USERNAME\n${USAGE}`);
    const table = await load(file);
    if (!table.entries.delete(username))
      throw new UserError(`user ${username} not found in password file ${file}`);
    await save(file, table, false);
    return;
  }
  if (!request.b) {
    // mosquitto_passwd would prompt on the terminal here; we do not read terminals (yet).
    throw new UserError(
      `asking for the password on the terminal is not supported; pass it with -b (it will show in the process list and shell history)\n${USAGE}`,
    );
  }
  if (username === undefined || password === undefined) {
    throw new UserError(`${request.c ? '-c' : '-b'} needs FILE, USERNAME and PASSWORD\n${USAGE}`);
  }
  const problem = usernameProblem(username) ?? passwordProblem(password);
  if (problem !== undefined) throw new UserError(problem);

  // Load before hashing: a broken or missing file is reported before any work and is never touched.
  const table: PasswordTable = request.c ? { source: file, entries: new Map() } : await load(file);
  // Map.set keeps an existing user in place and appends a new one, as mosquitto_passwd does.
  table.entries.set(username, await hashPassword(password, iterations));
  await save(file, table, request.c === true);
}

function parseIterations(text: string | undefined): number {
  if (text === undefined) return DEFAULT_ITERATIONS;
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < 1 || value > MAX_ITERATIONS) {
    throw new UserError(`number of iterations must be from 1 to ${MAX_ITERATIONS}, got: ${text}`);
  }
  return value;
}

async function load(file: string): Promise<PasswordTable> {
  try {
    return await loadPasswordFile(file);
  } catch (error) {
    throw asUserError(error);
  }
}

async function save(file: string, table: PasswordTable, create: boolean): Promise<void> {
  try {
    await savePasswordFile(file, table, { create });
  } catch (error) {
    throw asUserError(error);
  }
}

function asUserError(error: unknown): unknown {
  if (!(error instanceof PasswordFileError)) return error;
  const hint = error.code === 'ENOENT' ? ' (use -c to create it)' : '';
  const untouched = error.line !== undefined ? '; the file was left unchanged' : '';
  return new UserError(`${error.message}${hint}${untouched}`);
}
