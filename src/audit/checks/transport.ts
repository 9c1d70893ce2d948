/**
 * The transport: plain text (mqtt://, ws://) or TLS (mqtts://, wss://) and, for TLS, whether the
 * certificate verifies. Plain text on loopback is only informational (a local reverse proxy in front
 * is common); anywhere else credentials and metadata cross the network readable.
 */
import { randomClientId } from '../canary.ts';
import { openConnection } from '../connection.ts';
import { describeOutcome, result, type CheckContext } from '../context.ts';
import { isLoopbackHost } from '../target.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  'Without TLS, passwords, client ids (the secret in seed mode) and who-talks-to-whom cross the network in clear; message content stays end-to-end encrypted either way.';
const FIX =
  'Serve MQTT over TLS: a Mosquitto `listener 8883` (and a WebSocket listener) with `certfile`/`keyfile`, or Hush broker --tls-cert/--tls-key; browsers need wss:// with a certificate they trust.';

async function transport(ctx: CheckContext): Promise<CheckResult> {
  const url = ctx.target.parsedUrl;
  if (url.protocol === 'mqtt:' || url.protocol === 'ws:') {
    if (isLoopbackHost(url))
      return result('info', `plain-text ${url.protocol}// on loopback (${url.hostname})`, WHY, FIX);
    return result('weakness', `plain-text ${url.protocol}// on ${url.hostname}`, WHY, FIX, 'medium');
  }
  if (!ctx.target.insecure) return result('pass', 'TLS with a certificate that verified', WHY, FIX);
  // --insecure was given: find out whether verification would have failed.
  const verified = await openConnection(
    { url: ctx.target.url, ca: ctx.target.ca, insecure: false, timeoutMs: ctx.timeoutMs },
    { ...ctx.attacker(randomClientId()) },
  );
  if (verified.kind === 'accepted') {
    await verified.connection.end();
    return result(
      'pass',
      'TLS; the certificate verifies (verification was not needed: --insecure)',
      WHY,
      FIX,
    );
  }
  if (verified.kind === 'failed') {
    return result(
      'weakness',
      `TLS certificate does not verify: ${verified.reason}`,
      WHY,
      'Serve a certificate for this hostname from a CA clients trust (browsers refuse the connection otherwise).',
      'high',
    );
  }
  return result('pass', `TLS; the certificate verified (then ${describeOutcome(verified)})`, WHY, FIX);
}

export const transportChecks: AttackCheck[] = [
  {
    id: 'transport',
    standalone: true,
    title: 'the connection is encrypted (TLS) where it leaves the machine',
    run: transport,
  },
];
