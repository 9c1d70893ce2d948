/**
 * `hush audit`: prove from outside that a broker does not leak (attack suite, optional passive listen),
 * or lint an aclfile / mosquitto.conf statically. Exit 0 = nothing leaked, 1 = leak or weakness (or a
 * dangerous rule), 2 = could not run.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  buildAuditReport,
  formatAuditReport,
  runAttackSuite,
  runPassiveListen,
  summarizeFindings,
  type AuditTarget,
  type Finding,
} from '../../audit/index.ts';
import type { LintFinding } from '../../audit/lint/index.ts';
import { parseCount, parsePort } from '../shared/options.ts';
import { UserError } from '../shared/errors.ts';

interface AuditFlags {
  username?: string;
  password?: string;
  victimUsername?: string;
  victimPassword?: string;
  inbox: string;
  ca?: string;
  insecure: boolean;
  json: boolean;
  listen?: number;
  timeout: number;
  plainPort?: number[];
  only?: string;
  /** Commander's --no-resource-checks. */
  resourceChecks: boolean;
  aclFile?: string;
  mosquittoConf?: string;
}

const collectPort = (value: string, previous: number[] = []) => [...previous, parsePort(value)];

async function runLint(flags: AuditFlags): Promise<void> {
  // Loaded on demand: every other hush command starts without it.
  const { formatLintLine, lintAclFile, lintExitCode, lintMosquittoConf } =
    await import('../../audit/lint/index.ts');
  const findings: LintFinding[] = [];
  try {
    if (flags.aclFile) findings.push(...(await lintAclFile(flags.aclFile)));
    if (flags.mosquittoConf) findings.push(...(await lintMosquittoConf(flags.mosquittoConf)));
  } catch (error) {
    throw new UserError((error as Error).message, 2);
  }
  const exitCode = lintExitCode(findings);
  if (flags.json) {
    const files = [flags.aclFile, flags.mosquittoConf].filter((f) => f !== undefined);
    process.stdout.write(
      `${JSON.stringify({ schema: 'hush-lint/1', files, exit_code: exitCode, findings }, null, 2)}\n`,
    );
  } else {
    for (const finding of findings) process.stdout.write(`${formatLintLine(finding)}\n`);
    const dangerous = findings.filter((f) => ['critical', 'high', 'medium'].includes(f.severity)).length;
    process.stderr.write(
      findings.length === 0
        ? 'no findings\n'
        : `${findings.length} finding(s), ${dangerous} dangerous (critical, high or medium)\n`,
    );
  }
  process.exitCode = exitCode;
}

async function runAudit(url: string, flags: AuditFlags): Promise<void> {
  if ((flags.username === undefined) !== (flags.password === undefined)) {
    throw new UserError('--username and --password go together', 2);
  }
  if ((flags.victimUsername === undefined) !== (flags.victimPassword === undefined)) {
    throw new UserError('--victim-username and --victim-password go together', 2);
  }
  let ca: Buffer | undefined;
  if (flags.ca) {
    try {
      ca = await readFile(flags.ca);
    } catch (error) {
      throw new UserError(`cannot read --ca ${flags.ca}: ${(error as Error).message}`, 2);
    }
  }
  const target: AuditTarget = {
    url,
    attacker: flags.username !== undefined ? { username: flags.username, password: flags.password } : {},
    victim:
      flags.victimUsername !== undefined
        ? { username: flags.victimUsername, password: flags.victimPassword }
        : {},
    inboxPattern: flags.inbox,
    ca,
    insecure: flags.insecure,
    timeoutMs: flags.timeout,
    plainPorts: flags.plainPort,
  };
  const only = flags.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const startedAt = new Date();
  const started = performance.now();
  const progress = (checkId: string, finding?: Finding) => {
    if (finding) process.stderr.write(`  ${finding.verdict.padEnd(12)} ${checkId}\n`);
  };
  process.stderr.write(`auditing ${url} ...\n`);
  let findings: Finding[];
  try {
    findings = await runAttackSuite(target, progress, {
      only,
      resourceChecks: flags.resourceChecks,
    });
    if (flags.listen !== undefined && flags.listen > 0) {
      process.stderr.write(`  listening on # for ${flags.listen} s ...\n`);
      const passive = await runPassiveListen(target, flags.listen);
      progress(passive.id, passive);
      findings.push(passive);
    }
  } catch (error) {
    throw new UserError((error as Error).message.replace(/^audit: /, ''), 2);
  }
  const report = buildAuditReport(
    { url, username: flags.username, victimUsername: flags.victimUsername, inbox: flags.inbox },
    findings,
    startedAt,
    performance.now() - started,
  );
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatAuditReport(report));
  const summary = summarizeFindings(findings);
  if (summary.exitCode === 2 && findings.every((f) => f.verdict === 'inconclusive' || f.verdict === 'info')) {
    const reason = findings.find((f) => f.verdict === 'inconclusive')?.observed ?? 'unknown';
    process.stderr.write(`hush: audit could not run: ${reason}\n`);
  }
  process.exitCode = summary.exitCode;
}

/** Registers `hush audit`. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('prove a broker does not leak (URL), or lint an aclfile / mosquitto.conf')
    .argument(
      '[url]',
      'broker URL: mqtt://, mqtts://, ws:// or wss:// (WebSocket URLs keep their path, e.g. /mqtt)',
    )
    .option('--username <user>', 'what the web page holds: shared username')
    .option('--password <password>', 'password for --username')
    .option('--victim-username <user>', 'a second account to play the victim')
    .option('--victim-password <password>', 'password for --victim-username')
    .option('--inbox <pattern>', 'where inboxes live; %c = client id', 'chats/%c/messages')
    .option('--ca <file>', 'trust this CA certificate (PEM) for mqtts:// and wss://')
    .option('--insecure', 'do not verify the TLS certificate (the transport check still reports it)', false)
    .option('--listen <seconds>', 'also watch real traffic on # for this many seconds', parseCount)
    .option('--timeout <ms>', 'bound on each step of a check', parseCount, 5000)
    .option(
      '--plain-port <port>',
      "for TLS targets: probe this port of the target's host for a plain MQTT listener (repeatable; none by default)",
      collectPort,
    )
    .option(
      '--no-resource-checks',
      'skip the resource checks (one 1 MiB message, 1,200 × 1 KiB queued, 64 MiB to a stalled reader)',
    )
    .option('--only <ids>', 'run only these comma-separated check ids')
    .option('--acl-file <file>', 'lint a Mosquitto aclfile instead of attacking a broker')
    .option('--mosquitto-conf <file>', 'lint a mosquitto.conf and the files it names')
    .option('--json', 'print one JSON document on stdout (see docs/AUDIT.md)', false)
    .addHelpText(
      'after',
      '\nExit status: 0 nothing leaked, 1 leak or weakness (lint: a dangerous rule), 2 could not run.\n',
    )
    .action(async (url: string | undefined, flags: AuditFlags) => {
      if (flags.aclFile || flags.mosquittoConf) {
        if (url) throw new UserError('give either a broker URL or --acl-file/--mosquitto-conf, not both', 2);
        return runLint(flags);
      }
      if (!url)
        throw new UserError(
          'give a broker URL (e.g. mqtt://127.0.0.1:1883) or --acl-file/--mosquitto-conf',
          2,
        );
      return runAudit(url, flags);
    });
}
