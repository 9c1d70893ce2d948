/**
 * Keeps a long-running command alive until SIGINT/SIGTERM, and reloads on SIGHUP as Mosquitto does.
 *
 * Shutdown is bounded: whatever is connected, the process is gone within the deadline (5 s). If close() has
 * not finished by then it exits 1 saying so; a second SIGINT/SIGTERM during shutdown exits at once (the
 * impatient Ctrl-C Ctrl-C). Both lines go to stderr as plain text, so a person at the terminal reads them.
 */
import { constants } from 'node:os';
import type { Logger } from 'pino';

/** How long a shutdown may take before the process exits anyway. */
export const SHUTDOWN_DEADLINE_MS = 5000;

export interface RunUntilSignalOptions {
  /** Exit with code 1 if close() has not finished this long after the signal (5 s). */
  deadlineMs?: number;
}

/** The exit code a shell reports for a process ended by `signal` (128 + its number: 130 for SIGINT). */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}

/**
 * Waits for SIGINT or SIGTERM, calling reload() on each SIGHUP, then close() once within the deadline. The
 * process then ends by itself (exit code 0); if something still holds it open when the deadline comes, it
 * exits 0 then, as the shutdown itself did finish.
 */
export async function runUntilSignal(
  log: Logger,
  reload: () => Promise<unknown>,
  close: () => Promise<void>,
  options: RunUntilSignalOptions = {},
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
  const onHup = () => {
    log.info('SIGHUP: reloading');
    reload().catch((error: Error) => log.error({ reason: error.message }, 'reload failed'));
  };
  process.on('SIGHUP', onHup);
  let shuttingDown = false;
  let closed = false;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    // Listeners stay installed for the whole shutdown: without them a second signal would get Node's default
    // handling (killed by the signal, no word said) and a SIGHUP would kill the process mid-flush.
    const onStop = (received: NodeJS.Signals) => {
      if (!shuttingDown) {
        shuttingDown = true;
        resolve(received);
        return;
      }
      process.stderr.write(
        `hush: second signal (${received}): exiting now without waiting for the shutdown to finish\n`,
      );
      process.exit(signalExitCode(received));
    };
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
  });
  process.off('SIGHUP', onHup);
  process.on('SIGHUP', () => log.info('SIGHUP ignored: shutting down'));
  log.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => {
    if (closed) {
      // Everything was closed and flushed; some stray handle (a timer, a socket) still kept the loop alive.
      process.exit(process.exitCode ?? 0);
    }
    process.stderr.write(
      `hush: shutdown did not finish within ${deadlineMs / 1000} s: exiting without waiting for it\n`,
    );
    process.exit(1);
  }, deadlineMs);
  try {
    await close();
  } catch (error) {
    process.stderr.write(`hush: shutdown failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
  closed = true;
  // From here the timer only guards against a handle that keeps the process alive; it must not hold it.
  deadline.unref();
}
