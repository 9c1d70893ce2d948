/** Keeps a long-running command alive until SIGINT/SIGTERM, and reloads on SIGHUP as Mosquitto does. */
import type { Logger } from 'pino';

/** Waits for SIGINT or SIGTERM, calling reload() on each SIGHUP, then close() once. */
export async function runUntilSignal(
  log: Logger,
  reload: () => Promise<unknown>,
  close: () => Promise<void>,
): Promise<void> {
  const onHup = () => {
    log.info('SIGHUP: reloading');
    reload().catch((error: Error) => log.error({ reason: error.message }, 'reload failed'));
  };
  process.on('SIGHUP', onHup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.off('SIGHUP', onHup);
  log.info({ signal }, 'shutting down');
  await close();
}
