import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressKey,
  clientAddress,
  clientAddressKey,
  normaliseAddress,
  TrustedProxies,
  trustedProxyProblem,
} from '../../src/broker/limits/client-address.ts';

describe('rate-limit keys of client addresses', () => {
  it('key IPv4 per address and IPv6 per /64, whatever the spelling', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('[2001:db8:1:2::9]:443')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });

  it('give every address of one /64 the same key and neighbouring /64s different ones', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 8, maxLength: 8 }),
        fc.array(group, { minLength: 4, maxLength: 4 }),
        (a, tail) => {
          const one = a.map((g) => g.toString(16)).join(':');
          const sameNet = [...a.slice(0, 4), ...tail].map((g) => g.toString(16)).join(':');
          if (a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0) return; // ::/64 holds mapped IPv4
          expect(addressKey(one)).toBe(addressKey(sameNet));
          const otherNet = [...a.slice(0, 3), (a[3]! + 1) & 0xffff, ...a.slice(4)]
            .map((g) => g.toString(16))
            .join(':');
          expect(addressKey(otherNet)).not.toBe(addressKey(one));
        },
      ),
    );
  });

  it('read IPv4-mapped IPv6 as the IPv4 address, in dotted and in hex form', () => {
    expect(normaliseAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normaliseAddress('::FFFF:c000:201')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('0:0:0:0:0:ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1:51000')).toBe('192.0.2.1');
    expect(normaliseAddress('not an address')).toBeUndefined();
    expect(normaliseAddress('1.2.3.4.5')).toBeUndefined();
  });
});

describe('X-Forwarded-For', () => {
  const proxies = ['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.10'];

  it('is ignored when the direct peer is not a trusted proxy (a spoofed header)', () => {
    expect(clientAddress('198.51.100.9', '1.2.3.4', proxies)).toBe('198.51.100.9');
    expect(clientAddress('198.51.100.9', '1.2.3.4', [])).toBe('198.51.100.9');
    // A client rotating the header still lands in its own bucket.
    const keys = new Set(
      Array.from({ length: 50 }, (_, i) =>
        clientAddressKey('::ffff:198.51.100.9', `203.0.113.${i}`, proxies),
      ),
    );
    expect([...keys]).toEqual(['198.51.100.9']);
  });

  it('from a trusted proxy gives the right-most address that is not a trusted proxy', () => {
    expect(clientAddress('10.1.1.1', '203.0.113.5', proxies)).toBe('203.0.113.5');
    expect(clientAddress('::ffff:10.1.1.1', '203.0.113.5', proxies)).toBe('203.0.113.5');
    // The client wrote "6.6.6.6" itself; its own proxy appended the real address after it.
    expect(clientAddress('10.1.1.1', '6.6.6.6, 203.0.113.5, 10.2.2.2', proxies)).toBe('203.0.113.5');
    expect(clientAddress('192.0.2.10', '6.6.6.6,2001:db8:1:2::7', proxies)).toBe('2001:db8:1:2::7');
    expect(clientAddressKey('192.0.2.10', '2001:db8:1:2::7', proxies)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8:ffff:1::1', '[2001:db8:5::1]:4431', proxies)).toBe('2001:db8:5::1');
    // Several header lines are one list, in order.
    expect(clientAddress('10.1.1.1', ['6.6.6.6', '203.0.113.5'], proxies)).toBe('203.0.113.5');
  });

  it('from a trusted proxy without a usable entry counts against that proxy', () => {
    expect(clientAddress('10.1.1.1', undefined, proxies)).toBe('10.1.1.1');
    expect(clientAddress('10.1.1.1', '', proxies)).toBe('10.1.1.1');
    expect(clientAddress('10.1.1.1', 'unknown', proxies)).toBe('10.1.1.1');
    expect(clientAddress('10.1.1.1', '203.0.113.5, garbage', proxies)).toBe('10.1.1.1');
    // Only trusted proxies in the list: the left-most is as far as anyone vouches.
    expect(clientAddress('10.1.1.1', '10.3.3.3, 10.2.2.2', proxies)).toBe('10.3.3.3');
  });

  it('never lets a header sent by an untrusted peer choose the key (property)', () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), { maxLength: 6 }),
        (peer, hops) => {
          if (peer.startsWith('10.') || peer === '192.0.2.10') return;
          expect(clientAddressKey(peer, hops.join(', '), proxies)).toBe(peer);
        },
      ),
    );
  });
});

describe('trusted proxy lists', () => {
  it('accept addresses and CIDR ranges of both families, mapped IPv4 included', () => {
    const list = new TrustedProxies(['10.0.0.0/8', 'fd00::/8', '::ffff:172.16.0.0/108', '127.0.0.1']);
    expect(list.contains('10.200.0.1')).toBe(true);
    expect(list.contains('11.0.0.1')).toBe(false);
    expect(list.contains('fd12::1')).toBe(true);
    expect(list.contains('fe80::1')).toBe(false);
    expect(list.contains('172.16.5.5')).toBe(true);
    expect(list.contains('172.32.0.1')).toBe(false);
    expect(list.contains('127.0.0.1')).toBe(true);
    expect(list.contains('not an address')).toBe(false);
  });

  it('refuse entries that are not addresses, with a sentence naming the entry', () => {
    expect(trustedProxyProblem('10.0.0.0/8')).toBeUndefined();
    expect(trustedProxyProblem('proxy.example')).toMatch(/"proxy.example".*IP address or a CIDR range/);
    expect(trustedProxyProblem('10.0.0.0/33')).toMatch(/from 0 to 32/);
    expect(trustedProxyProblem('fd00::/129')).toMatch(/from 0 to 128/);
    expect(trustedProxyProblem('10.0.0.0/8/8')).toMatch(/CIDR/);
    expect(() => new TrustedProxies(['10.0.0.0/x'])).toThrow(/10.0.0.0\/x/);
  });
});
