// The outsider attack suite (src/audit) run against real brokers: Mosquitto 2.0 and Hush's own broker,
// configured like the seed (anonymous, pattern ACL) and with one account per device, over TCP and WebSocket.
// Each block asserts the verdict of every check, so a changed broker or a changed check fails a test.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, sleep } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';
import { hashPassword } from '../../src/broker/passwd/index.ts';
import {
  runAttackSuite,
  summarizeFindings,
  type AuditTarget,
  type SuiteOptions,
  type Finding,
  type Verdict,
} from '../../src/audit/index.ts';

const SEED_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';
const INBOX = 'chats/%c/messages';
const ACCOUNTS = {
  attacker: { username: 'mallory', password: 'mallory-secret' },
  victim: { username: 'alice', password: 'alice-secret' },
};
const SUITE_TIMEOUT = 60_000;

async function passwordFile(): Promise<string> {
  const { attacker, victim } = ACCOUNTS;
  return `${attacker.username}:${await hashPassword(attacker.password)}\n${victim.username}:${await hashPassword(victim.password)}\n`;
}

function anonymousTarget(url: string): AuditTarget {
  return { url, attacker: {}, victim: {}, inboxPattern: INBOX };
}

function accountTarget(url: string): AuditTarget {
  return { url, ...ACCOUNTS, inboxPattern: INBOX };
}

/** The suite without its resource checks (they have their own tests: audit-resources.test.ts). */
const suite = (target: AuditTarget, options: SuiteOptions = {}) =>
  runAttackSuite(target, undefined, { resourceChecks: false, ...options });

function verdicts(findings: Finding[]): Record<string, Verdict> {
  return Object.fromEntries(findings.map((f) => [f.id, f.verdict]));
}

const WILDCARDS_PASS = {
  'wildcard-all': 'pass',
  'wildcard-plus-all': 'pass',
  'wildcard-levels': 'pass',
  'wildcard-prefix': 'pass',
  'wildcard-inboxes': 'pass',
  'wildcard-shared': 'pass',
  'sys-read': 'pass',
  'sys-publish': 'pass',
  'retained-read': 'pass',
  'share-publish': 'pass',
} as const;

/** Seed mode: anonymous, ids are the secret. Nothing leaks to wildcards; knowing an id is reading its inbox. */
const SEED_MODE_MOSQUITTO: Record<string, Verdict> = {
  transport: 'info',
  // The target itself is plain text on loopback, so there is no TLS listener to look beside.
  'plaintext-listener': 'info',
  // The seed ACL only lets clients write to inboxes.
  'publish-arbitrary': 'pass',
  'auth-wrong-password': 'info',
  'auth-anonymous': 'info',
  ...WILDCARDS_PASS,
  // Mosquitto 2.0.11 accepts all four ids; patterns are denied for +/# ids and %c gives "/" ids nothing here.
  'client-id-plus': 'info',
  'client-id-hash': 'info',
  'client-id-slash': 'info',
  'client-id-long': 'info',
  'takeover-clean': 'leak',
  'takeover-persistent': 'leak',
  'retained-plant': 'weakness',
  'will-inbox': 'weakness',
};

/** One account per device with use_username_as_clientid: the takeover is gone. */
const ACCOUNT_MODE: Record<string, Verdict> = {
  transport: 'info',
  'plaintext-listener': 'info',
  'publish-arbitrary': 'pass',
  'auth-wrong-password': 'pass',
  'auth-anonymous': 'pass',
  ...WILDCARDS_PASS,
  // With an account Mosquitto replaces the chosen id by the username (the check proves it: takeover of the
  // same account, reads its own inbox); Hush refuses such ids. Either way not a weakness.
  'client-id-plus': 'pass',
  'client-id-hash': 'pass',
  'client-id-slash': 'pass',
  'client-id-long': 'pass',
  'takeover-clean': 'pass',
  'takeover-persistent': 'pass',
  'retained-plant': 'weakness',
  'will-inbox': 'weakness',
};

function expectNoCanaryContent(findings: Finding[]): void {
  for (const finding of findings) expect(finding.observed).not.toContain('hush-audit-canary');
}

describe('attack suite against a real Mosquitto configured like the seed (anonymous, pattern ACL)', () => {
  let broker: MosquittoInstance;
  let findings: Finding[];
  beforeAll(async () => {
    broker = await startMosquitto({ acl: SEED_ACL });
    findings = await suite(anonymousTarget(`mqtt://127.0.0.1:${broker.mqttPort}`));
  }, SUITE_TIMEOUT);
  afterAll(() => broker?.stop());

  it('finds no wildcard, $SYS or retained leak, and reports the takeover the seed leaves open', () => {
    expect(verdicts(findings)).toEqual(SEED_MODE_MOSQUITTO);
  });

  it('describes the takeover as a critical leak with a canary fingerprint, never the canary itself', () => {
    const takeover = findings.find((f) => f.id === 'takeover-persistent')!;
    expect(takeover.severity).toBe('critical');
    expect(takeover.observed).toMatch(/session present: true.*canary #[0-9a-f]{8}/);
    expect(takeover.fix).toContain('use_username_as_clientid');
    expectNoCanaryContent(findings);
    expect(summarizeFindings(findings).exitCode).toBe(1);
  });
});

describe('attack suite against a real Mosquitto with a password file and use_username_as_clientid', () => {
  let broker: MosquittoInstance;
  let findings: Finding[];
  beforeAll(async () => {
    broker = await startMosquitto({
      acl: SEED_ACL,
      passwordFile: await passwordFile(),
      useUsernameAsClientId: true,
      allowAnonymous: false,
    });
    findings = await suite(accountTarget(`mqtt://127.0.0.1:${broker.mqttPort}`));
  }, SUITE_TIMEOUT);
  afterAll(() => broker?.stop());

  it('an impostor with another account cannot read the victim inbox, and nothing leaks', () => {
    expect(verdicts(findings)).toEqual(ACCOUNT_MODE);
    expect(summarizeFindings(findings).leaks).toBe(0);
    expectNoCanaryContent(findings);
  });
});

describe("attack suite against Hush's broker in seed mode (anonymous, pattern ACL)", () => {
  let broker: HushBrokerInstance;
  let findings: Finding[];
  beforeAll(async () => {
    broker = await startHushBroker({ acl: SEED_ACL });
    findings = await suite(anonymousTarget(`mqtt://127.0.0.1:${broker.mqttPort}`));
  }, SUITE_TIMEOUT);
  afterAll(() => broker?.stop());

  it('behaves like Mosquitto for wildcards and takeover, refuses odd client ids and $ subscriptions', () => {
    expect(verdicts(findings)).toEqual({
      ...SEED_MODE_MOSQUITTO,
      'client-id-plus': 'pass',
      'client-id-hash': 'pass',
      'client-id-slash': 'pass',
      'client-id-long': 'pass',
    });
    const byId = new Map(findings.map((f) => [f.id, f]));
    for (const id of ['client-id-plus', 'client-id-hash', 'client-id-slash', 'client-id-long']) {
      expect(byId.get(id)!.observed).toContain('refused at CONNACK, code 2');
    }
    expect(byId.get('sys-read')!.observed).toContain('SUBACK 0x80');
    expect(byId.get('wildcard-shared')!.observed).toContain('SUBACK 0x80');
  });
});

describe("attack suite against Hush's broker with a password file and retained messages refused", () => {
  let broker: HushBrokerInstance;
  let findings: Finding[];
  beforeAll(async () => {
    broker = await startHushBroker({
      acl: SEED_ACL,
      passwordFile: await passwordFile(),
      allowAnonymous: false,
      retainAvailable: false,
    });
    findings = await suite(accountTarget(`mqtt://127.0.0.1:${broker.mqttPort}`));
  }, SUITE_TIMEOUT);
  afterAll(() => broker?.stop());

  it('nothing leaks, the takeover is stopped, no retained message can be planted: exit code 0', () => {
    expect(verdicts(findings)).toEqual({ ...ACCOUNT_MODE, 'retained-plant': 'pass', 'will-inbox': 'info' });
    expect(summarizeFindings(findings)).toEqual({ leaks: 0, weaknesses: 0, inconclusive: 0, exitCode: 0 });
    expectNoCanaryContent(findings);
  });
});

describe('attack suite over WebSocket', () => {
  it(
    "finds the seed's takeover on Mosquitto's WebSocket listener and nothing on Hush's with accounts",
    async () => {
      const mosquitto = await startMosquitto({ acl: SEED_ACL, websockets: true });
      const hush = await startHushBroker({
        acl: SEED_ACL,
        passwordFile: await passwordFile(),
        allowAnonymous: false,
        websockets: true,
      });
      try {
        const [onMosquitto, onHush] = await Promise.all([
          suite(anonymousTarget(`ws://127.0.0.1:${mosquitto.wsPort}/mqtt`)),
          suite(accountTarget(`ws://127.0.0.1:${hush.wsPort}/mqtt`)),
        ]);
        expect(verdicts(onMosquitto)).toEqual(SEED_MODE_MOSQUITTO);
        expect(verdicts(onHush)).toEqual(ACCOUNT_MODE);
        expect(onHush.find((f) => f.id === 'transport')!.observed).toContain('ws://');
      } finally {
        await Promise.all([mosquitto.stop(), hush.stop()]);
      }
    },
    SUITE_TIMEOUT,
  );
});

describe('attack suite against brokers that leak', () => {
  it(
    'finds the leak on a Mosquitto with no ACL and anonymous access, and leaves no retained canary behind',
    async () => {
      const broker = await startMosquitto({});
      try {
        const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
        const findings = await suite(anonymousTarget(url));
        const v = verdicts(findings);
        for (const id of [
          'wildcard-all',
          'wildcard-plus-all',
          'wildcard-levels',
          'wildcard-prefix',
          'wildcard-inboxes',
          'wildcard-shared',
          'retained-read',
        ]) {
          expect(v[id], id).toBe('leak');
        }
        // Without an ACL the broker relays any topic for anyone.
        expect(v['publish-arbitrary']).toBe('weakness');
        // The odd ids only add what any id already has here, so they are not blamed for the leak.
        expect([v['client-id-plus'], v['client-id-hash'], v['client-id-slash']]).toEqual([
          'info',
          'info',
          'info',
        ]);
        expect(v['sys-read']).toBe('weakness');
        expect(summarizeFindings(findings).exitCode).toBe(1);
        expectNoCanaryContent(findings);

        const observer = await connectClient(url);
        await observer.client.subscribeAsync('#', { qos: 1 });
        await sleep(500);
        expect(observer.received.filter((m) => m.payload.startsWith('hush-audit-canary'))).toEqual([]);
        await observer.end();
      } finally {
        await broker.stop();
      }
    },
    SUITE_TIMEOUT,
  );

  it(
    'finds the silent read an id with "/" gets when the read rule is pattern read chats/%c/#',
    async () => {
      const broker = await startMosquitto({
        acl: 'pattern read chats/%c/#\npattern write chats/+/messages\n',
      });
      try {
        const findings = await suite(anonymousTarget(`mqtt://127.0.0.1:${broker.mqttPort}`), {
          only: ['client-id-slash', 'wildcard-prefix'],
        });
        expect(verdicts(findings)).toEqual({ 'client-id-slash': 'leak', 'wildcard-prefix': 'pass' });
        expect(findings.find((f) => f.id === 'client-id-slash')!.observed).toContain(
          'without disconnecting the victim',
        );
      } finally {
        await broker.stop();
      }
    },
    SUITE_TIMEOUT,
  );
});

describe('attack suite when a check cannot be carried out', () => {
  it('reports an unreachable broker as inconclusive everywhere (exit code 2), never as passed', async () => {
    const port = await freePort();
    const findings = await runAttackSuite({
      ...anonymousTarget(`mqtt://127.0.0.1:${port}`),
      timeoutMs: 1000,
    });
    expect(new Set(findings.map((f) => f.verdict))).toEqual(new Set(['inconclusive']));
    expect(findings[0]!.observed).toContain('could not connect');
    expect(summarizeFindings(findings).exitCode).toBe(2);
  });

  it('gives up on a server that accepts TCP but never answers CONNECT, within its timeout', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const started = Date.now();
      const findings = await runAttackSuite({
        ...anonymousTarget(`mqtt://127.0.0.1:${port}`),
        timeoutMs: 500,
      });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(findings[0]!.observed).toContain('no CONNACK within 500 ms');
      expect(summarizeFindings(findings).exitCode).toBe(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it(
    'reports victim checks as inconclusive when attacker and victim share one account under username-as-client-id',
    async () => {
      const broker = await startHushBroker({
        acl: SEED_ACL,
        passwordFile: await passwordFile(),
        allowAnonymous: false,
      });
      try {
        const findings = await suite({
          url: `mqtt://127.0.0.1:${broker.mqttPort}`,
          attacker: ACCOUNTS.attacker,
          victim: {},
          inboxPattern: INBOX,
          timeoutMs: 1500,
        });
        const v = verdicts(findings);
        for (const id of ['wildcard-all', 'takeover-clean', 'takeover-persistent', 'retained-read'])
          expect(v[id], id).toBe('inconclusive');
        expect(findings.find((f) => f.id === 'wildcard-all')!.observed).toContain('share one account');
        expect(v['auth-wrong-password']).toBe('pass');
        expect(summarizeFindings(findings).exitCode).toBe(2);
      } finally {
        await broker.stop();
      }
    },
    SUITE_TIMEOUT,
  );
});
