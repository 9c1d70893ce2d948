// `hush bench` run as a real child process in its tiny --smoke mode: the real Hush broker and the real
// Mosquitto are both measured, the JSON document has the shape issues 8 and 13 ask for with finite positive figures
// and the JSON and Markdown files land in --out. Figures are not checked against any threshold: timings on a
// shared machine say nothing about correctness.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../src/bench/types.ts';

const HUSH = path.resolve(import.meta.dirname, '../../bin/hush.js');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function hushBench(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [HUSH, 'bench', ...args],
      { timeout: 230_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function expectPositive(value: unknown, name: string): void {
  expect(typeof value, name).toBe('number');
  expect(Number.isFinite(value), name).toBe(true);
  expect(value as number, name).toBeGreaterThan(0);
}

let dir: string;
let outcome: Outcome;
let report: BenchReport;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hush-bench-cli-'));
  outcome = await hushBench('--smoke', '--json', '--out', dir);
  report = JSON.parse(outcome.stdout) as BenchReport;
}, 240_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hush bench --smoke --json', () => {
  it('exits 0 with one JSON document on stdout and progress lines on stderr', () => {
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout.trim().split('\n')).toHaveLength(1);
    expect(outcome.stderr).toMatch(/broker: 1:1 QoS 1 over WebSocket/);
    expect(outcome.stderr).toMatch(/crypto:/);
    expect(report.mode).toBe('smoke');
  });

  it('measured both brokers: CPU per message over TCP and WebSocket, with the ratio', () => {
    const broker = report.broker!;
    for (const transport of ['tcp', 'ws'] as const) {
      const c = broker[transport];
      expectPositive(c.hush_cpu_us_per_msg, `${transport} hush`);
      expectPositive(c.mosquitto_cpu_us_per_msg, `${transport} mosquitto`);
      expect(c.ratio).toBeCloseTo(c.hush_cpu_us_per_msg / c.mosquitto_cpu_us_per_msg, 1);
      // Smoke mode runs one round: the headline figure is that round's.
      expect(c.rounds).toEqual({ hush: [c.hush_cpu_us_per_msg], mosquitto: [c.mosquitto_cpu_us_per_msg] });
    }
    for (const workload of ['tcp', 'ws', 'fanout'] as const) {
      for (const name of ['hush', 'mosquitto'] as const) {
        const f = broker.workloads[workload][name];
        for (const key of [
          'saturation_msgs_per_s',
          'delivered',
          'latency_p50_ms',
          'latency_p99_ms',
        ] as const) {
          expectPositive(f[key], `${workload} ${name} ${key}`);
        }
        expect(f.latency_p99_ms).toBeGreaterThanOrEqual(f.latency_p50_ms);
      }
    }
    // Tail ratios at the fixed load (issue 13): present, positive and finite, and the ratio of the two p99s.
    for (const transport of ['tcp', 'ws'] as const) {
      const { hush, mosquitto } = broker.workloads[transport];
      expectPositive(broker[transport].p99_ratio, `${transport} p99_ratio`);
      expect(broker[transport].p99_ratio).toBeCloseTo(hush.latency_p99_ms / mosquitto.latency_p99_ms, 1);
      expect(hush.offered_msgs_per_s).toBe(mosquitto.offered_msgs_per_s);
    }
    expect(broker.mosquitto_version).toMatch(/^\d+\.\d+/);
    expectPositive(broker.connect_storm.hush.connects_per_s, 'hush connects/s');
    expectPositive(broker.connect_storm.mosquitto.connects_per_s, 'mosquitto connects/s');
  });

  it('measured memory per idle WebSocket connection on both brokers', () => {
    const memory = report.memory!.ws_conn_kb;
    expectPositive(memory.hush, 'hush KB');
    expectPositive(memory.mosquitto, 'mosquitto KB');
    expectPositive(memory.connections, 'connections');
    const settled = report.memory!.ws_conn_kb_settled;
    expectPositive(settled.hush, 'hush settled KB');
    expectPositive(settled.mosquitto, 'mosquitto settled KB');
    // The headline figure is the settled one, in every mode; the 1 s reading is kept beside it.
    expect({ hush: memory.hush, mosquitto: memory.mosquitto }).toEqual(settled);
    expectPositive(report.memory!.ws_conn_kb_1s.hush, 'hush 1 s KB');
    expectPositive(report.memory!.settle_s, 'settle_s');
  });

  it('has crypto figures for every size and end-to-end figures', () => {
    for (const size of ['200', '4096', '65536', '1048576'] as const) {
      const c = report.crypto![size];
      expectPositive(c.hush_us, `${size} hush`);
      expectPositive(c.cryptojs_us, `${size} cryptojs`);
      expectPositive(c.speedup, `${size} speedup`);
    }
    const e2e = report.e2e!;
    for (const key of ['latency_p50_ms', 'latency_p99_ms', 'msgs_per_s', 'messages'] as const) {
      expectPositive(e2e[key], `e2e ${key}`);
    }
  });

  it('wrote <date>.json (the same document) and a Markdown table with the ratios into --out', async () => {
    const day = report.date.slice(0, 10);
    expect((await readdir(dir)).sort()).toEqual([`${day}.json`, `${day}.md`]);
    expect(JSON.parse(await readFile(path.join(dir, `${day}.json`), 'utf8'))).toEqual(report);
    const md = await readFile(path.join(dir, `${day}.md`), 'utf8');
    expect(md).toMatch(/\| figure \| Hush \| Mosquitto \| Hush\/Mosquitto \|/);
    expect(md).toMatch(/1:1 WebSocket: broker CPU per delivered message/);
    expect(md).toContain(report.command);
  });
});

describe('hush bench, bad input', () => {
  it('refuses an unknown --only part with a message naming the valid ones, before measuring anything', async () => {
    const bad = await hushBench('--only', 'disk', '--out', dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--only: unknown part 'disk'; expected one or more of broker, crypto, e2e/);
    expect(bad.stdout).toBe('');
  });
});
