/**
 * Client ids an honest client never uses: `+`, `#`, one with `/`, one of 200 characters. Mosquitto 2.0
 * substitutes `%c` as plain text, so such an id changes the topics an ACL pattern grants: `+`/`#` would
 * become wildcards (Mosquitto denies every pattern for such ids, CVE-2017-7650), and `/` adds topic
 * levels. Each check first asks whether the id is accepted, then tries what it could actually buy.
 */
import { Inconclusive, describeOutcome, result, type CheckContext, type VictimIdentity } from '../context.ts';
import { sleep, type ConnectOutcome, type ReceivedMessage } from '../connection.ts';
import { randomClientId } from '../canary.ts';
import { everyInboxFilter, inboxPrefixFilter, inboxTopic } from '../target.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  "ACL patterns put the client id into topics (`pattern read chats/%c/messages`); an id with wildcards or extra levels can turn a client's own inbox rule into a rule over other clients' topics.";
const FIX =
  'Refuse such ids at CONNECT (Hush accepts only [A-Za-z0-9_-]{1,64}); on Mosquitto use `use_username_as_clientid true` with a password file so clients cannot choose their id, or Mosquitto 2.1, which matches %c only as a whole topic level.';
const ID_REPLACED =
  ' (with credentials, brokers using use_username_as_clientid replace the id by the username, so this shows nothing about ids)';
const REPLACED_WHY =
  'The broker replaced the requested client id with the authenticated username (use_username_as_clientid), so a client cannot choose its id at all: not a weakness.';

interface ReadAttempt {
  outcome: ConnectOutcome;
  leaked: ReceivedMessage[];
  inbox: string;
}

/**
 * Connects with the id idFor(victim) for a fresh victim, subscribes the filters, has the victim receive a
 * canary and reports what the connection got. The connection is closed before returning, so a second
 * attempt with the same account does not kick it (use_username_as_clientid).
 */
async function readAttempt(
  ctx: CheckContext,
  idFor: (v: VictimIdentity) => string,
  filters: (v: VictimIdentity) => string[],
): Promise<ReadAttempt> {
  const victim = ctx.newVictim();
  const outcome = await ctx.connect(ctx.attacker(idFor(victim)));
  if (outcome.kind !== 'accepted') return { outcome, leaked: [], inbox: victim.inbox };
  const attacker = outcome.connection;
  for (const filter of filters(victim)) await attacker.subscribe(filter);
  const listening = await ctx.listeningVictim(victim);
  await ctx.deliverCanary(listening, ctx.canary());
  await sleep(ctx.settleMs);
  const leaked = ctx.canariesReceived(attacker);
  if (leaked.length === 0) ctx.requireAlive(attacker, 'attacker');
  await attacker.end();
  await listening.connection.end();
  return { outcome, leaked, inbox: victim.inbox };
}

/** The same filters from an ordinary random id: tells a leak the odd id caused from one any client gets. */
async function leaksForAnyId(ctx: CheckContext, filters: (v: VictimIdentity) => string[]): Promise<boolean> {
  const control = await readAttempt(ctx, () => randomClientId(), filters);
  if (control.outcome.kind !== 'accepted')
    throw new Inconclusive(`control attacker: ${describeOutcome(control.outcome)}`);
  return control.leaked.length > 0;
}

/**
 * True when the broker replaced `id` with the attacker's username (use_username_as_clientid). Two signs,
 * both required: a connection with a random id is taken over by the one with `id` (both became the
 * username), and the connection with `id` reads the username's own inbox (%c resolved to the username).
 */
async function idReplacedByUsername(ctx: CheckContext, id: string): Promise<boolean> {
  const username = ctx.attackerCredentials.username;
  if (username === undefined) return false;
  const ownInbox = inboxTopic(ctx.inboxPattern, username);
  const first = await ctx.connect(ctx.attacker(randomClientId()));
  if (first.kind !== 'accepted') return false;
  const second = await ctx.connect(ctx.attacker(id));
  if (second.kind !== 'accepted') {
    await first.connection.end();
    return false;
  }
  const kicked = await first.connection.waitClosed(Math.max(ctx.settleMs * 2, 1000));
  const tookOver = kicked && first.connection.droppedByBroker;
  if (!kicked) await first.connection.end();
  let readsOwnInbox = false;
  if (tookOver && (await second.connection.subscribe(ownInbox)) === 'granted') {
    const canary = ctx.canary();
    await second.connection.publish(ownInbox, canary, { qos: 1 });
    readsOwnInbox =
      (await second.connection.waitForMessage((m) => m.payload.toString() === canary, ctx.timeoutMs)) !==
      undefined;
  }
  await second.connection.end();
  return tookOver && readsOwnInbox;
}

const replacedResult = (what: string) =>
  result(
    'pass',
    `${what} was replaced by the username (use_username_as_clientid: it took over a connection with another id of the same account and read that account's own inbox)`,
    REPLACED_WHY,
    FIX,
  );

/** Connects with a wildcard id and tries the filters its %c substitution would grant. */
async function wildcardId(ctx: CheckContext, id: '+' | '#'): Promise<CheckResult> {
  const list =
    id === '+' ? [everyInboxFilter(ctx.inboxPattern), '#'] : [inboxPrefixFilter(ctx.inboxPattern), '#'];
  const filters = () => list;
  const attempt = await readAttempt(ctx, () => id, filters);
  const { outcome } = attempt;
  if (outcome.kind === 'failed') throw new Inconclusive(describeOutcome(outcome));
  if (outcome.kind !== 'accepted')
    return result('pass', `client id "${id}" ${describeOutcome(outcome)}`, WHY, FIX);
  if (attempt.leaked.length > 0) {
    if (await leaksForAnyId(ctx, filters)) {
      return result(
        'info',
        `client id "${id}" was accepted; ${list.join(' and ')} leak here for any client id (see the wildcard checks), not because of this id`,
        WHY,
        FIX,
        'low',
      );
    }
    return result(
      'leak',
      `client id "${id}" was accepted and, subscribed to ${list.join(' and ')}, received ${ctx.describeCanaries(attempt.leaked, attempt.inbox)}`,
      WHY,
      FIX,
    );
  }
  if (await idReplacedByUsername(ctx, id)) return replacedResult(`client id "${id}"`);
  const replaced = ctx.attackerCredentials.username !== undefined ? ID_REPLACED : '';
  return result(
    'info',
    `client id "${id}" was accepted but read nothing through ${list.join(' or ')}${replaced}`,
    WHY,
    FIX,
    'low',
  );
}

/**
 * An id with `/`. What it can buy: with a read rule that has levels after %c ending in `#`
 * (`pattern read chats/%c/#`), the id `<victim>/messages` is granted `chats/<victim>/messages/#`, which
 * matches the victim's inbox itself — a silent read that, unlike a takeover, does not disconnect the victim.
 */
async function slashId(ctx: CheckContext): Promise<CheckResult> {
  const probe = await ctx.connect(ctx.attacker(`${randomClientId()}/b`));
  if (probe.kind === 'failed') throw new Inconclusive(describeOutcome(probe));
  if (probe.kind !== 'accepted') return result('pass', `client id "a/b" ${describeOutcome(probe)}`, WHY, FIX);
  await probe.connection.end();
  const after = ctx.inboxPattern.slice(ctx.inboxPattern.indexOf('%c') + 2) || '/x';
  const filters = (v: VictimIdentity) => [v.inbox, `${v.inbox}/#`];
  const attempt = await readAttempt(ctx, (v) => `${v.clientId}${after}`, filters);
  if (attempt.outcome.kind !== 'accepted') {
    return result(
      'info',
      `client id "a/b" was accepted; the id "<victim id>${after}" ${describeOutcome(attempt.outcome)}`,
      WHY,
      FIX,
      'low',
    );
  }
  if (attempt.leaked.length > 0) {
    if (await leaksForAnyId(ctx, filters)) {
      return result(
        'info',
        `client ids with "/" are accepted; here any client id can read any inbox (see the wildcard checks), so "/" adds nothing`,
        WHY,
        FIX,
        'low',
      );
    }
    return result(
      'leak',
      `client id "<victim id>${after}" was accepted and read ${ctx.describeCanaries(attempt.leaked, attempt.inbox)} without disconnecting the victim`,
      WHY,
      FIX,
    );
  }
  if (await idReplacedByUsername(ctx, `${randomClientId()}/b`)) return replacedResult('client id "a/b"');
  const replaced = ctx.attackerCredentials.username !== undefined ? ID_REPLACED : '';
  return result(
    'info',
    `client ids with "/" are accepted; "<victim id>${after}" could not read the victim's inbox with this ACL${replaced}`,
    WHY,
    FIX,
    'low',
  );
}

/** A 200-character id: legal in MQTT 3.1.1 if the server allows it, useless to an honest client. */
async function longId(ctx: CheckContext): Promise<CheckResult> {
  const id = 'a'.repeat(178) + randomClientId();
  const outcome = await ctx.connect(ctx.attacker(id));
  if (outcome.kind === 'failed') throw new Inconclusive(describeOutcome(outcome));
  if (outcome.kind !== 'accepted')
    return result('pass', `a 200-character client id was ${describeOutcome(outcome)}`, WHY, FIX);
  await outcome.connection.end();
  if (await idReplacedByUsername(ctx, id)) return replacedResult('a 200-character client id');
  return result('info', 'a 200-character client id was accepted', WHY, FIX, 'low');
}

export const clientIdChecks: AttackCheck[] = [
  {
    id: 'client-id-plus',
    title: 'client id "+" gives no wildcard access',
    run: (ctx) => wildcardId(ctx, '+'),
  },
  {
    id: 'client-id-hash',
    title: 'client id "#" gives no wildcard access',
    run: (ctx) => wildcardId(ctx, '#'),
  },
  { id: 'client-id-slash', title: 'a client id with "/" cannot reach another inbox', run: slashId },
  { id: 'client-id-long', standalone: true, title: 'a 200-character client id', run: longId },
];
