/**
 * The passive check (`hush audit --listen S`): subscribe to everything an outsider can name and watch
 * real traffic for S seconds. Unlike the canary checks this sees other people's messages, so it reports
 * only counts and the shape of topics (ids replaced), never payloads or full topics.
 */
import { randomClientId } from './canary.ts';
import { openConnectionPatiently, sleep } from './connection.ts';
import { describeOutcome } from './context.ts';
import { resolveTarget } from './target.ts';
import type { AuditTarget, Finding } from './types.ts';

const WHY =
  'Real traffic reaching a wildcard subscriber is exactly the hole the seed warns about: everyone holding the page credentials reads it.';
const FIX =
  'Give the broker an aclfile that only lets a client read its own inbox (`pattern read chats/%c/messages`) and nothing that grants read on wildcards.';

/** Replaces every level that looks like an id or a number by a placeholder: "chats/<id>/messages". */
export function topicShape(topic: string): string {
  return topic
    .split('/')
    .map((level) => (/^[A-Za-z0-9_-]{12,}$/.test(level) || /^\d+$/.test(level) ? '<id>' : level))
    .join('/');
}

/** Watches `#` (and `$SYS/#`) for `seconds`; a leak if any non-$SYS message arrives. */
export async function runPassiveListen(target: AuditTarget, seconds: number): Promise<Finding> {
  const resolved = resolveTarget(target);
  const base = {
    id: 'passive-wildcard',
    title: `a wildcard subscriber sees no real traffic in ${seconds} s`,
    why: WHY,
    fix: FIX,
  };
  const outcome = await openConnectionPatiently(
    { url: resolved.url, ca: resolved.ca, insecure: resolved.insecure, timeoutMs: resolved.timeoutMs },
    { ...resolved.attacker, clientId: randomClientId() },
  );
  if (outcome.kind !== 'accepted') {
    return {
      ...base,
      verdict: 'inconclusive',
      severity: 'info',
      observed: `could not connect: ${describeOutcome(outcome)}`,
    };
  }
  const connection = outcome.connection;
  try {
    const granted = await connection.subscribe('#', 0);
    await connection.subscribe('$SYS/#', 0);
    await sleep(seconds * 1000);
    const seen = connection.messages.filter((m) => !m.topic.startsWith('$'));
    if (seen.length > 0) {
      const shapes = [...new Set(seen.map((m) => topicShape(m.topic)))].slice(0, 5);
      return {
        ...base,
        verdict: 'leak',
        severity: 'critical',
        observed: `${seen.length} message(s) on ${new Set(seen.map((m) => m.topic)).size} topic(s) in ${seconds} s, e.g. ${shapes.join(', ')} (payloads not shown)`,
      };
    }
    if (connection.droppedByBroker) {
      return {
        ...base,
        verdict: 'inconclusive',
        severity: 'info',
        observed: 'the broker closed the listening connection',
      };
    }
    const how =
      granted === 'refused' ? 'the broker refused "#" (SUBACK 0x80)' : `"#" was ${granted}, nothing arrived`;
    return {
      ...base,
      verdict: 'pass',
      severity: 'info',
      observed: `${how} in ${seconds} s (a quiet broker proves little: run it while people chat)`,
    };
  } finally {
    await connection.end();
  }
}
