// Unit tests for per-client checks (src/broker/acl/evaluate.ts, match.ts) against the rules of
// Mosquitto 2.0.11's default ACL: user blocks, patterns, deny-first, fall-through, `$` topics, the
// +/# guard, and Hush's own rule for subscribing to `$` filters.

import { describe, expect, it } from 'vitest';
import { compileClientAcl, parseAclFile, topicMatchesFilter } from '../../src/broker/acl/index.ts';

const SEED = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

function client(aclText: string, clientId: string, username?: string) {
  return compileClientAcl(parseAclFile(aclText, 'test-aclfile'), { clientId, username });
}

describe("the seed's inbox ACL", () => {
  const victim = client(SEED, 'victim1');
  const attacker = client(SEED, 'attacker1', 'mallory');

  it('lets the owner read their own inbox', () => {
    expect(victim.canRead('chats/victim1/messages')).toBe(true);
  });

  it("does not let anyone else read the victim's inbox, with or without a username", () => {
    expect(attacker.canRead('chats/victim1/messages')).toBe(false);
    expect(client(SEED, 'other').canRead('chats/victim1/messages')).toBe(false);
  });

  it('lets anyone write into any inbox, their own included', () => {
    expect(attacker.canWrite('chats/victim1/messages')).toBe(true);
    expect(victim.canWrite('chats/victim1/messages')).toBe(true);
  });

  it('gives no write on read-only and no read on write-only topics', () => {
    expect(victim.canRead('chats/attacker1/messages')).toBe(false);
    expect(attacker.canWrite('chats/attacker1/other')).toBe(false);
  });

  it('grants every plain subscription, leaving the filtering to deliveries', () => {
    expect(attacker.canSubscribe('#')).toBe(true);
    expect(attacker.canSubscribe('chats/+/messages')).toBe(true);
  });

  it('substitutes an id with a slash as plain text, so it spans several levels', () => {
    const split = client(SEED, 'a/b');
    expect(split.canRead('chats/a/b/messages')).toBe(true);
    expect(split.canRead('chats/a/messages')).toBe(false);
  });
});

describe('choosing the rules of a client', () => {
  const ACL = 'topic read public\nuser alice\ntopic read alice/#\nuser bob smith\ntopic read bob\n';

  it('gives a client without a username the rules before the first user line', () => {
    expect(client(ACL, 'c').canRead('public')).toBe(true);
    expect(client(ACL, 'c').canRead('alice/x')).toBe(false);
  });

  it("gives a client with a username that user's rules and not the anonymous ones", () => {
    const alice = client(ACL, 'c', 'alice');
    expect(alice.canRead('alice/x')).toBe(true);
    expect(alice.canRead('public')).toBe(false);
    expect(client(ACL, 'c', 'bob smith').canRead('bob')).toBe(true);
  });

  it('gives a username without a block only the patterns', () => {
    const carol = client(ACL + 'pattern read home/%u\n', 'c', 'carol');
    expect(carol.canRead('public')).toBe(false);
    expect(carol.canRead('home/carol')).toBe(true);
  });

  it('denies everything when the aclfile is empty', () => {
    const nobody = client('', 'c');
    expect(nobody.canRead('a')).toBe(false);
    expect(nobody.canWrite('a')).toBe(false);
    expect(client('# only a comment\n', 'c', 'alice').canWrite('a')).toBe(false);
  });

  it('denies an anonymous client everything when only user blocks exist', () => {
    expect(client('user alice\ntopic #\n', 'c').canRead('a')).toBe(false);
  });

  it('treats a rule without an access word as read and write', () => {
    const c = client('topic a/+\n', 'c');
    expect(c.canRead('a/b')).toBe(true);
    expect(c.canWrite('a/b')).toBe(true);
  });

  it('matches a topic rule with spaces against a topic with the same spaces', () => {
    const c = client('topic readwrite my room/general chat\n', 'c');
    expect(c.canWrite('my room/general chat')).toBe(true);
    expect(c.canWrite('my room/general')).toBe(false);
  });
});

describe('the order of evaluation', () => {
  it('falls through a match whose access does not cover the request', () => {
    const c = client('topic read a\ntopic write a\n', 'c');
    expect(c.canRead('a')).toBe(true);
    expect(c.canWrite('a')).toBe(true);
  });

  it('falls through from topic rules to patterns', () => {
    const c = client('topic read a/#\npattern write a/%c\n', 'me');
    expect(c.canWrite('a/me')).toBe(true);
    expect(c.canWrite('a/you')).toBe(false);
  });

  it('applies a deny rule before earlier grants in the same list', () => {
    const c = client('topic read #\ntopic deny secret/#\n', 'c');
    expect(c.canRead('secret/plans')).toBe(false);
    expect(c.canRead('public')).toBe(true);
  });

  it('stops at a matching deny topic rule instead of falling through to a granting pattern', () => {
    const c = client('topic deny a/#\npattern readwrite a/%c\n', 'me');
    expect(c.canRead('a/me')).toBe(false);
  });

  it('applies a deny pattern before an earlier granting pattern', () => {
    const c = client('pattern read #\npattern deny private/%c\n', 'me');
    expect(c.canRead('private/me')).toBe(false);
    expect(c.canRead('private/you')).toBe(true);
  });

  it("lets a topic grant win over a deny pattern, because the client's topic list comes first", () => {
    const c = client('topic read private/#\npattern deny private/%c\n', 'me');
    expect(c.canRead('private/me')).toBe(true);
  });

  it('denies a topic with wildcards in it whatever the rules say', () => {
    const c = client('topic readwrite #\n', 'c');
    expect(c.canWrite('a/+')).toBe(false);
    expect(c.canRead('a/#')).toBe(false);
    expect(c.canRead('')).toBe(false);
  });
});

describe('%c and %u in patterns', () => {
  it('substitutes the username for %u', () => {
    const c = client('pattern readwrite users/%u/#\n', 'id1', 'alice');
    expect(c.canWrite('users/alice/x')).toBe(true);
    expect(c.canWrite('users/id1/x')).toBe(false);
  });

  it('skips a %u pattern for a client without a username, even against a literal %u topic', () => {
    const c = client('pattern readwrite %u\npattern readwrite users/%u/#\n', 'id1');
    expect(c.canRead('%u')).toBe(false);
    expect(c.canRead('users/%u/x')).toBe(false);
  });

  it('substitutes inside a level as plain text', () => {
    const c = client('pattern read inbox-%c\n', 'x1');
    expect(c.canRead('inbox-x1')).toBe(true);
  });

  it('substitutes %u as the empty string for an empty username', () => {
    const c = client('pattern read home/%u/x\n', 'id1', '');
    expect(c.canRead('home//x')).toBe(true);
  });

  it('leaves %c in a topic rule alone: only patterns are substituted', () => {
    const c = client('topic read in/%c\n', 'x1');
    expect(c.canRead('in/x1')).toBe(false);
    expect(c.canRead('in/%c')).toBe(true);
  });
});

describe('the +/# guard on client ids and usernames (CVE-2017-7650)', () => {
  const ACL = 'topic read open\npattern read chats/%c/messages\npattern read users/%u\npattern read all/#\n';

  it('denies every check that reaches the patterns for an id with + or #', () => {
    expect(client(ACL, 'x+').canRead('chats/x+/messages')).toBe(false);
    expect(client(ACL, 'x#').canRead('all/a')).toBe(false);
  });

  it('denies every check that reaches the patterns for a username with + or #', () => {
    expect(client(ACL, 'ok', 'v+').canRead('all/a')).toBe(false);
    expect(client(ACL, 'ok', '#').canRead('users/#')).toBe(false);
  });

  it("still applies the client's own topic rules first", () => {
    expect(client(ACL, 'x+').canRead('open')).toBe(true);
  });

  it('does not apply when the file has no patterns', () => {
    expect(client('topic read open\n', 'x+').canRead('open')).toBe(true);
    expect(client('user v+\ntopic read open\n', 'x', 'v+').canRead('open')).toBe(true);
  });

  it('does not refuse a slash in an id', () => {
    expect(client(ACL, 'a/b').canRead('chats/a/b/messages')).toBe(true);
  });
});

describe('$ topics', () => {
  it('does not let # or + rules reach $ topics', () => {
    const c = client('topic readwrite #\ntopic read +/a\npattern read #\n', 'c');
    expect(c.canRead('$SYS/broker/uptime')).toBe(false);
    expect(c.canRead('$x/a')).toBe(false);
    expect(c.canWrite('$x/a')).toBe(false);
  });

  it('lets a rule that starts with $ grant a $ topic', () => {
    const c = client('topic read $SYS/#\ntopic readwrite $x/+\n', 'c');
    expect(c.canRead('$SYS/broker/uptime')).toBe(true);
    expect(c.canWrite('$x/a')).toBe(true);
  });

  it('lets a pattern that starts with $ grant a $ topic', () => {
    expect(client('pattern read $x/%c\n', 'me').canRead('$x/me')).toBe(true);
  });

  it('denies writes to $SYS even when the aclfile grants them', () => {
    const c = client('topic readwrite $SYS/#\ntopic readwrite $SYSTEM/#\n', 'c');
    expect(c.canWrite('$SYS/broker/uptime')).toBe(false);
    // Mosquitto compares the first four characters only.
    expect(c.canWrite('$SYSTEM/a')).toBe(false);
    expect(c.canRead('$SYSTEM/a')).toBe(true);
  });

  it('allows a granted write to a bridge status topic, as Mosquitto does', () => {
    expect(client('topic write $SYS/#\n', 'c').canWrite('$SYS/broker/connection/b1/state')).toBe(true);
    expect(client('', 'c').canWrite('$SYS/broker/connection/b1/state')).toBe(false);
  });

  it('never reads or writes a $share topic name', () => {
    const c = client('topic readwrite $share/#\n', 'c');
    expect(c.canRead('$share/g/a')).toBe(false);
    expect(c.canWrite('$share/g/a')).toBe(false);
  });
});

describe('subscribing to $ filters (Hush rule)', () => {
  it('refuses $SYS/# to a client without a read rule for it', () => {
    expect(client('topic readwrite #\n', 'c').canSubscribe('$SYS/#')).toBe(false);
    expect(client('topic write $SYS/#\n', 'c').canSubscribe('$SYS/#')).toBe(false);
    expect(client('', 'c').canSubscribe('$SYS/#')).toBe(false);
  });

  it('grants a $ filter covered by one read rule of this client', () => {
    const c = client('topic read $SYS/broker/+\n', 'c');
    expect(c.canSubscribe('$SYS/broker/uptime')).toBe(true);
    expect(c.canSubscribe('$SYS/broker/+')).toBe(true);
    expect(c.canSubscribe('$SYS/broker/+/x')).toBe(false);
    expect(c.canSubscribe('$SYS/#')).toBe(false);
  });

  it('grants a $ filter covered by a substituted pattern', () => {
    const c = client('pattern read $x/%c/#\n', 'me');
    expect(c.canSubscribe('$x/me/#')).toBe(true);
    expect(c.canSubscribe('$x/me')).toBe(true);
    expect(c.canSubscribe('$x/you/#')).toBe(false);
  });

  it("does not count another user's rules or blocked patterns", () => {
    const ACL = 'pattern read $x/%c/#\nuser admin\ntopic read $SYS/#\n';
    expect(client(ACL, 'c', 'alice').canSubscribe('$SYS/#')).toBe(false);
    expect(client(ACL, 'c', 'admin').canSubscribe('$SYS/#')).toBe(true);
    expect(client(ACL, 'c+').canSubscribe('$x/c+/#')).toBe(false);
  });
});

describe('MQTT topic matching', () => {
  const cases: [filter: string, topic: string, matches: boolean][] = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a/', true],
    ['+/b', '/b', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/+/#', 'a', false],
    ['a/+/#', 'a/b', true],
    ['#', 'a/b', true],
    ['#', '/a', true],
    ['/#', 'a', false],
    ['a', 'a/', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['$SYS/#', '$SYS', true],
    ['$SYS/+', 'SYS/x', false],
    ['a b/c', 'a b/c', true],
  ];
  it.each(cases)('matches filter %j against topic %j: %s', (filter, topic, matches) => {
    expect(topicMatchesFilter(filter, topic)).toBe(matches);
  });

  it('never matches an invalid filter or a topic with wildcards', () => {
    expect(topicMatchesFilter('a/#/b', 'a/x/b')).toBe(false);
    expect(topicMatchesFilter('a+', 'a+')).toBe(false);
    expect(topicMatchesFilter('', '')).toBe(false);
    expect(topicMatchesFilter('#', 'a/+')).toBe(false);
  });
});
