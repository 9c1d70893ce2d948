// The human half of `hush bench`'s output: a Markdown report with every figure and the Hush/peer ratios,
// written beside the JSON document (bench/results/<date>.md) and the source of the README's table.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CRYPTO_SIZES, type BenchReport, type BrokerWorkloadResult, type CryptoSize } from './types.ts';

const SIZE_LABEL: Record<CryptoSize, string> = {
  '200': '200 B',
  '4096': '4 KiB',
  '65536': '64 KiB',
  '1048576': '1 MiB',
};

const num = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

const ratio = (a: number, b: number): string => (b > 0 ? `${num(a / b, 2)}×` : '–');

interface Goal {
  what: string;
  target: string;
  value: number | undefined;
  met: (v: number) => boolean;
  unit: string;
}

/** The goals of issue 8, checked against this run's figures. */
function goals(report: BenchReport): Goal[] {
  const list: Goal[] = [];
  if (report.broker) {
    list.push(
      {
        what: 'broker CPU per message over WebSocket, Hush/Mosquitto',
        target: '≤ 1.0',
        value: report.broker.ws.ratio,
        met: (v) => v <= 1.0,
        unit: '×',
      },
      {
        what: 'broker CPU per message over TCP, Hush/Mosquitto',
        target: '≤ 1.3',
        value: report.broker.tcp.ratio,
        met: (v) => v <= 1.3,
        unit: '×',
      },
      {
        what: 'latency p99 at a fixed load over TCP, Hush/Mosquitto (issue 13)',
        target: '≤ 2',
        value: report.broker.tcp.p99_ratio,
        met: (v) => v <= 2,
        unit: '×',
      },
      {
        what: 'latency p99 at a fixed load over WebSocket, Hush/Mosquitto (issue 13)',
        target: '≤ 2',
        value: report.broker.ws.p99_ratio,
        met: (v) => v <= 2,
        unit: '×',
      },
    );
  }
  if (report.memory) {
    list.push({
      what: 'memory per idle WebSocket connection (Hush)',
      target: '≤ 10 KB',
      value: report.memory.ws_conn_kb.hush,
      met: (v) => v <= 10,
      unit: ' KB',
    });
    const settled = report.memory.ws_conn_kb_settled;
    list.push({
      what: 'settled memory per idle WebSocket connection, Hush/Mosquitto (issue 13)',
      target: '≤ 1',
      value: settled.mosquitto > 0 ? settled.hush / settled.mosquitto : undefined,
      met: (v) => v <= 1,
      unit: '×',
    });
  }
  if (report.crypto) {
    list.push(
      {
        what: 'envelope seal + open vs CryptoJS at 200 B',
        target: '≥ 2×',
        value: report.crypto['200'].speedup,
        met: (v) => v >= 2,
        unit: '×',
      },
      {
        what: 'envelope seal + open vs CryptoJS at 64 KiB',
        target: '≥ 50×',
        value: report.crypto['65536'].speedup,
        met: (v) => v >= 50,
        unit: '×',
      },
    );
  }
  return list;
}

function workloadRows(label: string, w: BrokerWorkloadResult): string[] {
  const h = w.hush;
  const m = w.mosquitto;
  return [
    `| ${label}: broker CPU per delivered message (µs) | ${num(h.cpu_us_per_msg, 2)} | ${num(m.cpu_us_per_msg, 2)} | ${ratio(h.cpu_us_per_msg, m.cpu_us_per_msg)} |`,
    `| ${label}: throughput at saturation (msg/s) | ${num(h.saturation_msgs_per_s, 0)} | ${num(m.saturation_msgs_per_s, 0)} | ${ratio(h.saturation_msgs_per_s, m.saturation_msgs_per_s)} |`,
    `| ${label}: broker / generator CPU at saturation (% of a core) | ${num(h.broker_cpu_pct)} / ${num(h.generator_cpu_pct)} | ${num(m.broker_cpu_pct)} / ${num(m.generator_cpu_pct)} | |`,
    `| ${label}: latency p50 at ${num(h.offered_msgs_per_s, 0)} msg/s (ms) | ${num(h.latency_p50_ms, 2)} | ${num(m.latency_p50_ms, 2)} | ${ratio(h.latency_p50_ms, m.latency_p50_ms)} |`,
    `| ${label}: latency p99 at ${num(h.offered_msgs_per_s, 0)} msg/s (ms) | ${num(h.latency_p99_ms, 2)} | ${num(m.latency_p99_ms, 2)} | ${ratio(h.latency_p99_ms, m.latency_p99_ms)} |`,
  ];
}

/** Renders the report as Markdown: every figure, the Hush/peer ratios, the goals and the notes. */
export function renderMarkdown(report: BenchReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(
    `# Hush benchmark, ${report.date.slice(0, 10)}`,
    '',
    `Reproduce with \`${report.command}\` (mode: ${report.mode}). Machine: ${m.cpus} × ${m.cpu_model}, Node ` +
      `${m.node}, ${m.platform}, load average ${num(m.load_avg_1m, 2)} at the start. Ratios compare figures ` +
      'taken in this same run; absolute figures move with the machine and its load.',
    '',
  );
  if (report.broker || report.memory) {
    const b = report.broker;
    out.push(
      `## Broker: Hush vs Mosquitto ${b?.mosquitto_version ?? ''}`.trimEnd(),
      '',
      'Both with the Hush aclfile and a $7$ password file, username as client id, 200-byte QoS 1 payloads, ' +
        `the same lean mqtt-packet load generator (${b?.generator_processes ?? '?'} processes), brokers taking turns. ` +
        'CPU is the broker process time (user + system, /proc) divided by messages delivered.',
      '',
      '| figure | Hush | Mosquitto | Hush/Mosquitto |',
      '|---|---|---|---|',
    );
    if (b) {
      out.push(...workloadRows('1:1 TCP', b.workloads.tcp));
      out.push(...workloadRows('1:1 WebSocket', b.workloads.ws));
      out.push(...workloadRows('group fan-out (50 inboxes)', b.workloads.fanout));
      const s = b.connect_storm;
      out.push(
        `| connection storm: connects accepted per second (${num(s.hush.connections, 0)} concurrent, password checked) | ${num(s.hush.connects_per_s, 0)} | ${num(s.mosquitto.connects_per_s, 0)} | ${ratio(s.hush.connects_per_s, s.mosquitto.connects_per_s)} |`,
        `| connection storm: broker CPU per connect (µs) | ${num(s.hush.cpu_us_per_connect)} | ${num(s.mosquitto.cpu_us_per_connect)} | ${ratio(s.hush.cpu_us_per_connect, s.mosquitto.cpu_us_per_connect)} |`,
      );
    }
    if (report.memory) {
      const mem = report.memory.ws_conn_kb;
      const early = report.memory.ws_conn_kb_1s;
      out.push(
        `| memory per idle WebSocket connection (KB RSS settled, up to ${num(report.memory.settle_s, 0)} s; ${num(mem.connections, 0)} connections) | ${num(mem.hush, 2)} | ${num(mem.mosquitto, 2)} | ${ratio(mem.hush, mem.mosquitto)} |`,
        `| memory per idle WebSocket connection (KB RSS 1 s after connecting) | ${num(early.hush, 2)} | ${num(early.mosquitto, 2)} | ${ratio(early.hush, early.mosquitto)} |`,
      );
    }
    out.push('');
  }
  if (report.crypto) {
    const c = report.crypto;
    const browser = CRYPTO_SIZES.some((s) => c[s].browser_hush_us !== undefined);
    out.push(
      '## Crypto: Hush envelope vs CryptoJS.AES (passphrase mode), one message sealed and opened',
      '',
      `| size | Hush 1:1 (µs) | CryptoJS (µs) | speedup | Hush group, signed (µs) |${browser ? ' browser Hush (µs) | browser CryptoJS (µs) | browser speedup |' : ''}`,
      `|---|---|---|---|---|${browser ? '---|---|---|' : ''}`,
    );
    for (const size of CRYPTO_SIZES) {
      const r = c[size];
      const browserCells = browser
        ? ` ${num(r.browser_hush_us)} | ${num(r.browser_cryptojs_us)} | ${r.browser_speedup === undefined ? '–' : `${num(r.browser_speedup)}×`} |`
        : '';
      out.push(
        `| ${SIZE_LABEL[size]} | ${num(r.hush_us)} | ${num(r.cryptojs_us)} | ${num(r.speedup)}× | ${num(r.group_hush_us)} |${browserCells}`,
      );
    }
    if (c.browser) out.push('', `Browser: ${c.browser}.`);
    out.push('');
  }
  if (report.e2e) {
    const e = report.e2e;
    out.push(
      '## End to end: SDK send → SDK receive through the embedded broker, one client pair',
      '',
      '| latency p50 (ms) | latency p99 (ms) | sustained msg/s | messages |',
      '|---|---|---|---|',
      `| ${num(e.latency_p50_ms, 2)} | ${num(e.latency_p99_ms, 2)} | ${num(e.msgs_per_s, 0)} | ${num(e.messages, 0)} |`,
      '',
    );
  }
  const goalList = goals(report);
  if (goalList.length > 0) {
    out.push('## Goals (issues 8 and 13)', '', '| goal | target | this run | met |', '|---|---|---|---|');
    for (const g of goalList) {
      const met = g.value === undefined ? '–' : g.met(g.value) ? 'yes' : 'no';
      out.push(`| ${g.what} | ${g.target} | ${num(g.value, 2)}${g.unit} | ${met} |`);
    }
    out.push('');
  }
  if (report.notes.length > 0) {
    out.push('## Notes', '', ...report.notes.map((n) => `- ${n}`), '');
  }
  return out.join('\n');
}

/** Writes `<dir>/<YYYY-MM-DD>.json` and `.md`; returns both paths. */
export async function writeReport(report: BenchReport, dir: string): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const day = report.date.slice(0, 10);
  const json = path.join(dir, `${day}.json`);
  const md = path.join(dir, `${day}.md`);
  await writeFile(json, JSON.stringify(report, null, 2) + '\n');
  await writeFile(md, renderMarkdown(report));
  return { json, md };
}
