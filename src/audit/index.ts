/**
 * src/audit: prove from outside that an MQTT broker does not leak. The attack suite connects as an
 * outsider holding only what a web page holds, creates its own canary traffic and reports one finding per
 * named check; `hush audit` (src/cli) renders them. See suite.ts for the order and concurrency of checks.
 */
export { runAttackSuite, attackChecks, summarizeFindings, type SuiteOptions } from './suite.ts';
export type { AuditTarget, Credentials, Finding, Verdict, Severity, AttackCheck } from './types.ts';
export { fingerprint } from './canary.ts';
export { runPassiveListen, topicShape } from './passive.ts';
export { buildAuditReport, formatAuditReport, AUDIT_SCHEMA, type AuditReport } from './report.ts';
