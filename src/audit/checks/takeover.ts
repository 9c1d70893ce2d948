/**
 * Same-id takeover, the seed's known gap: MQTT lets a second CONNECT with an existing client id replace
 * the first, and with clean=false it inherits the session and its queued messages. An impostor holds
 * only the attacker's credentials and the victim's client id; a broker stops it by deriving the id from
 * the authenticated username (use_username_as_clientid) or by refusing the CONNECT.
 */
import { fingerprint } from '../canary.ts';
import { Inconclusive, describeOutcome, result, type CheckContext } from '../context.ts';
import { sleep } from '../connection.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  "Whoever learns a client id (a shared link, a log, a screen) can connect with it and receive that client's messages; when ids are the only secret, knowing an id is reading its inbox.";
const FIX =
  'Bind the client id to a secret: a password file with one account per device and `use_username_as_clientid true` under every listener (Mosquitto), or a Hush broker with --password-file. Anonymous seed mode can only use a separate random id per chat and keep it secret.';

function sameAccount(ctx: CheckContext): void {
  if (ctx.sameAccountGiven) {
    throw new Inconclusive(
      'attacker and victim were given the same account: an impostor cannot be told from the owner; give the victim its own account',
    );
  }
}

/** A live victim; an impostor connects with its id (clean session) and subscribes to its inbox. */
async function takeoverClean(ctx: CheckContext): Promise<CheckResult> {
  sameAccount(ctx);
  const victim = await ctx.listeningVictim();
  // Control first: the victim can receive on its inbox, so an impostor reading nothing means something.
  await ctx.deliverCanary(victim, ctx.canary());
  const outcome = await ctx.connect(ctx.attacker(victim.identity.clientId));
  if (outcome.kind === 'failed') throw new Inconclusive(`impostor: ${describeOutcome(outcome)}`);
  if (outcome.kind !== 'accepted') {
    const kicked = victim.connection.droppedByBroker ? ', yet the victim was disconnected' : '';
    return result(
      kicked ? 'weakness' : 'pass',
      `the impostor was ${describeOutcome(outcome)}${kicked}`,
      WHY,
      FIX,
      kicked ? 'high' : undefined,
    );
  }
  const impostor = outcome.connection;
  const kicked = await victim.connection.waitClosed(ctx.settleMs);
  const subscribed = await impostor.subscribe(victim.identity.inbox);
  const canary = ctx.canary();
  // Writing to an inbox is open to everyone; once the victim is gone the impostor itself can send.
  await (kicked ? impostor : victim.connection).publish(victim.identity.inbox, canary, { qos: 1 });
  const read = await impostor.waitForMessage(
    (m) => m.payload.toString() === canary,
    kicked ? ctx.timeoutMs : ctx.settleMs * 2,
  );
  if (read) {
    const how = kicked
      ? 'the victim was disconnected and the impostor'
      : 'the impostor (while the victim stayed connected)';
    return result(
      'leak',
      `accepted with the victim's client id; ${how} read canary #${fingerprint(canary)} from the victim's inbox`,
      WHY,
      FIX,
    );
  }
  if (kicked) {
    return result(
      'weakness',
      `accepted with the victim's client id and the victim was disconnected (denial of service); the impostor read nothing (SUBACK: ${subscribed})`,
      WHY,
      FIX,
      'high',
    );
  }
  const owner = await victim.connection.waitForMessage((m) => m.payload.toString() === canary, ctx.timeoutMs);
  if (!owner)
    throw new Inconclusive('control failed: the canary reached neither the impostor nor the victim');
  ctx.requireAlive(impostor, 'impostor');
  return result(
    'pass',
    `the impostor was accepted as a different client: the victim stayed connected and the impostor read nothing (SUBACK: ${subscribed})`,
    WHY,
    FIX,
  );
}

/** An offline victim with a persistent session and a queued message; the impostor resumes its id. */
async function takeoverPersistent(ctx: CheckContext): Promise<CheckResult> {
  sameAccount(ctx);
  const identity = ctx.newVictim();
  // Whatever happens below, leave no persistent session behind (ours or the impostor's).
  ctx.defer(() => wipeSession(ctx, ctx.asVictim(identity)));
  ctx.defer(() => wipeSession(ctx, ctx.attacker(identity.clientId)));

  const setup = await ctx.listeningVictim(identity, { clean: false });
  await setup.connection.end();
  const sender = await ctx.mustConnect('sender', ctx.attacker());
  const canary = ctx.canary();
  if ((await sender.publish(identity.inbox, canary, { qos: 1 })) !== 'acked') {
    throw new Inconclusive('the message for the offline victim was not acknowledged');
  }
  await sender.end();

  const outcome = await ctx.connect(ctx.attacker(identity.clientId, { clean: false }));
  if (outcome.kind === 'failed') throw new Inconclusive(`impostor: ${describeOutcome(outcome)}`);
  let impostorSaw = describeOutcome(outcome);
  if (outcome.kind === 'accepted') {
    const impostor = outcome.connection;
    // A resumed session delivers its queue right after CONNACK; without one there is nothing to wait for.
    const wait = impostor.sessionPresent ? ctx.timeoutMs : Math.max(ctx.settleMs * 2, 1000);
    const read = await impostor.waitForMessage((m) => m.payload.toString() === canary, wait);
    if (read) {
      return result(
        'leak',
        `the impostor resumed the victim's session (session present: ${impostor.sessionPresent}) and received the queued canary #${fingerprint(canary)}`,
        WHY,
        FIX,
      );
    }
    await impostor.end();
    impostorSaw = `accepted with session present = ${impostor.sessionPresent} and received nothing`;
  }
  // Control: the owner comes back and finds its message still queued.
  const owner = await ctx.mustConnect('victim', ctx.asVictim(identity, { clean: false }));
  const queued = await owner.waitForMessage((m) => m.payload.toString() === canary, ctx.timeoutMs);
  await owner.end();
  if (!queued) {
    if (outcome.kind !== 'accepted') {
      return result(
        'pass',
        `the impostor was ${impostorSaw} (the broker did not keep the offline message for the owner either)`,
        WHY,
        FIX,
      );
    }
    throw new Inconclusive(
      `the impostor was ${impostorSaw}, but the queued canary did not reach the owner either: the broker may not queue offline messages`,
    );
  }
  return result(
    'pass',
    `the impostor was ${impostorSaw}; the owner then received its queued message`,
    WHY,
    FIX,
  );
}

/** Connects with clean=true and leaves: the broker discards that id's persistent session. */
async function wipeSession(
  ctx: CheckContext,
  request: Parameters<CheckContext['connect']>[0],
): Promise<void> {
  const outcome = await ctx.connectUntracked({ ...request, clean: true });
  if (outcome.kind === 'accepted') {
    await sleep(50);
    await outcome.connection.end();
  }
}

export const takeoverChecks: AttackCheck[] = [
  {
    id: 'takeover-clean',
    title: "an impostor with the victim's client id cannot read its inbox",
    run: takeoverClean,
  },
  {
    id: 'takeover-persistent',
    title: "an impostor cannot resume the victim's persistent session and its queued messages",
    run: takeoverPersistent,
  },
];
