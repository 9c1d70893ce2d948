/**
 * The outsider attack suite: every named check run against one broker, each bounded by a deadline and
 * closed behind itself, results in a fixed order. Checks run concurrently when every role connects
 * anonymously with its own random id; with accounts they run one at a time, because a broker with
 * use_username_as_clientid gives all connections of one account the same id and they would kick each other.
 */
import { randomClientId } from './canary.ts';
import { openConnectionPatiently } from './connection.ts';
import { CheckContext, Inconclusive, describeOutcome, type RunState } from './context.ts';
import { authChecks } from './checks/auth.ts';
import { plaintextChecks } from './checks/plaintext.ts';
import { publishChecks } from './checks/publish.ts';
import { resourceChecks } from './checks/resources.ts';
import { clientIdChecks } from './checks/client-ids.ts';
import { retainedChecks } from './checks/retained.ts';
import { shareChecks } from './checks/share.ts';
import { sysChecks } from './checks/sys.ts';
import { takeoverChecks } from './checks/takeover.ts';
import { transportChecks } from './checks/transport.ts';
import { willChecks } from './checks/will.ts';
import { wildcardChecks } from './checks/wildcards.ts';
import { resolveTarget } from './target.ts';
import type { AttackCheck, AuditTarget, Finding } from './types.ts';

/** How many checks run at once in anonymous mode: enough to be quick, few enough for per-address connect limits. */
const CONCURRENCY = 4;

const INCONCLUSIVE_WHY = 'This check could not be carried out, so it proves nothing either way.';
const INCONCLUSIVE_FIX = 'Remove what stopped it (see observed) and run the audit again.';

/** Options beyond the target. */
export interface SuiteOptions {
  /** Run only these check ids (default: all). */
  only?: readonly string[];
  /** false skips the resource checks (which send a bounded load: see src/audit/checks/resources.ts). */
  resourceChecks?: boolean;
}

/** Every check of the suite, in report order, with filters derived from the inbox pattern. */
export function attackChecks(inboxPattern = 'chats/%c/messages', withResources = true): AttackCheck[] {
  return [
    ...transportChecks,
    ...plaintextChecks,
    ...authChecks,
    ...wildcardChecks(inboxPattern),
    ...sysChecks,
    ...clientIdChecks,
    ...takeoverChecks,
    ...retainedChecks,
    ...willChecks,
    ...shareChecks,
    ...publishChecks,
    ...(withResources ? resourceChecks : []),
  ];
}

function inconclusive(check: AttackCheck, observed: string): Finding {
  return {
    id: check.id,
    title: check.title,
    verdict: 'inconclusive',
    severity: 'info',
    observed,
    why: INCONCLUSIVE_WHY,
    fix: INCONCLUSIVE_FIX,
  };
}

/** Runs one check with a deadline; whatever happens, its connections are closed and clean-ups run. */
async function runCheck(run: RunState, check: AttackCheck): Promise<Finding> {
  const ctx = new CheckContext(run, check.id);
  const deadlineMs = check.deadlineMs?.(run.target.timeoutMs) ?? run.target.timeoutMs * 4;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Inconclusive(`the check did not finish within ${deadlineMs} ms`)),
      deadlineMs,
    );
  });
  try {
    const running = check.run(ctx);
    // After a timeout the check may still fail on its closed connections; nobody awaits it then.
    running.catch(() => undefined);
    const outcome = await Promise.race([running, deadline]);
    return { id: check.id, title: check.title, ...outcome };
  } catch (error) {
    const message =
      error instanceof Inconclusive ? error.message : `the check failed: ${(error as Error).message}`;
    return inconclusive(check, message);
  } finally {
    clearTimeout(timer);
    await Promise.race([
      ctx.close(),
      new Promise((resolve) => setTimeout(resolve, run.target.timeoutMs * 2).unref()),
    ]);
  }
}

/** Sets up one victim and checks it receives its own canary; returns why not, or undefined. */
async function probeVictim(run: RunState): Promise<string | undefined> {
  const ctx = new CheckContext(run, 'preflight');
  try {
    const victim = await ctx.listeningVictim();
    await ctx.deliverCanary(victim, ctx.canary());
    return undefined;
  } catch (error) {
    return error instanceof Inconclusive
      ? error.message
      : `the victim could not be set up: ${(error as Error).message}`;
  } finally {
    await ctx.close();
  }
}

/**
 * Runs the attack suite against target and returns one finding per check, in attackChecks() order.
 * Throws only for an invalid target; an unreachable broker yields inconclusive findings.
 */
export async function runAttackSuite(
  target: AuditTarget,
  onProgress?: (checkId: string, finding?: Finding) => void,
  options: SuiteOptions = {},
): Promise<Finding[]> {
  const resolved = resolveTarget(target);
  let checks = attackChecks(resolved.inboxPattern, options.resourceChecks !== false);
  if (options.only) {
    const unknown = options.only.filter(
      (id) => !attackChecks(resolved.inboxPattern).some((c) => c.id === id),
    );
    if (unknown.length > 0) throw new Error(`audit: unknown check id(s): ${unknown.join(', ')}`);
    checks = checks.filter((c) => options.only!.includes(c.id));
  }
  const settings = {
    url: resolved.url,
    ca: resolved.ca,
    insecure: resolved.insecure,
    timeoutMs: resolved.timeoutMs,
  };

  // Preflight: the attacker must get in at all, and its connect time sets how long "nothing came" waits.
  const started = performance.now();
  const preflight = await openConnectionPatiently(settings, {
    ...resolved.attacker,
    clientId: randomClientId(),
  });
  const connectMs = performance.now() - started;
  if (preflight.kind !== 'accepted') {
    const reason = `not run: the attacker could not connect to ${resolved.url}: ${describeOutcome(preflight)}`;
    return checks.map((check) => {
      onProgress?.(check.id);
      const finding = inconclusive(check, reason);
      onProgress?.(check.id, finding);
      return finding;
    });
  }
  await preflight.connection.end();
  const run: RunState = {
    target: resolved,
    settings,
    settleMs: Math.min(2000, Math.max(300, Math.round(connectMs * 4))),
    victimIds: new Set(),
  };

  // Preflight: a victim must receive a canary on its own inbox, or every victim-based check would wait
  // out its timeouts only to end inconclusive (typically: attacker and victim share one account).
  const victimProblem = await probeVictim(run);

  const anonymousOnly = resolved.attacker.username === undefined && resolved.victim.username === undefined;
  const findings = new Map<string, Finding>();
  const queue = [...checks];
  const worker = async () => {
    for (let check = queue.shift(); check; check = queue.shift()) {
      onProgress?.(check.id);
      const finding =
        victimProblem && !check.standalone
          ? inconclusive(check, `not run: ${victimProblem}`)
          : await runCheck(run, check);
      findings.set(check.id, finding);
      onProgress?.(check.id, finding);
    }
  };
  await Promise.all(Array.from({ length: anonymousOnly ? CONCURRENCY : 1 }, worker));
  return checks.map((check) => findings.get(check.id)!);
}

/** Counts per verdict and the exit code `hush audit` uses: 1 leak or weakness, else 2 if inconclusive, else 0. */
export function summarizeFindings(findings: readonly Finding[]): {
  leaks: number;
  weaknesses: number;
  inconclusive: number;
  exitCode: 0 | 1 | 2;
} {
  const count = (verdict: Finding['verdict']) => findings.filter((f) => f.verdict === verdict).length;
  const leaks = count('leak');
  const weaknesses = count('weakness');
  const undecided = count('inconclusive');
  const exitCode = leaks + weaknesses > 0 ? 1 : undecided > 0 ? 2 : 0;
  return { leaks, weaknesses, inconclusive: undecided, exitCode };
}
