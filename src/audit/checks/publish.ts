/**
 * Publishing to arbitrary topics: a chat broker only needs inbox writes. If an outsider can publish on
 * any topic and have it delivered to any subscriber, the broker is a free, anonymous relay for anyone's
 * traffic (and for spoofed messages on topics other software trusts).
 */
import { randomClientId } from '../canary.ts';
import { sleep } from '../connection.ts';
import { Inconclusive, result, type CheckContext } from '../context.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  'Anyone holding the page credentials can use a broker that relays arbitrary topics as a free pub/sub service, and can spoof messages on topics other clients trust.';
const FIX =
  'Grant write only on inboxes: `pattern write chats/+/messages`, and no `topic write`/`readwrite` on broad filters (check with `hush audit --acl-file`).';

async function publishArbitrary(ctx: CheckContext): Promise<CheckResult> {
  const topic = `hush-audit/${randomClientId()}/relay`;
  // Two different parties: in account mode the victim's account publishes (two connections of one
  // account would take each other's session over); anonymously, a second random id.
  const subscriber = await ctx.mustConnect('attacker', ctx.attacker());
  const granted = await subscriber.subscribe(topic);
  const publisherRequest = ctx.usesAccounts ? ctx.asVictim(ctx.newVictim()) : ctx.attacker(randomClientId());
  const publisher = await ctx.mustConnect(ctx.usesAccounts ? 'victim' : 'attacker', publisherRequest);
  const canary = ctx.canary();
  const published = await publisher.publish(topic, canary, { qos: 1 });
  const relayed = await subscriber.waitForMessage((m) => m.payload.toString() === canary, ctx.settleMs * 2);
  if (relayed) {
    return result(
      'weakness',
      `a message published on the made-up topic "${topic}" was delivered to another client`,
      WHY,
      FIX,
      'medium',
    );
  }
  await sleep(10);
  ctx.requireAlive(subscriber, 'attacker');
  if (granted === 'failed') throw new Inconclusive(`no SUBACK for "${topic}"`);
  const how =
    published === 'failed'
      ? 'the broker closed the publishing connection'
      : granted === 'refused'
        ? 'the subscription was refused (SUBACK 0x80)'
        : 'the publish was accepted but not delivered';
  return result('pass', `made-up topic "${topic}": ${how}`, WHY, FIX);
}

export const publishChecks: AttackCheck[] = [
  { id: 'publish-arbitrary', title: 'publishing to arbitrary topics is not relayed', run: publishArbitrary },
];
