// CPU time and memory of another process, read from Linux /proc: the benchmark measures brokers from the
// outside so Hush (Node) and Mosquitto (C) are measured the same way.
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
const CLOCK_TICKS = 100;

/** User + system CPU time a process has used so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5) (utime, stime) are at 11 and 12 once pid and comm are cut off.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS;
}

/** Resident set size of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** CPU use of a set of processes between two points in time. */
export class CpuMeter {
  private readonly start: number[];
  private readonly startedAt = performance.now();

  constructor(private readonly pids: readonly number[]) {
    this.start = pids.map(cpuMicros);
  }

  /** CPU microseconds used by each process since the meter was created. */
  used(): number[] {
    return this.pids.map((pid, i) => cpuMicros(pid) - (this.start[i] as number));
  }

  /** Wall-clock microseconds from the meter's creation to `until` (a performance.now() time, default now). */
  elapsed(until = performance.now()): number {
    return (until - this.startedAt) * 1000;
  }
}
