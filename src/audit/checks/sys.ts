/**
 * `$SYS` topics: reading them and writing them. Brokers publish status there; some (Aedes) publish every
 * new client id, which in seed mode (anonymous, ids as secrets) hands an outsider the key to each inbox.
 * Writing there lets an outsider forge status that monitoring trusts.
 */
import { fingerprint } from '../canary.ts';
import { Inconclusive, result, type CheckContext } from '../context.ts';
import { sleep } from '../connection.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const READ_WHY =
  '$SYS carries broker status; some brokers publish every connecting client id there, and where client ids are the secret (anonymous seed mode) knowing one means reading that inbox.';
const READ_FIX =
  'Do not let clients read $SYS: Mosquitto delivers $SYS only when an aclfile rule starting with $SYS grants read (remove such rules), or set `sys_interval 0`; Hush refuses $SYS subscriptions unless the aclfile grants them.';
const WRITE_WHY =
  'A client that can publish under $SYS can forge broker status that dashboards and operators trust.';
const WRITE_FIX =
  'Deny writes to $SYS (Mosquitto and Hush always do; for other brokers add an explicit deny rule).';

/** Subscribes to $SYS/#, makes a victim connect, and looks for status messages and the victim's id in them. */
async function sysRead(ctx: CheckContext): Promise<CheckResult> {
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  const granted = await attacker.subscribe('$SYS/#');
  // A victim connecting while we listen: brokers that announce clients do it now.
  const victim = await ctx.listeningVictim();
  await sleep(Math.max(ctx.settleMs, 1000));
  await victim.connection.end();
  await sleep(ctx.settleMs);
  const sys = attacker.messages.filter((m) => m.topic.startsWith('$SYS'));
  const ids = [...ctx.victimIds];
  const naming = sys.filter((m) =>
    ids.some((id) => m.topic.includes(id) || m.payload.toString().includes(id)),
  );
  if (naming.length > 0) {
    return result(
      'leak',
      `$SYS/# delivered ${sys.length} message(s); ${naming.length} named a victim's client id (fingerprint #${fingerprint(naming[0]!.topic)})`,
      READ_WHY,
      READ_FIX,
      'critical',
    );
  }
  if (sys.length > 0) {
    const topics = new Set(sys.map((m) => m.topic)).size;
    return result(
      'weakness',
      `$SYS/# delivered ${sys.length} status message(s) on ${topics} topic(s); no client id seen`,
      READ_WHY,
      READ_FIX,
      'low',
    );
  }
  ctx.requireAlive(attacker, 'attacker');
  if (granted === 'refused')
    return result('pass', 'SUBACK 0x80: the broker refused $SYS/#', READ_WHY, READ_FIX);
  if (granted === 'failed') throw new Inconclusive('no SUBACK for $SYS/#');
  return result('pass', '$SYS/# was granted but nothing was delivered', READ_WHY, READ_FIX);
}

/** Publishes a canary under $SYS and listens for it with a $SYS/# subscription. */
async function sysWrite(ctx: CheckContext): Promise<CheckResult> {
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  const canary = ctx.canary();
  const topic = `$SYS/hush-audit/${fingerprint(canary)}`;
  const granted = await attacker.subscribe('$SYS/#');
  const published = await attacker.publish(topic, canary, { qos: 1 });
  const echoed = await attacker.waitForMessage((m) => m.payload.toString() === canary, ctx.settleMs * 2);
  if (echoed)
    return result(
      'weakness',
      `a publish to ${topic} was delivered back to a $SYS/# subscriber`,
      WRITE_WHY,
      WRITE_FIX,
      'medium',
    );
  if (published === 'failed') {
    return result(
      'pass',
      `the broker ${attacker.droppedByBroker ? 'disconnected the publisher' : 'did not acknowledge the publish'}`,
      WRITE_WHY,
      WRITE_FIX,
    );
  }
  ctx.requireAlive(attacker, 'attacker');
  const how =
    granted === 'granted'
      ? 'a $SYS/# subscriber did not receive it'
      : 'nobody here may read $SYS, so no client sees it';
  return result(
    'pass',
    `PUBACK received (the broker drops denied publishes silently); ${how}`,
    WRITE_WHY,
    WRITE_FIX,
  );
}

export const sysChecks: AttackCheck[] = [
  { id: 'sys-read', title: '$SYS/# reveals nothing (no client ids, no status)', run: sysRead },
  { id: 'sys-publish', standalone: true, title: 'publishing under $SYS is not delivered', run: sysWrite },
];
