// Mosquitto 2.0 password hashes: making a `$7$` one and checking a password against `$7$` or `$6$`.
//   $7$<iterations>$<salt>$<hash>  hash = PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes)
//   $6$<salt>$<hash>               hash = SHA-512(password ‖ salt)  (Mosquitto 1.x default, still read)
// salt is 12 random bytes, both fields standard base64 with padding, password as its UTF-8 bytes.
// Follows pw__hash() in mosquitto's src/password_mosq.c and pw__digest() / unpwd__decode_passwords()
// in src/security_default.c (2.0.11); mosquitto_passwd uses 101 iterations (PW_DEFAULT_ITERATIONS).

import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { passwordProblem } from './rules.ts';

const pbkdf2Async = promisify(pbkdf2);

/** Iterations mosquitto_passwd uses unless told otherwise (-I). */
export const DEFAULT_ITERATIONS = 101;
/** Mosquitto reads the count with atoi() into an int, so this is the largest it can store. */
export const MAX_ITERATIONS = 2 ** 31 - 1;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

/** A stored hash taken apart; only ever built by parseStoredHash, so its lengths are right. */
export type StoredHash =
  { type: 6; salt: Buffer; hash: Buffer } | { type: 7; iterations: number; salt: Buffer; hash: Buffer };

/** Takes apart "$7$…" or "$6$…"; returns a sentence saying what is wrong instead of throwing. */
export function parseStoredHash(stored: string): StoredHash | string {
  if (!stored.startsWith('$')) {
    return 'the password is not hashed (expected $7$<iterations>$<salt>$<hash>); hash it with `hush passwd` or `mosquitto_passwd -U`';
  }
  const fields = stored.split('$');
  const type = fields[1];
  if (type === '7') {
    if (fields.length !== 5) return 'a $7$ hash has the form $7$<iterations>$<salt>$<hash>';
    const [, , iterationsText = '', saltText = '', hashText = ''] = fields;
    if (!/^[1-9][0-9]{0,9}$/.test(iterationsText) || Number(iterationsText) > MAX_ITERATIONS) {
      return `the iteration count must be a whole number from 1 to ${MAX_ITERATIONS}`;
    }
    const salt = decodeBase64(saltText, SALT_BYTES);
    if (salt === undefined) return 'the salt must be 12 bytes in standard base64 (16 characters)';
    const hash = decodeBase64(hashText, HASH_BYTES);
    if (hash === undefined)
      return 'the hash must be 64 bytes in standard base64 (88 characters ending in ==)';
    return { type: 7, iterations: Number(iterationsText), salt, hash };
  }
  if (type === '6') {
    if (fields.length !== 4) return 'a $6$ hash has the form $6$<salt>$<hash>';
    const [, , saltText = '', hashText = ''] = fields;
    const salt = decodeBase64(saltText, SALT_BYTES);
    if (salt === undefined) return 'the salt must be 12 bytes in standard base64 (16 characters)';
    const hash = decodeBase64(hashText, HASH_BYTES);
    if (hash === undefined)
      return 'the hash must be 64 bytes in standard base64 (88 characters ending in ==)';
    return { type: 6, salt, hash };
  }
  return `unknown hash type $${type ?? ''}$: Mosquitto 2.0 reads only $7$ (PBKDF2-SHA512) and $6$ (SHA-512)`;
}

/** Hashes a password the way `mosquitto_passwd` does: "$7$101$<salt>$<hash>" with a fresh random salt. */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const problem = typeof password === 'string' ? passwordProblem(password) : 'password must be a string';
  if (problem !== undefined) throw new TypeError(`passwd: ${problem}`);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(
      `passwd: iterations must be a whole number from 1 to ${MAX_ITERATIONS}, got: ${iterations}`,
    );
  }
  const salt = Buffer.from(crypto.getRandomValues(new Uint8Array(SALT_BYTES)));
  const hash = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when `password` matches a stored $7$ or $6$ hash; false for a wrong password or a malformed hash, never throws. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof stored !== 'string') return false;
  const parsed = parseStoredHash(stored);
  if (typeof parsed === 'string') return false;
  const secret = Buffer.from(password, 'utf8');
  const computed =
    parsed.type === 7
      ? await pbkdf2Async(secret, parsed.salt, parsed.iterations, HASH_BYTES, 'sha512')
      : createHash('sha512').update(secret).update(parsed.salt).digest();
  // Both are exactly 64 bytes (parseStoredHash checked the stored one), as timingSafeEqual requires.
  return timingSafeEqual(computed, parsed.hash);
}

/** Strict base64: exactly `bytes` long once decoded, and written the one canonical way (it round-trips). */
function decodeBase64(text: string, bytes: number): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length !== bytes || decoded.toString('base64') !== text) return undefined;
  return decoded;
}
