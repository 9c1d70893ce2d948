/**
 * Authentication from outside: a wrong password must be refused, and a broker that has accounts must
 * not also let in clients without one. Without any credentials given (anonymous seed mode) an open door
 * is how the deployment works, so it is reported as information, not as a weakness.
 */
import { randomClientId } from '../canary.ts';
import { Inconclusive, describeOutcome, result, type CheckContext } from '../context.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const PASSWORD_WHY =
  'A broker that does not check passwords lets anyone act as any account, and with use_username_as_clientid as any device.';
const PASSWORD_FIX =
  'Configure a password file (`password_file` in mosquitto.conf, or Hush broker --password-file) and keep `allow_anonymous false`.';
const ANON_WHY =
  'Accounts only protect anything if a client without one is refused; otherwise the outsider simply connects anonymously.';
const ANON_FIX =
  '`allow_anonymous false` in mosquitto.conf (per listener with per_listener_settings); Hush broker refuses anonymous clients when it has a password file.';

/** A known username with a wrong password; without one, a made-up username and password. */
async function wrongPassword(ctx: CheckContext): Promise<CheckResult> {
  const known =
    ctx.attackerCredentials.username ?? (ctx.victimHasAccount ? ctx.newVictim().username : undefined);
  const username = known ?? `hush-audit-${randomClientId()}`;
  const outcome = await ctx.connect({ clientId: randomClientId(), username, password: randomClientId() });
  if (outcome.kind === 'failed') throw new Inconclusive(describeOutcome(outcome));
  if (outcome.kind !== 'accepted')
    return result('pass', `a wrong password was ${describeOutcome(outcome)}`, PASSWORD_WHY, PASSWORD_FIX);
  if (known !== undefined) {
    return result(
      'weakness',
      `user "${known}" connected with a wrong password`,
      PASSWORD_WHY,
      PASSWORD_FIX,
      'critical',
    );
  }
  return result(
    'info',
    'a made-up username and password were accepted: this broker checks no passwords (see anonymous access)',
    PASSWORD_WHY,
    PASSWORD_FIX,
  );
}

/** A CONNECT with no username at all. */
async function anonymous(ctx: CheckContext): Promise<CheckResult> {
  const outcome = await ctx.connect({ clientId: randomClientId() });
  if (outcome.kind === 'failed') throw new Inconclusive(describeOutcome(outcome));
  if (outcome.kind !== 'accepted')
    return result('pass', `a client without username was ${describeOutcome(outcome)}`, ANON_WHY, ANON_FIX);
  if (ctx.usesAccounts) {
    return result(
      'weakness',
      'a client without username was accepted although this deployment uses accounts',
      ANON_WHY,
      ANON_FIX,
      'high',
    );
  }
  return result(
    'info',
    'a client without username was accepted: anonymous (seed) mode, where client ids are the only secret (see the takeover checks)',
    ANON_WHY,
    ANON_FIX,
  );
}

export const authChecks: AttackCheck[] = [
  { id: 'auth-wrong-password', standalone: true, title: 'a wrong password is refused', run: wrongPassword },
  { id: 'auth-anonymous', standalone: true, title: 'clients without an account are refused', run: anonymous },
];
