/**
 * What `hush audit` prints: one stable JSON document (schema "hush-audit/1", documented in
 * docs/AUDIT.md) and a human table rendered from the same data, so the two can never disagree.
 */
import { summarizeFindings } from './suite.ts';
import type { Finding } from './types.ts';

export const AUDIT_SCHEMA = 'hush-audit/1';

/** The --json document. Field names are part of the interface: add fields, never rename them. */
export interface AuditReport {
  schema: typeof AUDIT_SCHEMA;
  target: { url: string; username: string | null; victim_username: string | null; inbox: string };
  started_at: string;
  duration_ms: number;
  summary: { leaks: number; weaknesses: number; inconclusive: number; exit_code: 0 | 1 | 2; verdict: string };
  findings: Finding[];
}

const VERDICT_WORDS = {
  0: 'nothing leaked',
  1: 'leak or weakness found',
  2: 'could not prove anything: some checks could not be carried out',
} as const;

/** Builds the report document from the findings of one run. */
export function buildAuditReport(
  target: { url: string; username?: string; victimUsername?: string; inbox: string },
  findings: Finding[],
  startedAt: Date,
  durationMs: number,
): AuditReport {
  const summary = summarizeFindings(findings);
  return {
    schema: AUDIT_SCHEMA,
    target: {
      url: target.url,
      username: target.username ?? null,
      victim_username: target.victimUsername ?? null,
      inbox: target.inbox,
    },
    started_at: startedAt.toISOString(),
    duration_ms: Math.round(durationMs),
    summary: {
      leaks: summary.leaks,
      weaknesses: summary.weaknesses,
      inconclusive: summary.inconclusive,
      exit_code: summary.exitCode,
      verdict: VERDICT_WORDS[summary.exitCode],
    },
    findings,
  };
}

const MARK: Record<Finding['verdict'], string> = {
  pass: 'PASS',
  leak: 'LEAK',
  weakness: 'WEAK',
  inconclusive: '????',
  info: 'info',
};

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** Renders the report as a table plus, for every finding that is not a pass, what was seen and the fix. */
export function formatAuditReport(report: AuditReport): string {
  const idWidth = Math.max(...report.findings.map((f) => f.id.length), 5);
  const out: string[] = [];
  out.push(`hush audit of ${report.target.url} (inbox ${report.target.inbox})`, '');
  out.push(`${'RESULT'.padEnd(6)}  ${'SEVERITY'.padEnd(8)}  ${'CHECK'.padEnd(idWidth)}  WHAT WAS SEEN`);
  for (const f of report.findings) {
    const severity = f.verdict === 'pass' ? '' : f.severity;
    const observed = f.observed.length > 90 ? `${f.observed.slice(0, 87)}...` : f.observed;
    out.push(`${MARK[f.verdict].padEnd(6)}  ${severity.padEnd(8)}  ${f.id.padEnd(idWidth)}  ${observed}`);
  }
  const problems = report.findings.filter(
    (f) => f.verdict === 'leak' || f.verdict === 'weakness' || f.verdict === 'inconclusive',
  );
  for (const f of problems) {
    out.push('', `${MARK[f.verdict]} ${f.id}: ${f.title}`);
    out.push(wrap(`seen: ${f.observed}`, 100, '  '));
    out.push(wrap(`why: ${f.why}`, 100, '  '));
    out.push(wrap(`fix: ${f.fix}`, 100, '  '));
  }
  const s = report.summary;
  out.push(
    '',
    `${s.leaks} leak(s), ${s.weaknesses} weakness(es), ${s.inconclusive} inconclusive in ${(report.duration_ms / 1000).toFixed(1)} s: ${s.verdict} (exit ${s.exit_code})`,
  );
  return out.join('\n') + '\n';
}
