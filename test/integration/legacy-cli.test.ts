// `hush legacy decrypt` run as a real child process: ciphertext lines in, plaintext lines out, one
// "line N: …" per bad line on stderr, every line read even after failures, exit status 1 if any failed.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import CryptoJS from 'crypto-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HUSH = path.resolve(import.meta.dirname, '../../bin/hush.js');
/** OpenSSL-compatible vector from shared/notes/crypto.md: "Secret Passphrase" → "Hello World\n". */
const OPENSSL_VECTOR = 'U2FsdGVkX19aufvaqQQ89scaApBos6oFCyqPj7IKUFk=';
const PASS = 'migration pässphrase 🔑';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/hush.js legacy decrypt …args` with `input` on stdin. */
function hushLegacy(input: string, ...args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HUSH, 'legacy', 'decrypt', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hush-legacy-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hush legacy decrypt', () => {
  it('prints one plaintext line per ciphertext line and exits 0 when all open', async () => {
    const texts = ['first message', 'Grüße 👋 世界', 'third'];
    const input = texts.map((t) => CryptoJS.AES.encrypt(t, PASS).toString()).join('\n');
    const result = await hushLegacy(`${input}\n`, '--key', PASS);
    expect(result).toEqual({ code: 0, stdout: 'first message\nGrüße 👋 世界\nthird\n', stderr: '' });
  });

  it('reports each bad line by number, skips blank lines, reads on to the end and exits 1', async () => {
    const lines = [
      CryptoJS.AES.encrypt('good one', PASS).toString(), // 1
      '', // 2: blank, skipped
      'this is not base64!', // 3
      OPENSSL_VECTOR, // 4: made with another passphrase
      '   ', // 5: blank, skipped
      btoa('no salt header here, just some bytes.'), // 6
      `  ${CryptoJS.AES.encrypt('good two', PASS).toString()}\r`, // 7: stray spaces and CR are fine
    ];
    const result = await hushLegacy(lines.join('\n'), '--key', PASS);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('good one\ngood two\n');
    const errors = result.stderr.trimEnd().split('\n');
    expect(errors).toHaveLength(4);
    expect(errors[0]).toBe('line 3: legacy: ciphertext is not standard base64');
    expect(errors[1]).toMatch(/^line 4: legacy: (bad padding|plaintext is not valid UTF-8)/);
    expect(errors[2]).toMatch(/^line 6: legacy: ciphertext does not start with "Salted__"/);
    expect(errors[3]).toBe('hush: legacy decrypt: 3 of 5 ciphertexts could not be decrypted');
  });

  it('reads the passphrase from --key-file, dropping one trailing newline', async () => {
    const keyFile = path.join(dir, 'key.txt');
    await writeFile(keyFile, 'Secret Passphrase\n', { mode: 0o600 });
    const result = await hushLegacy(`${OPENSSL_VECTOR}\n`, '--key-file', keyFile);
    expect(result).toEqual({ code: 0, stdout: 'Hello World\n\n', stderr: '' });
  });

  it('--json prints each plaintext as one JSON string, so multi-line text keeps one line each', async () => {
    const input = [
      OPENSSL_VECTOR,
      CryptoJS.AES.encrypt('a\nb\u001b[2J', 'Secret Passphrase').toString(),
    ].join('\n');
    const result = await hushLegacy(input, '--key', 'Secret Passphrase', '--json');
    expect(result).toEqual({ code: 0, stdout: '"Hello World\\n"\n"a\\nb\\u001b[2J"\n', stderr: '' });
  });

  it('prints nothing and exits 0 on empty input', async () => {
    expect(await hushLegacy('', '--key', 'x')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await hushLegacy('\n\n  \n', '--key', 'x')).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('refuses to run without a passphrase, with both --key and --key-file, or with a missing key file', async () => {
    const none = await hushLegacy(OPENSSL_VECTOR);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/needs the passphrase: --key PASSPHRASE or --key-file FILE/);
    const both = await hushLegacy(OPENSSL_VECTOR, '--key', 'x', '--key-file', path.join(dir, 'key.txt'));
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--key or --key-file, not both/);
    const missing = await hushLegacy(OPENSSL_VECTOR, '--key-file', path.join(dir, 'nope.txt'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read key file .*nope\.txt: ENOENT/);
    for (const outcome of [none, both, missing]) expect(outcome.stdout).toBe('');
  });
});
