// `hush legacy decrypt`: reads CryptoJS passphrase-mode ciphertexts (`U2FsdGVkX1…`), one per line on
// stdin, and writes each plaintext as a line on stdout, so a chat built the seed's way can be migrated.
// A bad line gets "line N: …" on stderr and the rest are still read; any failure makes the exit status 1.
// Hush never writes this format. See src/core/legacy-cryptojs.ts for what it is and why it is weak.

import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { LegacyDecryptError, decryptLegacyCryptoJs } from '../../core/legacy-cryptojs.ts';
import { UserError } from '../shared/errors.ts';

interface DecryptFlags {
  key?: string;
  keyFile?: string;
  json?: boolean;
}

/** Registers `hush legacy decrypt`; the work is in runLegacyDecrypt. */
export function registerLegacyCommand(program: Command): void {
  const legacy = program
    .command('legacy')
    .description('read messages from a CryptoJS-based chat (the seed) to migrate them; never writes them');
  legacy
    .command('decrypt')
    .description('decrypt CryptoJS.AES.encrypt(text, passphrase) ciphertexts: one per line on stdin')
    .option('--key <passphrase>', 'the passphrase (shows in the process list and shell history)')
    .option('--key-file <file>', 'read the passphrase from a file (one trailing newline is dropped)')
    .option('--json', 'print each plaintext as a JSON string on one line (safe for multi-line text)')
    .addHelpText(
      'after',
      [
        '',
        'Blank lines are skipped. Each plaintext is printed followed by a newline; a plaintext that itself',
        'holds newlines or terminal control characters is printed as is unless --json is given.',
        'The plaintext is UNAUTHENTICATED: anyone could have changed it, and a wrong passphrase is caught',
        'only by chance (about 1 in 250 pass the padding check, ~1 in a million also decode as UTF-8).',
        '  hush legacy decrypt --key-file pass.txt < messages.txt > plain.txt',
      ].join('\n'),
    )
    .action(async (flags: DecryptFlags) => {
      const passphrase = await readPassphrase(flags);
      await runLegacyDecrypt({
        passphrase,
        input: process.stdin,
        output: process.stdout,
        errors: process.stderr,
        json: flags.json === true,
      });
    });
}

/** What `hush legacy decrypt` works on; streams are passed in so it can run without a process. */
export interface LegacyDecryptRequest {
  passphrase: string;
  input: Readable;
  output: Writable;
  errors: Writable;
  json: boolean;
}

/**
 * Decrypts every non-blank input line in order, writing plaintexts to output and "line N: …" to errors.
 * Throws UserError (exit status 1) at the end if any line failed.
 */
export async function runLegacyDecrypt(request: LegacyDecryptRequest): Promise<void> {
  const { passphrase, input, output, errors, json } = request;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  let failed = 0;
  let read = 0;
  for await (const rawLine of lines) {
    lineNumber += 1;
    const line = rawLine.trim();
    if (line === '') continue;
    read += 1;
    try {
      const { plaintext } = await decryptLegacyCryptoJs(line, passphrase);
      await write(output, `${json ? JSON.stringify(plaintext) : plaintext}\n`);
    } catch (error) {
      if (!(error instanceof LegacyDecryptError)) throw error;
      failed += 1;
      await write(errors, `line ${lineNumber}: ${error.message}\n`);
    }
  }
  if (failed > 0) {
    throw new UserError(`legacy decrypt: ${failed} of ${read} ciphertexts could not be decrypted`);
  }
}

async function readPassphrase(flags: DecryptFlags): Promise<string> {
  if (flags.key !== undefined && flags.keyFile !== undefined) {
    throw new UserError('give the passphrase with --key or --key-file, not both');
  }
  if (flags.key !== undefined) return flags.key;
  if (flags.keyFile === undefined) {
    throw new UserError('legacy decrypt needs the passphrase: --key PASSPHRASE or --key-file FILE');
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(flags.keyFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UserError(`cannot read key file ${flags.keyFile}: ${code}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new UserError(`key file ${flags.keyFile} is not valid UTF-8`);
  } finally {
    bytes.fill(0);
  }
  return text.replace(/\r?\n$/, '');
}

/** Writes and waits for the stream to drain when it asks, so a large input is not buffered in memory. */
function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const flushed = stream.write(text, (error) => {
      if (error) reject(error);
    });
    if (flushed) resolve();
    else stream.once('drain', resolve);
  });
}
