/** Samples a process's resident memory (VmRSS in /proc/PID/status) at a fixed interval. */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes, or undefined when the process is gone (or /proc has no such field). */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  readonly maxBytes: number;
  readonly firstBytes: number;
  readonly lastBytes: number;
  readonly samples: number;
  stop(): void;
}

/** Starts sampling; the figures grow as samples arrive. */
export function sampleRss(pid: number, intervalMs = 200): RssSampler {
  const state = { maxBytes: 0, firstBytes: 0, lastBytes: 0, samples: 0 };
  const take = () => {
    const rss = readRssBytes(pid);
    if (rss === undefined) return;
    if (state.samples === 0) state.firstBytes = rss;
    state.samples++;
    state.lastBytes = rss;
    state.maxBytes = Math.max(state.maxBytes, rss);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    get maxBytes() {
      return state.maxBytes;
    },
    get firstBytes() {
      return state.firstBytes;
    },
    get lastBytes() {
      return state.lastBytes;
    },
    get samples() {
      return state.samples;
    },
    stop: () => clearInterval(timer),
  };
}
