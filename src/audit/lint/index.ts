// Static lint behind `hush audit --acl-file FILE` and `hush audit --mosquitto-conf FILE`: explains dangerous
// aclfile rules and mosquitto.conf settings as `FILE:LINE: severity: message (fix: ...)`, and decides the exit
// code (1 when anything critical, high or medium was found). Rule ids, for --json consumers:
//   aclfile: acl-parse-error, acl-unreadable, acl-empty, acl-anonymous-reads-wildcard,
//     acl-everyone-reads-wildcard, acl-everyone-reads-topic, acl-user-reads-wildcard, acl-sys-readable,
//     acl-placeholder-not-whole-level, acl-placeholder-in-topic-rule, acl-spoofable-broadcast,
//     acl-broad-write, acl-readwrite-own-inbox, acl-pattern-in-user-block, acl-implicit-readwrite
//   mosquitto.conf: conf-parse-error, missing-file, unreadable-file, world-readable, relative-path,
//     anonymous-without-acl, no-acl-file, nobody-can-connect, client-id-not-bound, username-not-authenticated,
//     use-username-as-clientid-before-listener, default-listener-created, per-listener-setting-ignored,
//     security-option-applies-to-all-listeners, plain-listener, plain-listener-loopback, plain-websockets,
//     plain-websockets-loopback, tls-incomplete, unbounded-queue, no-message-size-limit,
//     size-limit-not-on-websockets, no-queued-bytes-limit, unbounded-inflight, no-connection-limit,
//     no-session-expiry, retained-inbox, include-dir-ignored, local-only

import { DANGEROUS_SEVERITIES, type LintFinding } from './types.ts';

export type { LintFinding, LintSeverity } from './types.ts';
export { DANGEROUS_SEVERITIES, LINT_SEVERITIES } from './types.ts';
export { lintAclFile, lintAclText } from './acl-lint.ts';
export { lintMosquittoConf, type MosquittoConfLintOptions } from './mosquitto-conf-lint.ts';

/** 1 when any finding is critical, high or medium ("dangerous rules"), else 0. */
export function lintExitCode(findings: readonly LintFinding[]): 0 | 1 {
  return findings.some((f) => DANGEROUS_SEVERITIES.has(f.severity)) ? 1 : 0;
}

/** One finding as a line: `FILE:LINE: severity: message (fix: ...)`; no `:LINE` for whole-file findings. */
export function formatLintLine(f: LintFinding): string {
  const where = f.line === undefined ? f.file : `${f.file}:${f.line}`;
  return `${where}: ${f.severity}: ${f.message} (fix: ${f.fix})`;
}
