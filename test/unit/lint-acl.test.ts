// Unit tests for the aclfile lint (src/audit/lint/acl-lint.ts): which rules are dangerous and for whom,
// which are expected (the seed's inbox rules), and that every finding names the right line.

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatLintLine,
  lintAclFile,
  lintAclText,
  lintExitCode,
  type LintFinding,
} from '../../src/audit/lint/index.ts';

const FILE = '/etc/mosquitto/aclfile';
const lint = (text: string) => lintAclText(text, FILE);
const summary = (findings: LintFinding[]) => findings.map((f) => `${f.line} ${f.severity} ${f.id}`);
const dangerous = (findings: LintFinding[]) =>
  findings.filter((f) => f.severity === 'critical' || f.severity === 'high' || f.severity === 'medium');

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

describe('aclfile lint: the inbox rules Hush relies on', () => {
  it("finds nothing at all in the seed's two inbox patterns", () => {
    expect(lint(SEED_ACL)).toEqual([]);
    expect(lintExitCode(lint(SEED_ACL))).toBe(0);
  });

  it("finds nothing in DESIGN.md's ACL written with a leading slash and comments", () => {
    const text =
      '# Hush inboxes\n\npattern read /chats/%c/messages\n# anyone may deliver\npattern write /chats/+/messages\n';
    expect(lint(text)).toEqual([]);
  });

  it('accepts a pattern write without %c, like the inbox rule, on its own', () => {
    expect(lint('pattern write chats/+/messages\n')).toEqual([]);
  });

  it('accepts owned patterns with %u and with %c followed by a wildcard', () => {
    expect(lint('pattern read users/%u/#\npattern read devices/%c/+\n')).toEqual([]);
  });
});

describe('aclfile lint: reads that leak', () => {
  it('flags `topic read #` before the first user line as critical, because it is the anonymous list', () => {
    const findings = lint('topic read #\nuser alice\ntopic read alice/#\n');
    expect(summary(findings)).toEqual(['1 critical acl-anonymous-reads-wildcard']);
    expect(findings[0]?.message).toContain('before the first `user` line');
    expect(findings[0]?.fix).toContain('pattern read chats/%c/messages');
  });

  it.each(['#', '+/#', '+/+/+', 'chats/#', 'chats/+/messages'])(
    'flags `pattern read %s` as critical: every client reads it',
    (topic) => {
      expect(summary(lint(`pattern read ${topic}\n`))).toEqual(['1 critical acl-everyone-reads-wildcard']);
    },
  );

  it('flags a readwrite pattern on a wildcard as critical too', () => {
    expect(summary(lint('pattern readwrite chats/#\n'))).toEqual(['1 critical acl-everyone-reads-wildcard']);
  });

  it('flags a pattern reading one fixed topic without %c or %u as high: the topic is the same for everyone', () => {
    const findings = lint('pattern read announcements\n');
    expect(summary(findings)).toEqual(['1 high acl-everyone-reads-topic']);
    expect(lintExitCode(findings)).toBe(1);
  });

  it("flags a user's read on another namespace as high but not a read of the user's own subtree", () => {
    const text = 'user alice\ntopic read chats/#\ntopic read chats/alice/#\nuser monitor\ntopic read #\n';
    expect(summary(lint(text))).toEqual(['2 high acl-user-reads-wildcard', '5 high acl-user-reads-wildcard']);
  });

  it('lets anonymous clients read a single public topic without a finding', () => {
    expect(lint('topic read public/news\n')).toEqual([]);
  });

  it('flags $SYS reads for anonymous clients and for everyone as a medium information leak', () => {
    const findings = lint(
      'topic read $SYS/#\npattern read $SYS/broker/clients/+\nuser ops\ntopic read $SYS/#\n',
    );
    expect(summary(findings)).toEqual(['1 medium acl-sys-readable', '2 medium acl-sys-readable']);
  });

  it('ignores deny rules, which only take access away', () => {
    expect(lint('topic deny #\npattern deny chats/#\n')).toEqual([]);
  });
});

describe('aclfile lint: placeholders', () => {
  it.each(['chats/x%c/messages', 'chats/%c-in', 'inbox/%u.%c'])(
    'flags %s because %%c/%%u are not a whole level (medium)',
    (topic) => {
      const findings = lint(`pattern read ${topic}\n`);
      expect(summary(findings)).toEqual(['1 medium acl-placeholder-not-whole-level']);
      expect(findings[0]?.message).toContain('Mosquitto 2.1');
    },
  );

  it('flags %c in a topic rule, where Mosquitto does not substitute it', () => {
    const findings = lint('user alice\ntopic read chats/%c/messages\n');
    expect(summary(findings)).toEqual(['2 medium acl-placeholder-in-topic-rule']);
    expect(findings[0]?.fix).toBe(
      'write it as `pattern read chats/%c/messages` (patterns apply to every client)',
    );
  });
});

describe('aclfile lint: writes', () => {
  it('flags a public topic that anonymous clients may also write as a spoofable broadcast (medium)', () => {
    const findings = lint('topic read news\ntopic write news\n');
    expect(summary(findings)).toEqual(['2 medium acl-spoofable-broadcast']);
    expect(findings[0]?.message).toContain('line 1');
  });

  it('flags a readwrite pattern on one fixed topic both as readable by all and as forgeable', () => {
    expect(summary(lint('pattern readwrite lobby\n'))).toEqual([
      '1 high acl-everyone-reads-topic',
      '1 medium acl-spoofable-broadcast',
    ]);
  });

  it('does not call an inbox that everyone may write spoofable: only its owner reads it', () => {
    expect(lint('pattern read chats/%c/messages\ntopic write chats/+/messages\n')).toEqual([]);
  });

  it('lets one account write a public topic without a spoofing finding', () => {
    expect(summary(lint('topic read news\nuser editor\ntopic write news\n'))).toEqual([]);
  });

  it('notes an anonymous write on # as low: any topic of any application can be written', () => {
    expect(summary(lint('topic write #\n'))).toEqual(['1 low acl-broad-write']);
  });

  it('notes readwrite on an inbox that others write as low: read suffices', () => {
    const findings = lint('pattern readwrite chats/%c/messages\npattern write chats/+/messages\n');
    expect(summary(findings)).toEqual(['1 low acl-readwrite-own-inbox']);
    expect(findings[0]?.fix).toBe('`pattern read chats/%c/messages`');
    expect(lintExitCode(findings)).toBe(0);
  });

  it('notes a rule without an access word, which Mosquitto makes readwrite', () => {
    expect(summary(lint('user alice\ntopic alice/notes\n'))).toEqual(['2 low acl-implicit-readwrite']);
  });

  it('says so in the critical finding when a broad read came from a missing access word', () => {
    const [finding] = lint('topic #\n');
    expect(finding?.id).toBe('acl-anonymous-reads-wildcard');
    expect(finding?.message).toContain('no access word');
  });
});

describe('aclfile lint: structure and line numbers', () => {
  it('notes a pattern written inside a user block, which still applies to everyone', () => {
    const findings = lint('user alice\ntopic read alice/x\npattern read chats/%c/messages\n');
    expect(summary(findings)).toEqual(['3 low acl-pattern-in-user-block']);
    expect(findings[0]?.message).toContain('user alice');
  });

  it('reports an empty aclfile as info: it denies everything', () => {
    const findings = lint('# nothing yet\n\n');
    expect(summary(findings)).toEqual(['undefined info acl-empty']);
    expect(lintExitCode(findings)).toBe(0);
  });

  it('turns a parse error into a critical finding with its line instead of throwing', () => {
    const findings = lint('pattern read chats/%c/messages\n  # indented comment\n');
    expect(summary(findings)).toEqual(['2 critical acl-parse-error']);
    expect(findings[0]?.file).toBe(FILE);
    expect(findings[0]?.message).toContain("unknown keyword '#'");
  });

  it('counts lines across comments and blank lines', () => {
    const text = '# header\n\npattern read chats/%c/messages\n\n# public\npattern read #\n';
    expect(summary(lint(text))).toEqual(['6 critical acl-everyone-reads-wildcard']);
  });

  it('sorts findings by line', () => {
    const lines = lint('pattern read b/#\ntopic read a/#\npattern read $SYS/#\n').map((f) => f.line);
    expect(lines).toEqual([1, 2, 3]);
  });
});

describe('aclfile lint: files and output', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-lint-acl-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file from disk and names it in every finding', async () => {
    const file = path.join(dir, 'aclfile');
    await writeFile(file, 'pattern read #\n');
    await chmod(file, 0o640);
    const findings = await lintAclFile(file);
    expect(findings.map((f) => `${f.file}:${f.line}`)).toEqual([`${file}:1`]);
  });

  it('reports a missing aclfile as a critical finding', async () => {
    const file = path.join(dir, 'missing');
    const findings = await lintAclFile(file);
    expect(summary(findings)).toEqual(['undefined critical acl-unreadable']);
    expect(findings[0]?.file).toBe(file);
  });

  it('formats a finding as FILE:LINE: severity: message (fix: ...)', () => {
    const [finding] = lint('pattern read #\n');
    expect(finding).toBeDefined();
    const line = formatLintLine(finding as LintFinding);
    expect(line.startsWith(`${FILE}:1: critical: every client`)).toBe(true);
    expect(line.endsWith(`(fix: ${finding?.fix})`)).toBe(true);
  });

  it('formats a whole-file finding without a line number', () => {
    const line = formatLintLine({
      id: 'x',
      file: 'f',
      line: undefined,
      severity: 'info',
      message: 'm',
      fix: 'y',
    });
    expect(line).toBe('f: info: m (fix: y)');
  });

  it('exits 1 on critical, high or medium findings and 0 on low or info only', () => {
    const at = (severity: LintFinding['severity']): LintFinding => ({
      id: 'x',
      file: 'f',
      line: 1,
      severity,
      message: 'm',
      fix: 'y',
    });
    expect(lintExitCode([])).toBe(0);
    expect(lintExitCode([at('info'), at('low')])).toBe(0);
    expect(lintExitCode([at('low'), at('medium')])).toBe(1);
    expect(lintExitCode([at('high')])).toBe(1);
    expect(lintExitCode([at('critical')])).toBe(1);
  });

  it('keeps every finding dangerous-free for the seed even when read from disk', async () => {
    const file = path.join(dir, 'seed');
    await writeFile(file, SEED_ACL);
    expect(dangerous(await lintAclFile(file))).toEqual([]);
  });
});
