import { waitForPort as waitForPortWithin } from '../../src/bench/ports.ts';

export { freePort } from '../../src/bench/ports.ts';

/** Resolves once something accepts TCP connections on 127.0.0.1:port, or rejects after timeoutMs. */
export function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  return waitForPortWithin(port, timeoutMs);
}
