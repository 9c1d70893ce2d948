import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from '../../src/broker/limits/packet-guard.ts';
import { KeyedTokenBuckets, TokenBucket } from '../../src/broker/limits/token-bucket.ts';
import { clientIdProblem } from '../../src/broker/client-id.ts';

const publish = (payloadBytes: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'chats/x/messages',
    payload: Buffer.alloc(payloadBytes),
    qos: 0,
    dup: false,
    retain: false,
  });

describe('the packet size guard', () => {
  it('lets a stream of packets under the limit through, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 97 }),
        (sizes, chunk) => {
          const stream = Buffer.concat(sizes.map(publish));
          const guard = new PacketSizeGuard(4096);
          for (let i = 0; i < stream.length; i += chunk) {
            expect(guard.check(stream.subarray(i, i + chunk))).toBeUndefined();
          }
        },
      ),
    );
  });

  it('refuses the first packet over the limit at its header, wherever the split falls', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), (chunk) => {
        const header = publish(10_000).subarray(0, 5);
        const stream = Buffer.concat([publish(100), header]);
        const guard = new PacketSizeGuard(4096);
        let problem: string | undefined;
        for (let i = 0; i < stream.length && !problem; i += chunk)
          problem = guard.check(stream.subarray(i, i + chunk));
        expect(problem).toMatch(/exceeds the limit of 4096 bytes/);
      }),
    );
  });

  it('refuses a Remaining Length longer than four bytes and the reserved packet type 0', () => {
    expect(new PacketSizeGuard(1 << 30).check(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toMatch(
      /longer than 4 bytes/,
    );
    expect(new PacketSizeGuard(1 << 30).check(Buffer.from([0x00, 0x00]))).toMatch(/reserved/);
  });
});

describe('token buckets', () => {
  it('allow a burst, then the sustained rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(100)).toBe(false);
  });

  it('keep one bucket per address and a rate of 0 means unlimited', () => {
    const buckets = new KeyedTokenBuckets(1, 1);
    expect(buckets.take('a', 0)).toBe(true);
    expect(buckets.take('a', 0)).toBe(false);
    expect(buckets.take('b', 0)).toBe(true);
    const open = new KeyedTokenBuckets(0, 1);
    for (let i = 0; i < 100; i++) expect(open.take('a', 0)).toBe(true);
  });
});

describe('client id rules', () => {
  it('accept base64url ids up to 64 characters and refuse everything else with a reason', () => {
    expect(clientIdProblem('AbC_-09')).toBeUndefined();
    expect(clientIdProblem('x'.repeat(64))).toBeUndefined();
    expect(clientIdProblem('x'.repeat(65))).toMatch(/at most 64/);
    for (const bad of ['', 'a/b', '+', '#', 'a b', 'ü', 'a.b'])
      expect(clientIdProblem(bad), bad).toBeDefined();
  });
});

describe('token bucket refunds', () => {
  it('give back a token taken, never above the burst', () => {
    const buckets = new KeyedTokenBuckets(1, 2);
    expect(buckets.take('a', 0)).toBe(true);
    expect(buckets.take('a', 0)).toBe(true);
    expect(buckets.take('a', 0)).toBe(false);
    buckets.refund('a');
    expect(buckets.take('a', 0)).toBe(true);
    const bucket = new TokenBucket(1, 1, 0);
    bucket.refund();
    bucket.refund();
    expect([bucket.take(0), bucket.take(0)]).toEqual([true, false]);
  });
});
