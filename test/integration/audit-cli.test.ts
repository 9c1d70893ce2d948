import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/broker/passwd/index.ts';
import type { AuditReport } from '../../src/audit/index.ts';
import { runHush, startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';
import { connectClient } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const verdictOf = (report: AuditReport, id: string) => report.findings.find((f) => f.id === id)?.verdict;

async function audit(args: string[]): Promise<{ code: number | null; report: AuditReport; stderr: string }> {
  const result = await runHush(['audit', ...args, '--json'], { timeoutMs: 90_000 });
  let report: AuditReport;
  try {
    report = JSON.parse(result.stdout) as AuditReport;
  } catch {
    throw new Error(`audit did not print JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { code: result.code, report, stderr: result.stderr };
}

describe('hush audit against a real Mosquitto configured like the seed', () => {
  let mosquitto: MosquittoInstance;
  beforeAll(async () => {
    mosquitto = await startMosquitto({ acl: SEED_ACL });
  });
  afterAll(() => mosquitto?.stop());

  it('finds no wildcard leak but reports the client-id takeover, and exits 1', async () => {
    const { code, report, stderr } = await audit([
      `mqtt://127.0.0.1:${mosquitto.mqttPort}`,
      '--no-resource-checks',
    ]);
    expect(code).toBe(1);
    expect(report.schema).toBe('hush-audit/1');
    for (const id of [
      'wildcard-all',
      'wildcard-plus-all',
      'wildcard-levels',
      'wildcard-prefix',
      'wildcard-inboxes',
    ]) {
      expect(verdictOf(report, id), id).toBe('pass');
    }
    expect(verdictOf(report, 'takeover-persistent')).toBe('leak');
    expect(report.findings.find((f) => f.id === 'takeover-persistent')?.severity).toBe('critical');
    expect(report.summary.exit_code).toBe(1);
    // Progress went to stderr while it ran.
    expect(stderr).toMatch(/auditing mqtt:\/\/127\.0\.0\.1/);
    expect(stderr).toMatch(/leak\s+takeover-persistent/);
  });

  it('prints a human table with the fix for each problem', async () => {
    const result = await runHush(
      ['audit', `mqtt://127.0.0.1:${mosquitto.mqttPort}`, '--only', 'wildcard-all,takeover-clean'],
      {
        timeoutMs: 60_000,
      },
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/RESULT\s+SEVERITY\s+CHECK\s+WHAT WAS SEEN/);
    expect(result.stdout).toMatch(/PASS\s+wildcard-all/);
    expect(result.stdout).toMatch(/LEAK\s+critical\s+takeover-clean/);
    expect(result.stdout).toMatch(/fix:[\s\S]*use_username_as_clientid/);
  });
});

describe('hush audit against a real Mosquitto with no ACL and anonymous access', () => {
  let mosquitto: MosquittoInstance;
  beforeAll(async () => {
    mosquitto = await startMosquitto({});
  });
  afterAll(() => mosquitto?.stop());

  it('finds the wildcard leak and exits 1', async () => {
    const { code, report } = await audit([`mqtt://127.0.0.1:${mosquitto.mqttPort}`, '--no-resource-checks']);
    expect(code).toBe(1);
    expect(verdictOf(report, 'wildcard-all')).toBe('leak');
    // Never the leaked content: canaries appear only as fingerprints.
    expect(JSON.stringify(report)).not.toMatch(/hush-audit-canary/);
  });

  it('the passive listener sees real traffic reaching a wildcard subscriber', async () => {
    const chatter = await connectClient(`mqtt://127.0.0.1:${mosquitto.mqttPort}`, { clientId: 'chatter' });
    const timer = setInterval(
      () => chatter.client.publish('chats/AbCdEfGhIjKlMnOp/messages', 'private words'),
      100,
    );
    try {
      const { code, report } = await audit([
        `mqtt://127.0.0.1:${mosquitto.mqttPort}`,
        '--only',
        'transport',
        '--listen',
        '2',
      ]);
      expect(code).toBe(1);
      const passive = report.findings.find((f) => f.id === 'passive-wildcard');
      expect(passive?.verdict).toBe('leak');
      expect(passive?.observed).toContain('chats/<id>/messages');
      expect(passive?.observed).not.toContain('private words');
    } finally {
      clearInterval(timer);
      await chatter.end();
    }
  });
});

describe("hush audit against Hush's own broker with a password file", () => {
  let broker: HushBrokerInstance;
  beforeAll(async () => {
    const passwd = `pageuser:${await hashPassword('page-secret')}\nvictim:${await hashPassword('victim-secret')}\n`;
    broker = await startHushBroker({
      acl: SEED_ACL,
      passwordFile: passwd,
      allowAnonymous: false,
      retainAvailable: false,
    });
  });
  afterAll(() => broker?.stop());

  it('nothing leaks: exit 0', async () => {
    const { code, report, stderr } = await audit([
      `mqtt://127.0.0.1:${broker.mqttPort}`,
      '--username',
      'pageuser',
      '--password',
      'page-secret',
      '--victim-username',
      'victim',
      '--victim-password',
      'victim-secret',
      '--no-resource-checks',
    ]);
    // --no-resource-checks leaves them out of the report (they are tested in audit-resources.test.ts).
    expect(report.findings.filter((f) => f.id.startsWith('resource-'))).toEqual([]);
    expect(
      report.findings.filter(
        (f) => f.verdict === 'leak' || f.verdict === 'weakness' || f.verdict === 'inconclusive',
      ),
      stderr,
    ).toEqual([]);
    expect(code).toBe(0);
  }, 120_000); // the whole suite, one check at a time (accounts)

  it('wrong credentials: could not run, exit 2 with the reason', async () => {
    const result = await runHush(
      ['audit', `mqtt://127.0.0.1:${broker.mqttPort}`, '--username', 'pageuser', '--password', 'wrong'],
      {
        timeoutMs: 60_000,
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/could not run: .*not authori[sz]ed/i);
  });
});

describe('hush audit when nothing answers', () => {
  it('exits 2 and says why', async () => {
    const port = await freePort();
    const result = await runHush(['audit', `mqtt://127.0.0.1:${port}`, '--timeout', '1000'], {
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/could not run/);
  });

  it('refuses a URL with an unknown scheme with exit 2', async () => {
    const result = await runHush(['audit', 'http://127.0.0.1:1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//);
  });
});

describe('hush audit --acl-file and --mosquitto-conf', () => {
  it('passes the seed aclfile and fails an aclfile that lets anonymous clients read #, naming file and line', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/hush-lint-');
    await writeFile(`${dir}/seed.acl`, SEED_ACL);
    await writeFile(`${dir}/open.acl`, '# open\ntopic read #\n');
    const good = await runHush(['audit', '--acl-file', `${dir}/seed.acl`]);
    expect(good.code).toBe(0);
    const bad = await runHush(['audit', '--acl-file', `${dir}/open.acl`]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${dir}/open.acl:2: critical:`);
    const json = await runHush(['audit', '--acl-file', `${dir}/open.acl`, '--json']);
    const doc = JSON.parse(json.stdout) as {
      schema: string;
      exit_code: number;
      findings: Array<{ line: number }>;
    };
    expect(doc.schema).toBe('hush-lint/1');
    expect(doc.exit_code).toBe(1);
    expect(doc.findings[0]?.line).toBe(2);
  });

  it('flags an anonymous mosquitto.conf without an aclfile and a plain WebSocket listener', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/hush-lint-');
    await writeFile(
      `${dir}/mosquitto.conf`,
      'listener 1883 127.0.0.1\nallow_anonymous true\nlistener 8080\nprotocol websockets\n',
    );
    const result = await runHush(['audit', '--mosquitto-conf', `${dir}/mosquitto.conf`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/mosquitto\.conf:2: critical:.*allow_anonymous/);
    expect(result.stdout).toMatch(/mosquitto\.conf:3: high:/);
  });
});
