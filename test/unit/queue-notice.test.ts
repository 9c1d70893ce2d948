// The embedded broker's `$hush/queue/dropped` notice (src/client/queue-notice.ts): a valid notice is read with its
// counts; anything else — not JSON, wrong version, extra or missing fields, negative or absurd numbers, oversized —
// is refused with a reason, never thrown.
import { describe, expect, it } from 'vitest';
import {
  describeQueueDropped,
  parseQueueDroppedNotice,
  QUEUE_DROPPED_TOPIC,
} from '../../src/client/queue-notice.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const refused = (payload: Uint8Array): string => {
  const result = parseQueueDroppedNotice(payload);
  if (result.ok) throw new Error(`accepted ${new TextDecoder().decode(payload)}`);
  return result.reason;
};

describe('queue-dropped notice', () => {
  it('is read on the topic the broker writes', () => {
    expect(QUEUE_DROPPED_TOPIC).toBe('$hush/queue/dropped');
  });

  it('a valid notice gives its counts and a sentence naming them', () => {
    const result = parseQueueDroppedNotice(
      bytes('{"v":1,"dropped":995,"droppedBytes":204800,"since":1764930000000}'),
    );
    expect(result).toEqual({
      ok: true,
      notice: { v: 1, dropped: 995, droppedBytes: 204800, since: 1764930000000 },
    });
    if (!result.ok) return;
    const text = describeQueueDropped(result.notice);
    expect(text).toContain('dropped 995 messages');
    expect(text).toContain('200 KiB');
    expect(text).toContain(new Date(1764930000000).toISOString());
  });

  it.each([
    ['not JSON', bytes('dropped=5'), 'not UTF-8 JSON'],
    ['bad UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'not UTF-8 JSON'],
    ['a JSON array', bytes('[1]'), 'malformed'],
    ['another version', bytes('{"v":2,"dropped":1,"droppedBytes":1,"since":1}'), 'v:'],
    ['an extra field', bytes('{"v":1,"dropped":1,"droppedBytes":1,"since":1,"x":1}'), 'malformed'],
    ['a missing field', bytes('{"v":1,"dropped":1,"since":1}'), 'droppedBytes'],
    ['zero dropped', bytes('{"v":1,"dropped":0,"droppedBytes":0,"since":1}'), 'dropped'],
    ['a negative count', bytes('{"v":1,"dropped":-3,"droppedBytes":1,"since":1}'), 'dropped'],
    ['a fraction', bytes('{"v":1,"dropped":1.5,"droppedBytes":1,"since":1}'), 'dropped'],
    ['a string count', bytes('{"v":1,"dropped":"5","droppedBytes":1,"since":1}'), 'dropped'],
    ['a time past Date', bytes('{"v":1,"dropped":1,"droppedBytes":1,"since":9007199254740991}'), 'since'],
    ['an oversized payload', bytes(`{"v":1,"pad":"${'x'.repeat(2000)}"}`), 'bytes'],
  ])('%s is refused with a reason', (_what, payload, reason) => {
    expect(refused(payload)).toContain(reason);
  });
});
