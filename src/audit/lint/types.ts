// Shared vocabulary of the static lints (`hush audit --acl-file` / `--mosquitto-conf`): one finding names a
// file and line, how bad it is, what is wrong in plain words, and the concrete change that fixes it.
// Severities match the attack suite's (src/audit/types.ts) so both outputs read alike.

/** How bad a finding is; critical, high and medium count as dangerous (exit code 1). */
export type LintSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** One problem found in an aclfile or a mosquitto.conf (or a file it names). */
export interface LintFinding {
  /** Stable rule id, e.g. 'acl-everyone-reads-wildcard'; documented in src/audit/lint/index.ts. */
  id: string;
  /** The file the finding is about, as the user named it (or as the config named it). */
  file: string;
  /** 1-based line in `file`, or undefined for findings about the whole file. */
  line: number | undefined;
  severity: LintSeverity;
  /** What is wrong and why it matters, in plain words. */
  message: string;
  /** The concrete change that fixes it (a config or aclfile line, a command). */
  fix: string;
}

/** Severities from worst to mildest; findings are reported in this order of importance. */
export const LINT_SEVERITIES: readonly LintSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

/** Severities that make a lint fail: rules that leak, allow takeover, or weaken the broker. */
export const DANGEROUS_SEVERITIES: ReadonlySet<LintSeverity> = new Set(['critical', 'high', 'medium']);
