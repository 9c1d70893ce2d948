/**
 * Retained messages on inbox topics. Planted: anyone may write to an inbox, so a retained message there
 * greets the owner on every (re)subscribe with content the attacker chose and can never be displaced by
 * the owner. Read: a retained message sits on the broker; it must be READ-checked for every subscriber
 * like a live one, whatever filter asks for it.
 */
import { Inconclusive, result, type CheckContext } from '../context.ts';
import { sleep } from '../connection.ts';
import { everyInboxFilter, inboxPrefixFilter, levelWildcardFilter } from '../target.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const PLANT_WHY =
  "Inboxes are writable by everyone, so a retained message there is attacker-chosen content that the owner receives again on every subscribe and cannot remove for good (the next one replaces it); it also fills the broker's store.";
const PLANT_FIX =
  'Refuse retained messages: `retain_available false` in mosquitto.conf (clients that send one are disconnected), or Hush broker --no-retain (the default for hush start).';
const READ_WHY =
  'A retained message waits on the broker; if it is delivered without the READ check, any subscriber can collect the last message of every inbox.';
const READ_FIX =
  'Check READ on every delivery, retained ones included (Mosquitto and Hush do); on brokers that only check the SUBSCRIBE filter (EMQX, RabbitMQ) never grant read on wildcard filters.';

/** The attacker publishes a retained canary to a victim's inbox; does the victim receive it on subscribe? */
async function retainedPlant(ctx: CheckContext): Promise<CheckResult> {
  const victim = ctx.newVictim();
  const canary = ctx.canary();
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  ctx.defer(() => ctx.clearRetained(victim.inbox, ctx.attacker()));
  const published = await attacker.publish(victim.inbox, canary, { qos: 1, retain: true });
  const disconnected = attacker.droppedByBroker;
  await attacker.end();
  const listening = await ctx.listeningVictim(victim);
  const got = await listening.connection.waitForMessage(
    (m) => m.payload.toString() === canary,
    ctx.settleMs * 2,
  );
  if (got) {
    return result(
      'weakness',
      `the victim, subscribing to its inbox, received a retained message planted by another client${got.retain ? ' (retain flag set)' : ''}`,
      PLANT_WHY,
      PLANT_FIX,
      'medium',
    );
  }
  ctx.requireAlive(listening.connection, 'victim');
  if (disconnected)
    return result(
      'pass',
      'the broker disconnected the client that published a retained message',
      PLANT_WHY,
      PLANT_FIX,
    );
  if (published === 'failed')
    return result(
      'pass',
      'the retained publish was not acknowledged and nothing was kept',
      PLANT_WHY,
      PLANT_FIX,
    );
  return result(
    'pass',
    'the retained publish was acknowledged but nothing was kept for the victim',
    PLANT_WHY,
    PLANT_FIX,
  );
}

/** The owner leaves a retained canary on its inbox; the attacker subscribes with every filter that covers it. */
async function retainedRead(ctx: CheckContext): Promise<CheckResult> {
  const victim = ctx.newVictim();
  const canary = ctx.canary();
  const owner = await ctx.mustConnect('victim', ctx.asVictim(victim));
  ctx.defer(() => ctx.clearRetained(victim.inbox, ctx.asVictim(victim)));
  const published = await owner.publish(victim.inbox, canary, { qos: 1, retain: true });
  if (published === 'failed') {
    return result(
      'pass',
      `the broker ${owner.droppedByBroker ? 'disconnected' : 'did not acknowledge'} a client publishing a retained message: there is nothing to read`,
      READ_WHY,
      READ_FIX,
    );
  }
  // Control: the owner's own subscription must bring the retained message back.
  await owner.subscribe(victim.inbox);
  const kept = await owner.waitForMessage(
    (m) => m.payload.toString() === canary && m.retain,
    Math.max(ctx.settleMs * 3, 1000),
  );
  await owner.end();
  if (!kept)
    return result(
      'pass',
      'the broker did not keep the retained message: there is nothing to read',
      READ_WHY,
      READ_FIX,
    );

  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  const filters = [
    victim.inbox,
    everyInboxFilter(ctx.inboxPattern),
    inboxPrefixFilter(ctx.inboxPattern),
    levelWildcardFilter(ctx.inboxPattern),
    '#',
  ];
  const outcomes: string[] = [];
  for (const filter of filters) {
    const before = ctx.canariesReceived(attacker).length;
    const granted = await attacker.subscribe(filter);
    await sleep(ctx.settleMs / 2);
    if (ctx.canariesReceived(attacker).length > before) {
      const shown = filter === victim.inbox ? "the victim's exact inbox topic" : `"${filter}"`;
      return result(
        'leak',
        `subscribing to ${shown} delivered the victim's retained ${ctx.describeCanaries(ctx.canariesReceived(attacker), victim.inbox)}`,
        READ_WHY,
        READ_FIX,
      );
    }
    outcomes.push(`${filter === victim.inbox ? '<victim inbox>' : filter}: ${granted}`);
  }
  ctx.requireAlive(attacker, 'attacker');
  if (outcomes.some((o) => o.endsWith('failed')))
    throw new Inconclusive(`a subscription got no SUBACK (${outcomes.join(', ')})`);
  return result(
    'pass',
    `the retained canary was not delivered to the attacker (SUBACK ${outcomes.join(', ')})`,
    READ_WHY,
    READ_FIX,
  );
}

export const retainedChecks: AttackCheck[] = [
  {
    id: 'retained-plant',
    title: "an outsider cannot plant a retained message on the victim's inbox",
    run: retainedPlant,
  },
  {
    id: 'retained-read',
    title: "an outsider cannot read a retained message left on the victim's inbox",
    run: retainedRead,
  },
];
