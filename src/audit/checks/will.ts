/**
 * A will aimed at the victim's inbox. A will is a publish the broker makes on the client's behalf when
 * the connection drops; it must pass the same WRITE check as a publish, and a retained will must not
 * leave a retained message where retained publishes are refused. Writing to an inbox is open by design
 * (anyone may message anyone), so a delivered will is only a finding when a plain publish was not.
 */
import { fingerprint } from '../canary.ts';
import { describeOutcome, result, type CheckContext } from '../context.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const WHY =
  'Wills are published by the broker itself; a broker that skips the WRITE check for them lets a client write where it may not publish, and a retained will plants a lasting message on the inbox.';
const FIX =
  "Check WRITE for wills as for publishes (Mosquitto and Hush do) and refuse retained messages on inboxes: `retain_available false` (Mosquitto) or Hush broker --no-retain. Clients must authenticate what arrives in an inbox (Hush does; the seed's CryptoJS messages are not authenticated).";

async function willToInbox(ctx: CheckContext): Promise<CheckResult> {
  const victim = await ctx.listeningVictim();
  const inbox = victim.identity.inbox;
  const matches = (canary: string) => (m: { payload: Buffer }) => m.payload.toString() === canary;

  // First a plain publish: tells whether this attacker may write to the inbox at all.
  const writer = await ctx.mustConnect('attacker', ctx.attacker());
  const plain = ctx.canary();
  await writer.publish(inbox, plain, { qos: 1 });
  const writeOpen = (await victim.connection.waitForMessage(matches(plain), ctx.settleMs * 2)) !== undefined;
  await writer.end();

  const canary = ctx.canary();
  const withWill = (retain: boolean) =>
    ctx.attacker(undefined, { will: { topic: inbox, payload: canary, qos: 1, retain } });
  ctx.defer(() => ctx.clearRetained(inbox, ctx.attacker()));
  // Mosquitto with retain_available false refuses a CONNECT whose will is retained; then try a plain will.
  const first = await ctx.connect(withWill(true));
  const retainedWillRefused = first.kind === 'refused' || first.kind === 'closed';
  const attacker =
    first.kind === 'accepted' ? first.connection : await ctx.mustConnect('attacker', withWill(false));
  const refusedNote = retainedWillRefused
    ? `; the broker refused a CONNECT carrying a retained will (${describeOutcome(first)})`
    : '';
  attacker.drop();
  const live = await victim.connection.waitForMessage(matches(canary), Math.max(ctx.settleMs * 3, 1500));
  // A new subscription is sent the retained message, if the will left one.
  const before = victim.connection.messages.length;
  await victim.connection.subscribe(inbox);
  const retained = await victim.connection.waitForMessage(
    (m) => m.retain && m.payload.toString() === canary && victim.connection.messages.indexOf(m) >= before,
    ctx.settleMs * 2,
  );
  ctx.requireAlive(victim.connection, 'victim');
  const fp = `#${fingerprint(canary)}`;
  if (live && !writeOpen) {
    return result(
      'weakness',
      `the will ${fp} reached the victim's inbox although a plain publish from the same credentials did not: wills bypass the WRITE check`,
      WHY,
      FIX,
      'high',
    );
  }
  if (retained) {
    return result(
      'weakness',
      `a will with the retain flag left a retained message ${fp} on the victim's inbox`,
      WHY,
      FIX,
      'medium',
    );
  }
  if (live) {
    return result(
      'info',
      `the will ${fp} was delivered to the victim's inbox, as a plain publish is (inboxes are writable by everyone); it was not retained${refusedNote}`,
      WHY,
      FIX,
    );
  }
  return result(
    'pass',
    `no will reached the victim's inbox (a plain publish ${writeOpen ? 'did' : 'did not either'})${refusedNote}`,
    WHY,
    FIX,
  );
}

export const willChecks: AttackCheck[] = [
  { id: 'will-inbox', title: "a will aimed at the victim's inbox", run: willToInbox },
];
