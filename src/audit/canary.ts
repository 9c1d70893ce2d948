/**
 * Random material for the auditor's own traffic: client ids shaped like Hush's (16 random bytes,
 * base64url), canary payloads that are recognisable by a fixed prefix, and short fingerprints so a
 * finding can name a canary without repeating it.
 */
import { createHash } from 'node:crypto';

/** n random bytes from the platform CSPRNG (crypto.getRandomValues, the one source Hush uses). */
const randomBytes = (n: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(n)));

const CANARY_PREFIX = 'hush-audit-canary:';

/** A fresh client id: 22 characters of [A-Za-z0-9_-], unguessable, valid on every broker. */
export function randomClientId(): string {
  return randomBytes(16).toString('base64url');
}

/** A fresh canary payload; `label` says which check made it (it shows up in broker logs, not findings). */
export function newCanary(label: string): string {
  return `${CANARY_PREFIX}${label}:${randomBytes(16).toString('hex')}`;
}

/** True for any auditor canary, of this run or another one: private content the auditor planted. */
export function isCanary(payload: Buffer | string): boolean {
  return payload.toString().startsWith(CANARY_PREFIX);
}

/** First 8 hex digits of SHA-256: enough to match a finding to a canary, useless to a reader. */
export function fingerprint(payload: Buffer | string): string {
  return createHash('sha256').update(payload).digest('hex').slice(0, 8);
}
