/**
 * Plain-text listeners beside a TLS one: a deployment that serves wss:// to browsers often still has a
 * plain MQTT listener (Mosquitto on Debian needs one). On loopback that is expected; reachable from the
 * network it lets credentials and ids travel in clear. Only the ports the caller names are probed.
 */
import { randomClientId } from '../canary.ts';
import { openConnection } from '../connection.ts';
import { result, type CheckContext } from '../context.ts';
import { isLoopbackHost } from '../target.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  'A plain-text listener beside the TLS one carries passwords and client ids (the secret in seed mode) in clear for anyone on the path.';
const FIX =
  'Bind plain listeners to loopback only (Mosquitto: `listener 1883 127.0.0.1`; WebSockets: `listener 8080 lo`), or remove them.';

async function plaintextListeners(ctx: CheckContext): Promise<CheckResult> {
  const url = ctx.target.parsedUrl;
  if (url.protocol === 'mqtt:' || url.protocol === 'ws:') {
    return result('info', 'the target itself is plain text (see the transport check)', WHY, FIX);
  }
  // Only ports the caller named: a fixed default (1883) would probe whatever else runs on that host.
  const ports = ctx.target.plainPorts ?? [];
  if (ports.length === 0) {
    return result(
      'info',
      "not probed: no plain port was named (give --plain-port PORT, e.g. the deployment's --mqtt-port)",
      WHY,
      FIX,
    );
  }
  const found: string[] = [];
  for (const port of ports) {
    const probe = `mqtt://${url.hostname}:${port}`;
    const outcome = await openConnection(
      { url: probe, timeoutMs: Math.min(ctx.timeoutMs, 2000) },
      { ...ctx.attacker(randomClientId()) },
    );
    if (outcome.kind === 'accepted') {
      await outcome.connection.end();
      found.push(`${probe} (CONNECT accepted)`);
    } else if (outcome.kind === 'refused') {
      found.push(`${probe} (answers MQTT, CONNACK ${outcome.code})`);
    }
  }
  if (found.length === 0)
    return result('pass', 'no plain MQTT listener answered on the probed ports', WHY, FIX);
  if (isLoopbackHost(url)) return result('info', `plain MQTT on loopback: ${found.join(', ')}`, WHY, FIX);
  return result('weakness', `plain MQTT reachable beside TLS: ${found.join(', ')}`, WHY, FIX, 'medium');
}

export const plaintextChecks: AttackCheck[] = [
  {
    id: 'plaintext-listener',
    standalone: true,
    title: 'no plain-text MQTT listener beside the TLS one',
    run: plaintextListeners,
  },
];
