// Mosquitto password files for Hush's embedded broker and for `hush passwd`: parse, format, hash,
// verify, load and atomically save. Compatible with mosquitto 2.0.11 and mosquitto_passwd; see
// file.ts (the text format), hash.ts ($7$/$6$ hashes), rules.ts (usernames, passwords), store.ts (disk),
// lock.ts (one writer at a time across processes).

export { PasswordFileError, parsePasswordFile, formatPasswordFile, type PasswordTable } from './file.ts';
export {
  hashPassword,
  verifyPassword,
  parseStoredHash,
  DEFAULT_ITERATIONS,
  MAX_ITERATIONS,
  type StoredHash,
} from './hash.ts';
export { usernameProblem, passwordProblem } from './rules.ts';
export { loadPasswordFile, savePasswordFile } from './store.ts';
export { withPasswordFileLock } from './lock.ts';
export { VerifiedPasswordCache } from './verified-cache.ts';
