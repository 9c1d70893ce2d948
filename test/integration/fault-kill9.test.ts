import { describe, expect, it } from 'vitest';
import { runKill9 } from '../../scripts/fault-kill9.ts';

/**
 * CI's share of the kill -9 scenario: scripts/fault-kill9.ts runs 10,000 messages (several minutes on two cores);
 * this many keep the file well under a minute while the kill still lands with a full window of texts in flight.
 */
const MESSAGES = 1500;

describe('hush broker killed with SIGKILL in the middle of a chat', () => {
  it(`delivers each of ${MESSAGES} QoS 1 texts once and in order after a restart on the same data dir`, async () => {
    const result = await runKill9({ count: MESSAGES, kills: 1, window: 100, timeoutMs: 60_000 });
    expect(result.killedAt).toEqual([MESSAGES / 2]);
    expect(result.figures).toEqual([
      { label: 'sender', sent: MESSAGES, delivered: MESSAGES, duplicated: 0, outOfOrder: 0, missing: [] },
    ]);
    // Every copy was acknowledged in the end: nothing stays "sending" at the sender.
    expect(result.pendingAtEnd).toBe(0);
    // A redelivered copy is dropped by the SDK; any other warning (a sequence gap) would mean loss or reordering.
    expect(Object.keys(result.warnings).filter((code) => code !== 'replay')).toEqual([]);
    console.log(`fault-kill9: ${JSON.stringify(result)}`);
  }, 120_000);
});
