// The attack suite's pure parts: target validation, the filters derived from the inbox pattern,
// canary fingerprints and the exit code a set of findings maps to.
import { describe, expect, it } from 'vitest';
import {
  everyInboxFilter,
  inboxPrefixFilter,
  inboxTopic,
  isLoopbackHost,
  levelWildcardFilter,
  resolveTarget,
} from '../../src/audit/target.ts';
import { fingerprint, isCanary, newCanary, randomClientId } from '../../src/audit/canary.ts';
import { attackChecks, summarizeFindings, type Finding } from '../../src/audit/index.ts';

const base = { url: 'mqtt://127.0.0.1:1883', attacker: {}, victim: {}, inboxPattern: 'chats/%c/messages' };

describe('audit target', () => {
  it('accepts the four MQTT URL schemes and refuses others, naming what came', () => {
    for (const url of ['mqtt://h:1', 'mqtts://h:1', 'ws://h:1/mqtt', 'wss://h:1/mqtt'])
      expect(() => resolveTarget({ ...base, url })).not.toThrow();
    expect(() => resolveTarget({ ...base, url: 'http://h:1' })).toThrow(
      'audit: broker URL must start with mqtt://, mqtts://, ws:// or wss://, got: http://',
    );
    expect(() => resolveTarget({ ...base, url: 'nonsense' })).toThrow('audit: broker URL is not a URL');
  });

  it('needs an inbox pattern with exactly one %c and no wildcards', () => {
    expect(() => resolveTarget({ ...base, inboxPattern: 'chats/messages' })).toThrow('%c exactly once');
    expect(() => resolveTarget({ ...base, inboxPattern: 'chats/+/%c' })).toThrow('plain topic');
    expect(() => resolveTarget({ ...base, attacker: { password: 'x' } })).toThrow(
      'attacker password given without a username',
    );
  });

  it('derives the filters an outsider would try from the inbox pattern', () => {
    expect(inboxTopic('chats/%c/messages', 'abc')).toBe('chats/abc/messages');
    expect(inboxPrefixFilter('chats/%c/messages')).toBe('chats/#');
    expect(everyInboxFilter('chats/%c/messages')).toBe('chats/+/messages');
    expect(levelWildcardFilter('chats/%c/messages')).toBe('+/+/+');
    expect(inboxPrefixFilter('/chats/%c/messages')).toBe('/chats/#');
    expect(levelWildcardFilter('/chats/%c/messages')).toBe('+/+/+/+');
  });

  it('treats only loopback hosts as local', () => {
    expect(isLoopbackHost(new URL('mqtt://127.0.0.1:1'))).toBe(true);
    expect(isLoopbackHost(new URL('mqtt://[::1]:1'))).toBe(true);
    expect(isLoopbackHost(new URL('mqtt://localhost:1'))).toBe(true);
    expect(isLoopbackHost(new URL('mqtt://10.0.0.1:1'))).toBe(false);
  });
});

describe('audit canaries and findings', () => {
  it('makes Hush-shaped random ids and recognisable canaries with short fingerprints', () => {
    expect(randomClientId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const canary = newCanary('wildcard-all');
    expect(isCanary(canary)).toBe(true);
    expect(isCanary('hello')).toBe(false);
    expect(fingerprint(canary)).toMatch(/^[0-9a-f]{8}$/);
    expect(canary).not.toContain(fingerprint(canary));
  });

  it('has unique, stable check ids', () => {
    const ids = attackChecks().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('takeover-persistent');
  });

  it('maps findings to the exit code of hush audit: leak or weakness 1, else inconclusive 2, else 0', () => {
    const f = (verdict: Finding['verdict']): Finding => ({
      id: verdict,
      title: '',
      verdict,
      severity: 'info',
      observed: '',
      why: '',
      fix: '',
    });
    expect(summarizeFindings([f('pass'), f('info')]).exitCode).toBe(0);
    expect(summarizeFindings([f('pass'), f('inconclusive')]).exitCode).toBe(2);
    expect(summarizeFindings([f('inconclusive'), f('weakness')]).exitCode).toBe(1);
    expect(summarizeFindings([f('leak')])).toEqual({ leaks: 1, weaknesses: 0, inconclusive: 0, exitCode: 1 });
  });
});
