// The audit's resource checks (src/audit/checks/resources.ts) against real brokers: a Mosquitto without
// size or byte limits (findings: the 1 MiB message is delivered, a stalled reader is held ~64 MiB; its
// default 1,000-message queue bound passes), the embedded broker (`hush broker`, which bounds all three),
// and the CLI's --no-resource-checks. The generated deployment with limits: deploy-mosquitto-limits.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttackSuite, type Finding } from '../../src/audit/index.ts';
import { runHush, startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const RESOURCE_CHECKS = ['resource-oversized-message', 'resource-offline-queue', 'resource-slow-reader'];

const resourceAudit = (url: string) =>
  runAttackSuite(
    { url, attacker: {}, victim: {}, inboxPattern: 'chats/%c/messages', timeoutMs: 5000 },
    undefined,
    { only: RESOURCE_CHECKS },
  );
const byId = (findings: Finding[]) => Object.fromEntries(findings.map((f) => [f.id, f]));

describe('resource checks against a real Mosquitto without size or byte limits', () => {
  let broker: MosquittoInstance;
  let findings: Finding[];
  beforeAll(async () => {
    broker = await startMosquitto({ acl: SEED_ACL });
    findings = await resourceAudit(`mqtt://127.0.0.1:${broker.mqttPort}`);
  }, 150_000);
  afterAll(() => broker?.stop());

  it('finds the 1 MiB message delivered (high)', () => {
    const f = byId(findings)['resource-oversized-message']!;
    expect(f.verdict, f.observed).toBe('weakness');
    expect(f.severity).toBe('high');
    expect(f.fix).toContain('message_size_limit');
  });

  it("passes the offline queue: Mosquitto's default max_queued_messages keeps 1000 of 1200", () => {
    const f = byId(findings)['resource-offline-queue']!;
    expect(f.verdict, f.observed).toBe('pass');
    expect(f.observed).toMatch(/^1000 of 1200 /);
  });

  it('finds the stalled reader held more than 48 MiB (only the count bounds it)', () => {
    const f = byId(findings)['resource-slow-reader']!;
    expect(f.verdict, f.observed).toBe('weakness');
    expect(f.observed).toMatch(/held 10\d\d of 1024 messages/);
  });

  it('never shows a canary in what it reports', () => {
    expect(JSON.stringify(findings)).not.toContain('hush-audit-canary');
  });
});

describe("resource checks against Hush's embedded broker (hush broker)", () => {
  let broker: HushBrokerInstance;
  let findings: Finding[];
  beforeAll(async () => {
    broker = await startHushBroker({ acl: SEED_ACL, env: { HUSH_LOG_LEVEL: 'warn' } });
    findings = await resourceAudit(`mqtt://127.0.0.1:${broker.mqttPort}`);
  }, 150_000);
  afterAll(() => broker?.stop());

  it('refuses the 1 MiB message by closing the sender (packet limit 256 KiB)', () => {
    const f = byId(findings)['resource-oversized-message']!;
    expect(f.verdict, f.observed).toBe('pass');
    expect(f.observed).toContain('closed the sender');
  });

  it('bounds the offline queue and the stalled reader', () => {
    const v = byId(findings);
    expect(v['resource-offline-queue']!.verdict, v['resource-offline-queue']!.observed).toBe('pass');
    expect(v['resource-slow-reader']!.verdict, v['resource-slow-reader']!.observed).toBe('pass');
  });
});

describe('hush audit --no-resource-checks', () => {
  let broker: MosquittoInstance;
  beforeAll(async () => {
    broker = await startMosquitto({ acl: SEED_ACL });
  });
  afterAll(() => broker?.stop());

  it('leaves the resource checks out of a full audit; without it --only runs one', async () => {
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const skipped = await runHush(['audit', url, '--no-resource-checks', '--json'], { timeoutMs: 60_000 });
    const ids = (JSON.parse(skipped.stdout) as { findings: Finding[] }).findings.map((f) => f.id);
    expect(ids).toContain('wildcard-all');
    expect(ids.filter((id) => id.startsWith('resource-'))).toEqual([]);
    const oversized = await runHush(['audit', url, '--only', 'resource-oversized-message', '--json'], {
      timeoutMs: 60_000,
    });
    const report = JSON.parse(oversized.stdout) as { findings: Finding[] };
    expect(report.findings.map((f) => [f.id, f.verdict])).toEqual([
      ['resource-oversized-message', 'weakness'],
    ]);
    expect(oversized.code).toBe(1);
  }, 90_000);
});
