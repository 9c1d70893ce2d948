/** Judges a fuzz session: what must hold afterwards, as sentences naming what failed. */
import type { FuzzSessionResult } from './session.ts';

/** The problems with a session's result (empty when it passed), given the RSS ceiling in MiB. */
export function fuzzProblems(result: FuzzSessionResult, rssLimitMiB: number): string[] {
  const problems: string[] = [];
  const where = `${result.setup} broker, seed ${result.figures.seed}`;
  if (!result.brokerAlive || result.figures.stoppedBy === 'broker-exit')
    problems.push(
      `${where}: the broker process died (connections up to index ${result.figures.lastIndex}); its output ends:\n${result.brokerLogTail}`,
    );
  if (!result.servesAfter)
    problems.push(`${where}: a new client could not connect and get its message after the run`);
  if (result.rssMiB.max > rssLimitMiB)
    problems.push(
      `${where}: broker RSS reached ${result.rssMiB.max.toFixed(0)} MiB, over the ${rssLimitMiB} MiB bound`,
    );
  for (const c of result.canaries) {
    if (c.sent === 0) problems.push(`${where}: canary ${c.name} sent nothing`);
    if (c.received !== c.sent || c.duplicates > 0 || c.disconnects > 0)
      problems.push(
        `${where}: canary ${c.name} sent ${c.sent}, received ${c.received} (missing ${c.missing.join(',') || 'none'}), ` +
          `${c.duplicates} duplicates, ${c.disconnects} disconnects${c.errors.length ? `, errors: ${c.errors.join('; ')}` : ''}`,
      );
  }
  if (result.brokerErrorLines.length > 0)
    problems.push(`${where}: the broker logged errors:\n${result.brokerErrorLines.slice(0, 5).join('\n')}`);
  return problems;
}
