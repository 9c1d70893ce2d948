// Soak, CI form (the long form is scripts/soak.ts): 1,000 chat clients in pairs against a real `hush broker`
// with a password file and the Hush aclfile, each writing one 200-byte QoS 1 message per second to its
// partner's inbox for 60 s, from two generator processes (src/bench/soak-worker.ts) so this process stays idle.
// The broker's RSS (/proc/PID/status) and the messages in flight are read every second. After a 15 s warm-up:
// - memory slope (least squares) below 1 MiB/s. Flat is ~0; the leak this guards against is per-message state
//   kept after delivery (a packet, its buffer and store entry: 1–2 KB each), which at 1,000 messages per second
//   grows by 1–2 MiB/s. The bound is a resource bound, not a timing: it holds however slow the machine is.
// - no growing queue: messages in flight stay bounded (slope below 5 per second, never a few seconds' worth);
// - at the end every message arrived exactly once and in order per sender, every publish was acknowledged and
//   no client was disconnected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPasswordFile, hashPassword } from '../../src/broker/passwd/index.ts';
import { ProcessSet } from '../../src/bench/processes.ts';
import { runSoak, type SoakResult } from '../../src/bench/soak.ts';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';

const CLIENTS = 1000;
const SECONDS = 60;
const WARMUP_SECONDS = 15;
const PER_CLIENT_PER_SECOND = 1;
const MAX_SLOPE_MIB_PER_S = 1;
const PASSWORD = 'soak-password-1';

const accounts = Array.from({ length: CLIENTS }, (_, i) => ({
  username: `soak${String(i).padStart(18, '0')}`,
  password: PASSWORD,
}));

let broker: HushBrokerInstance;
let processes: ProcessSet;
let result: SoakResult;

beforeAll(async () => {
  const stored = await hashPassword(PASSWORD);
  const passwordFile = formatPasswordFile({
    source: 'passwd',
    entries: new Map(accounts.map((a) => [a.username, stored])),
  });
  broker = await startHushBroker({
    passwordFile,
    allowAnonymous: false,
    acl: 'pattern read chats/%c/messages\npattern write chats/+/messages\n',
    // Every client comes from 127.0.0.1: the per-address CONNECT limit would make connecting take a minute.
    extraArgs: ['--connect-rate', '0'],
    env: { HUSH_LOG_LEVEL: 'warn' },
  });
  processes = new ProcessSet();
  result = await runSoak({
    brokerPid: broker.pid,
    port: broker.mqttPort,
    accounts,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    perClientPerSecond: PER_CLIENT_PER_SECOND,
    payloadBytes: 200,
    workers: 2,
    processes,
  });
  // The figures, for the log of a CI run (the samples are left out).
  console.log('soak', JSON.stringify({ ...result, samples: undefined }));
}, 180_000);

afterAll(async () => {
  await processes?.stopAll();
  await broker?.stop();
});

describe(`soak: ${CLIENTS} clients chatting for ${SECONDS} s`, () => {
  it('offered the load it meant to, on every connection', () => {
    expect(result.clients).toBe(CLIENTS);
    expect(result.dropped_connections).toBe(0);
    // Not a timing check: the generators send by elapsed time, so about clients × rate × seconds messages.
    expect(result.sent).toBeGreaterThan(CLIENTS * PER_CLIENT_PER_SECOND * SECONDS * 0.9);
    expect(result.samples.length).toBe(SECONDS);
  });

  it('delivered every message exactly once, in order per sender, and acknowledged every publish', () => {
    expect(result.lost).toBe(0);
    expect(result.delivered).toBe(result.sent);
    expect(result.duplicates).toBe(0);
    expect(result.gaps).toBe(0);
    expect(result.acked).toBe(result.sent);
  });

  it(`kept the broker's memory flat after the warm-up (slope < ${MAX_SLOPE_MIB_PER_S} MiB/s)`, () => {
    expect(Number.isFinite(result.rss_slope_mib_per_s)).toBe(true);
    expect(result.rss_slope_mib_per_s).toBeLessThan(MAX_SLOPE_MIB_PER_S);
  });

  it('had no growing queue: messages in flight stayed bounded after the warm-up', () => {
    expect(result.in_flight.slope_per_s).toBeLessThan(5);
    // A few seconds of the offered load would mean the broker fell behind and stayed there.
    expect(result.in_flight.max_after_warmup).toBeLessThan(3 * CLIENTS * PER_CLIENT_PER_SECOND);
  });
});
