// End-to-end benchmark of `hush bench` (issue 8): one HushClient sends texts to another through the embedded
// broker, both in this process, over MQTT/TCP on 127.0.0.1, exactly as the SDK chats (seal, store, publish QoS 1;
// receive, open, store, delivered receipt back).
//
// Two phases after a warm-up. Latency: one message at a time, sendText call → the receiver's 'message' event.
// Throughput: the sender keeps a window of messages in flight for a fixed time; messages/s counts texts that
// arrived over the time until the last one did. The broker's per-client publish rate limit (200/s by default) is
// off here, or it alone would set the figure; its ACL and password checks stay on.
//
// Everything runs in one event loop (broker and both clients), so the figures are for one core doing all three.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startBroker, type RunningBroker } from '../broker/index.ts';
import { hashPassword, parsePasswordFile } from '../broker/passwd/index.ts';
import type { HushWarning, ReceivedText } from '../client/api.ts';
import { useProvisionedDevice } from '../client/device.ts';
import { HushClient } from '../client/hush-client.ts';
import { MemoryStore } from '../client/storage.ts';
import { randomBytes, toB64u } from '../core/bytes.ts';
import { nodeCryptoProvider } from '../crypto-node/provider.ts';
import type { EndToEndBenchResult } from './types.ts';

/** The end-to-end figures plus how they were taken. */
export interface EndToEndBenchDetail extends EndToEndBenchResult {
  /** Messages timed one at a time (latency) and messages sent in the throughput phase. */
  latency_messages: number;
  throughput_messages: number;
  /** Messages the sender keeps in flight during the throughput phase. */
  window: number;
  /** CryptoProvider of both clients (the one the hush CLI gives the SDK). */
  provider: string;
  /** Warnings the receiver raised (tampered, replay, gap…); 0 in a healthy run. */
  warnings: number;
}

/** Knobs for tests: fewer messages and a shorter throughput phase. */
export interface EndToEndBenchTuning {
  warmup?: number;
  latencyMessages?: number;
  throughputMs?: number;
  window?: number;
}

/** Tuning for a smoke run (`hush bench --smoke`, tests): a dozen timed messages and a 0.3 s throughput phase. */
export const SMOKE_E2E_TUNING: EndToEndBenchTuning = {
  warmup: 2,
  latencyMessages: 12,
  throughputMs: 300,
  window: 4,
};

/** Longest the whole benchmark may take before it gives up (setup, phases, shutdown). */
const DEADLINE_MS = 120_000;
/** Longest a single message may take to arrive before the run is declared broken. */
const MESSAGE_TIMEOUT_MS = 10_000;
/** Text of each message: about the size of a chat line. */
const TEXT_BYTES = 120;

const randomId = (n: number): string => toB64u(randomBytes(n));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Rejects after `ms` with `what` in the message; the timer is cleared when `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench e2e: ${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Measures SDK send → SDK receive through the embedded broker for one client pair: latency p50/p99 of single
 * messages and sustained messages/s with a window in flight. Starts and stops its own broker and temp files.
 */
export async function runEndToEndBench(
  opts: { quick: boolean; progress: (line: string) => void },
  tuning: EndToEndBenchTuning = {},
): Promise<EndToEndBenchDetail> {
  const warmup = tuning.warmup ?? (opts.quick ? 30 : 100);
  const latencyMessages = tuning.latencyMessages ?? (opts.quick ? 200 : 1000);
  const throughputMs = tuning.throughputMs ?? (opts.quick ? 3000 : 10_000);
  const window = tuning.window ?? 32;
  const provider = nodeCryptoProvider;
  const started = performance.now();
  const remaining = (): number => Math.max(1, DEADLINE_MS - (performance.now() - started));

  const dir = await mkdtemp(path.join(tmpdir(), 'hush-bench-e2e-'));
  let broker: RunningBroker | undefined;
  const clients: HushClient[] = [];
  try {
    await writeFile(
      path.join(dir, 'aclfile'),
      'pattern read chats/%c/messages\npattern write chats/+/messages\n',
    );
    await writeFile(path.join(dir, 'passwd'), '', { mode: 0o600 });
    broker = await startBroker(
      {
        host: '127.0.0.1',
        mqttPort: 0,
        aclFile: path.join(dir, 'aclfile'),
        passwordFile: path.join(dir, 'passwd'),
        limits: { connectsPerSecondPerAddress: 0, publishPerSecond: 0 },
      },
      pino({ level: 'silent' }),
    );
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;

    // What the registration server does for each device: a password entry and a provisioned inbox session.
    const accounts = await Promise.all(
      ['alice', 'bob'].map(async (name) => {
        const clientId = randomId(16);
        const secret = randomId(32);
        return { name, clientId, secret, line: `${clientId}:${await hashPassword(secret)}` };
      }),
    );
    await broker.setPasswords(parsePasswordFile(`${accounts.map((a) => a.line).join('\n')}\n`, 'bench'));
    for (const account of accounts) {
      await broker.provisionSession(account.clientId, [`chats/${account.clientId}/messages`]);
    }
    const [alice, bob] = await Promise.all(
      accounts.map(async (account) => {
        const store = new MemoryStore();
        await useProvisionedDevice({
          brokerUrl: url,
          clientId: account.clientId,
          deviceSecret: account.secret,
          server: 'http://hush.invalid',
          displayName: account.name,
          store,
          provider,
        });
        const client = await HushClient.open({ store, provider });
        clients.push(client);
        return client;
      }),
    );
    await within(Promise.all([alice!.connect(), bob!.connect()]), remaining(), 'connecting');
    const { link, chatId } = await alice!.createInvite();
    await within(bob!.acceptInvite(link, { timeoutMs: MESSAGE_TIMEOUT_MS }), remaining(), 'joining the chat');
    opts.progress('e2e: two SDK clients connected to the embedded broker and share a chat');

    // Arrival bookkeeping: each text is unique, so arrivals match sends whatever order events fire in.
    const waiting = new Map<string, (at: number) => void>();
    const warnings: HushWarning[] = [];
    bob!.on('warning', (w: HushWarning) => warnings.push(w));
    bob!.on('message', (m: ReceivedText) => {
      const resolve = waiting.get(m.text);
      if (resolve) {
        waiting.delete(m.text);
        resolve(performance.now());
      }
    });
    const filler = 'x'.repeat(TEXT_BYTES);
    let counter = 0;
    /** Sends one text; resolves with the arrival time once the receiver has it. */
    const send = async (): Promise<{ sentAt: number; arrived: Promise<number> }> => {
      const text = `${counter++} ${filler}`.slice(0, TEXT_BYTES);
      // No timer per message: every wait on arrivals below is bounded instead.
      const arrived = new Promise<number>((resolve) => waiting.set(text, resolve));
      const sentAt = performance.now();
      await alice!.sendText(chatId, text);
      return { sentAt, arrived };
    };

    const arrival = (arrived: Promise<number>): Promise<number> =>
      within(arrived, MESSAGE_TIMEOUT_MS, 'a message to arrive');
    for (let i = 0; i < warmup; i++) await arrival((await send()).arrived);

    const latencies: number[] = [];
    for (let i = 0; i < latencyMessages; i++) {
      if (remaining() <= MESSAGE_TIMEOUT_MS) throw new Error('bench e2e: out of time in the latency phase');
      const { sentAt, arrived } = await send();
      latencies.push((await arrival(arrived)) - sentAt);
    }
    latencies.sort((a, b) => a - b);
    opts.progress(
      `e2e latency over ${latencyMessages} messages: p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(2)} ms`,
    );

    const inFlight = new Set<Promise<number>>();
    let lastArrival = 0;
    let sent = 0;
    const phaseStart = performance.now();
    while (performance.now() - phaseStart < throughputMs) {
      if (inFlight.size >= window) {
        await arrival(Promise.race(inFlight));
        continue;
      }
      const { arrived } = await send();
      sent++;
      const tracked: Promise<number> = arrived.then((at) => {
        inFlight.delete(tracked);
        lastArrival = Math.max(lastArrival, at);
        return at;
      });
      inFlight.add(tracked);
    }
    await within(Promise.all(inFlight), Math.min(remaining(), MESSAGE_TIMEOUT_MS), 'draining');
    const msgsPerS = sent / ((lastArrival - phaseStart) / 1000);
    opts.progress(
      `e2e throughput: ${sent} messages in flight window ${window}: ${msgsPerS.toFixed(0)} msg/s`,
    );

    if (warnings.length > 0) {
      const codes = new Map<string, number>();
      for (const w of warnings) codes.set(w.code, (codes.get(w.code) ?? 0) + 1);
      opts.progress(
        `e2e: the receiver raised ${warnings.length} warnings: ` +
          [...codes].map(([code, n]) => `${code} ×${n}`).join(', '),
      );
    }
    return {
      latency_p50_ms: Number(percentile(latencies, 50).toFixed(3)),
      latency_p99_ms: Number(percentile(latencies, 99).toFixed(3)),
      msgs_per_s: Math.round(msgsPerS),
      messages: latencyMessages + sent,
      latency_messages: latencyMessages,
      throughput_messages: sent,
      window,
      provider: provider.name,
      warnings: warnings.length,
    };
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
