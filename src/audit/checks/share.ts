/**
 * Publishing to a `$share/…` topic. `$share/group/filter` is a subscription syntax; a broker that also
 * routes PUBLISHes sent to such a name may deliver them past the ACL checks made for the real topic.
 * MQTT 3.1.1 gives the name no meaning, so the only right outcome is that nothing is delivered.
 */
import { fingerprint } from '../canary.ts';
import { result, type CheckContext } from '../context.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  '$share names are for subscriptions; a broker that routes publishes sent to them can deliver messages past the ACL rules written for the real topic.';
const FIX =
  'Deny writes to $share/# (Hush always does); on Mosquitto no topic rule should start with $share.';

async function publishShare(ctx: CheckContext): Promise<CheckResult> {
  const victim = await ctx.listeningVictim();
  const shared = `$share/hush-audit/${victim.identity.inbox}`;
  await victim.connection.subscribe(shared);
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  const canary = ctx.canary();
  const published = await attacker.publish(shared, canary, { qos: 1 });
  const got = await victim.connection.waitForMessage(
    (m) => m.payload.toString() === canary,
    ctx.settleMs * 2,
  );
  if (got) {
    return result(
      'weakness',
      `a publish to "$share/hush-audit/<victim inbox>" was delivered to the victim (as topic ${got.topic === victim.identity.inbox ? 'the inbox itself' : 'the $share name'}, canary #${fingerprint(canary)})`,
      WHY,
      FIX,
      'low',
    );
  }
  ctx.requireAlive(victim.connection, 'victim');
  const how =
    published === 'acked'
      ? 'PUBACK received (dropped silently)'
      : attacker.droppedByBroker
        ? 'the publisher was disconnected'
        : 'no PUBACK';
  return result('pass', `nothing was delivered; ${how}`, WHY, FIX);
}

export const shareChecks: AttackCheck[] = [
  { id: 'share-publish', title: 'publishing to a $share/… topic is not delivered', run: publishShare },
];
