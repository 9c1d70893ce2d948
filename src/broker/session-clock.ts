/**
 * When each persistent session was last connected, so sessions can expire like Mosquitto's
 * `persistent_client_expiration`. Kept in a small JSON file in the data directory (written atomically)
 * so the clock survives a restart; in memory without one.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class SessionClock {
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly file: string | undefined,
    private readonly lastSeen: Map<string, number>,
  ) {
    if (file) {
      this.timer = setInterval(() => {
        // A full disk must not kill the broker: the times stay dirty and are written on the next try.
        this.flush().catch((error: Error) => {
          this.dirty = true;
          process.stderr.write(`hush: cannot write session times to ${this.file}: ${error.message}\n`);
        });
      }, 5000);
      this.timer.unref();
    }
  }

  /** Loads the clock from dataDir (or starts empty). */
  static async open(dataDir: string | undefined): Promise<SessionClock> {
    const file = dataDir ? path.join(dataDir, 'sessions.json') : undefined;
    const lastSeen = new Map<string, number>();
    if (file) {
      try {
        const data = JSON.parse(await readFile(file, 'utf8')) as Record<string, number>;
        for (const [id, ts] of Object.entries(data)) if (typeof ts === 'number') lastSeen.set(id, ts);
      } catch {
        // Missing or unreadable: sessions start their expiry clock now, which only delays expiry.
      }
    }
    return new SessionClock(file, lastSeen);
  }

  /** A client holds its session now: it cannot expire while connected. */
  connected(clientId: string): void {
    if (this.lastSeen.delete(clientId)) this.dirty = true;
  }

  /** A persistent session was left; its expiry clock starts. */
  disconnected(clientId: string, now = Date.now()): void {
    this.lastSeen.set(clientId, now);
    this.dirty = true;
  }

  /** Sessions whose last disconnect is older than maxAgeMs. */
  expired(maxAgeMs: number, now = Date.now()): string[] {
    return [...this.lastSeen].filter(([, ts]) => now - ts > maxAgeMs).map(([id]) => id);
  }

  forget(clientId: string): void {
    if (this.lastSeen.delete(clientId)) this.dirty = true;
  }

  private async flush(): Promise<void> {
    if (!this.file || !this.dirty) return;
    this.dirty = false;
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.lastSeen)), { mode: 0o600 });
    await rename(tmp, this.file);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
