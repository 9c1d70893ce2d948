/**
 * Checks an AuditTarget at the door and derives the topics the checks aim at from the inbox pattern:
 * the victim's inbox, the wildcard filters an outsider would try (`#`, `+/#`, one `+` per inbox level,
 * the inbox prefix with `#`, the inbox pattern with `+` for the id).
 */
import type { AuditTarget } from './types.ts';

const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

/** A target with defaults filled in and its URL parsed. */
export interface ResolvedTarget extends AuditTarget {
  timeoutMs: number;
  parsedUrl: URL;
}

/** Validates a target; throws `audit: …` naming what was expected and what came. */
export function resolveTarget(target: AuditTarget): ResolvedTarget {
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(target.url);
  } catch {
    throw new Error(`audit: broker URL is not a URL: ${JSON.stringify(target.url)}`);
  }
  if (!SCHEMES.has(parsedUrl.protocol)) {
    throw new Error(
      `audit: broker URL must start with mqtt://, mqtts://, ws:// or wss://, got: ${parsedUrl.protocol}//`,
    );
  }
  const pattern = target.inboxPattern;
  if (pattern.split('%c').length !== 2) {
    throw new Error(`audit: inbox pattern must contain %c exactly once, got: ${JSON.stringify(pattern)}`);
  }
  if (/[+#]/.test(pattern) || pattern.startsWith('$')) {
    throw new Error(`audit: inbox pattern must be a plain topic with %c, got: ${JSON.stringify(pattern)}`);
  }
  const timeoutMs = target.timeoutMs ?? 5000;
  if (!(timeoutMs >= 100 && timeoutMs <= 120_000)) {
    throw new Error(`audit: timeoutMs must be between 100 and 120000, got: ${target.timeoutMs}`);
  }
  for (const [role, creds] of [
    ['attacker', target.attacker],
    ['victim', target.victim],
  ] as const) {
    if (creds.password !== undefined && creds.username === undefined) {
      throw new Error(`audit: ${role} password given without a username`);
    }
  }
  return { ...target, timeoutMs, parsedUrl };
}

/** The inbox topic of one client id. */
export function inboxTopic(pattern: string, clientId: string): string {
  return pattern.replace('%c', clientId);
}

/** The levels of the inbox pattern before and after the `%c` level. */
function inboxLevels(pattern: string): { before: string[]; after: string[] } {
  const levels = pattern.split('/');
  const at = levels.findIndex((level) => level.includes('%c'));
  return { before: levels.slice(0, at), after: levels.slice(at + 1) };
}

/** `chats/#` for `chats/%c/messages`: everything below the inbox prefix. */
export function inboxPrefixFilter(pattern: string): string {
  return [...inboxLevels(pattern).before, '#'].join('/');
}

/** `chats/+/messages` for `chats/%c/messages`: every inbox at once. */
export function everyInboxFilter(pattern: string): string {
  return pattern
    .split('/')
    .map((level) => (level.includes('%c') ? '+' : level))
    .join('/');
}

/** `+/+/+` for a three-level inbox pattern. */
export function levelWildcardFilter(pattern: string): string {
  return pattern
    .split('/')
    .map(() => '+')
    .join('/');
}

/** True when the URL's host is a loopback address (plain text there is only informational). */
export function isLoopbackHost(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
