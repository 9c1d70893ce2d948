/** The CLI's logger: pino, JSON lines on stderr so stdout stays for command output. */
import pino, { type Logger } from 'pino';

/** Creates the process logger; level from HUSH_LOG_LEVEL (default info). */
export function createCliLogger(): Logger {
  return pino(
    { level: process.env.HUSH_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
    pino.destination(2),
  );
}
