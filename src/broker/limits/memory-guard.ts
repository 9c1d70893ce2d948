/**
 * The last line of defence for the broker's memory: every queue and buffer has its own bound, but many clients
 * each within their bounds can still add up to more than the machine has. Twice a second the guard reads the
 * process's resident memory; above the limit the broker refuses new connections and publishes (clients retry
 * later: nothing they were told was stored is lost) and closes the connections holding the most unsent bytes,
 * until memory is back under the limit. Without it the operating system would kill the whole process.
 */
import type { Logger } from 'pino';

/** A connection as the guard sees it: its stream and its id. */
interface GuardedClient {
  id: string;
  conn: { writableLength?: number; destroy(error?: Error): void };
}

/** Connections with fewer unsent bytes than this are never closed by the guard. */
const SHED_MIN_BACKLOG = 64 * 1024;
/** Connections closed per check at most. */
const SHED_PER_CHECK = 100;
const CHECK_EVERY_MS = 500;

/** Watches resident memory and sheds load above a limit. */
export class MemoryGuard {
  private over = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limitMb: number,
    private readonly log: Logger,
    private readonly clients: () => GuardedClient[],
    private readonly readRss: () => number = () => process.memoryUsage.rss(),
  ) {
    if (limitMb > 0) {
      this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
      this.timer.unref();
    }
  }

  /** True while resident memory is above the limit: refuse new work. */
  get overLimit(): boolean {
    return this.over;
  }

  /** Reads memory once and acts on it (the timer calls this; tests may too). */
  check(): void {
    const rssMb = this.readRss() / (1024 * 1024);
    const over = rssMb > this.limitMb;
    if (over !== this.over) {
      this.over = over;
      if (over) {
        this.log.error(
          { rssMb: Math.round(rssMb), limitMb: this.limitMb },
          'memory limit reached: refusing new connections and publishes, closing the slowest readers',
        );
      } else this.log.warn({ rssMb: Math.round(rssMb) }, 'memory back under the limit: accepting work again');
    }
    if (over) this.shed();
  }

  /** Closes the connections with the largest outgoing backlog. */
  private shed(): void {
    const heavy = this.clients()
      .map((client) => ({ client, backlog: client.conn.writableLength ?? 0 }))
      .filter((c) => c.backlog >= SHED_MIN_BACKLOG)
      .sort((a, b) => b.backlog - a.backlog)
      .slice(0, SHED_PER_CHECK);
    for (const { client, backlog } of heavy) {
      this.log.warn(
        { clientId: client.id, backlogBytes: backlog },
        'client disconnected: memory limit reached and it had the most unsent bytes',
      );
      client.conn.destroy(new Error('broker memory limit reached'));
    }
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
