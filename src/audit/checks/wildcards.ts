/**
 * Wildcard subscriptions: the seed's hole. An outsider subscribes to a broad filter while a victim's
 * canary goes to the victim's inbox; any canary reaching the outsider is a leak. A broker may refuse the
 * filter (SUBACK 0x80, as Hush does for `$` filters) or grant it and drop each delivery the ACL does not
 * allow (Mosquitto); both pass. The victim receiving its canary is the control.
 */
import { Inconclusive, result, type CheckContext } from '../context.ts';
import { sleep } from '../connection.ts';
import { everyInboxFilter, inboxPrefixFilter, levelWildcardFilter } from '../target.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  'Anyone holding what the web page holds can subscribe to this filter; if the broker delivered inbox traffic on it, every chat would be readable (the seed warns about exactly this).';
const FIX =
  'Give the broker an aclfile that only lets a client read its own inbox: `pattern read chats/%c/messages` and `pattern write chats/+/messages`, and nothing that grants read on wildcards (check with `hush audit --acl-file`).';

/** Subscribes `filter` as the attacker, sends a canary to a victim, and reports whether the attacker got it. */
export async function wildcardSubscription(ctx: CheckContext, filter: string): Promise<CheckResult> {
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  const granted = await attacker.subscribe(filter);
  const victim = await ctx.listeningVictim();
  await ctx.deliverCanary(victim, ctx.canary());
  await sleep(ctx.settleMs);
  const leaked = ctx.canariesReceived(attacker);
  if (leaked.length > 0) {
    return result(
      'leak',
      `subscribed to "${filter}" and received ${ctx.describeCanaries(leaked, victim.identity.inbox)}`,
      WHY,
      FIX,
    );
  }
  ctx.requireAlive(attacker, 'attacker');
  const others = ctx.describeOtherTraffic(attacker);
  if (granted === 'refused')
    return result('pass', `SUBACK 0x80: the broker refused "${filter}"${others}`, WHY, FIX);
  if (granted === 'failed') throw new Inconclusive(`no SUBACK for "${filter}"`);
  return result(
    'pass',
    `"${filter}" was granted, but the victim's canary was not delivered to the attacker${others}`,
    WHY,
    FIX,
  );
}

/** One check per filter an outsider would try, derived from the inbox pattern. */
export function wildcardChecks(inboxPattern: string): AttackCheck[] {
  const filters: Array<[string, string, string]> = [
    ['wildcard-all', '#', 'subscribing to # reads nothing'],
    ['wildcard-plus-all', '+/#', 'subscribing to +/# reads nothing'],
    [
      'wildcard-levels',
      levelWildcardFilter(inboxPattern),
      `subscribing to ${levelWildcardFilter(inboxPattern)} reads nothing`,
    ],
    [
      'wildcard-prefix',
      inboxPrefixFilter(inboxPattern),
      `subscribing to ${inboxPrefixFilter(inboxPattern)} reads nothing`,
    ],
    [
      'wildcard-inboxes',
      everyInboxFilter(inboxPattern),
      `subscribing to ${everyInboxFilter(inboxPattern)} reads nothing`,
    ],
    ['wildcard-shared', '$share/hush-audit/#', 'a shared subscription $share/…/# reads nothing'],
  ];
  return filters.map(([id, filter, title]) => ({
    id,
    title,
    run: (ctx) => wildcardSubscription(ctx, filter),
  }));
}
