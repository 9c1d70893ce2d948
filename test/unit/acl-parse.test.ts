// Unit tests for the aclfile reader (src/broker/acl/parse.ts): what Mosquitto 2.0.11's aclfile__parse
// accepts, how it assigns rules to anonymous clients, users and patterns, and what it refuses.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AclParseError, loadAclFile, parseAclFile, type AclFile } from '../../src/broker/acl/index.ts';

const parse = (text: string) => parseAclFile(text, '/etc/hush/aclfile');
const topics = (acl: AclFile, user?: string) =>
  (user === undefined ? acl.anonymous : (acl.users.get(user) ?? [])).map((r) => `${r.access} ${r.topic}`);

function parseError(text: string): AclParseError {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(AclParseError);
    return error as AclParseError;
  }
  throw new Error('expected an AclParseError');
}

describe('reading an aclfile', () => {
  it("reads the seed's two patterns with their access and line numbers", () => {
    const acl = parse('pattern read chats/%c/messages\npattern write chats/+/messages\n');
    expect(acl.patterns).toEqual([
      { kind: 'pattern', access: 'read', topic: 'chats/%c/messages', line: 1 },
      { kind: 'pattern', access: 'write', topic: 'chats/+/messages', line: 2 },
    ]);
    expect(acl.anonymous).toEqual([]);
    expect(acl.users.size).toBe(0);
    expect(acl.source).toBe('/etc/hush/aclfile');
  });

  it('gives rules before the first user line to anonymous clients and later ones to that user', () => {
    const acl = parse('topic read public/#\nuser alice\ntopic alice/#\nuser bob\ntopic write bob/out\n');
    expect(topics(acl)).toEqual(['read public/#']);
    expect(topics(acl, 'alice')).toEqual(['readwrite alice/#']);
    expect(topics(acl, 'bob')).toEqual(['write bob/out']);
  });

  it('puts a pattern inside a user block into the patterns for everyone', () => {
    const acl = parse('user alice\npattern read in/%c\ntopic read alice\n');
    expect(acl.patterns.map((r) => r.topic)).toEqual(['in/%c']);
    expect(topics(acl, 'alice')).toEqual(['read alice']);
  });

  it('treats a rule without an access word as readwrite', () => {
    expect(topics(parse('topic a/b\n'))).toEqual(['readwrite a/b']);
    expect(parse('pattern in/%u\n').patterns[0]?.access).toBe('readwrite');
  });

  it('reads all four access words, deny included', () => {
    const acl = parse('topic read a\ntopic write b\ntopic readwrite c\ntopic deny d\n');
    expect(topics(acl)).toEqual(['read a', 'write b', 'readwrite c', 'deny d']);
  });

  it('reads "topic read" as the topic named read with readwrite access, as Mosquitto does', () => {
    expect(topics(parse('topic read\n'))).toEqual(['readwrite read']);
    expect(topics(parse('topic deny\n'))).toEqual(['readwrite deny']);
  });

  it('keeps spaces inside a topic and trims blanks around it', () => {
    const acl = parse('topic read   my room/general chat  \t\n');
    expect(topics(acl)).toEqual(['read my room/general chat']);
  });

  it('accepts a username with spaces', () => {
    const acl = parse('user Jane Doe \ntopic read jane\n');
    expect([...acl.users.keys()]).toEqual(['Jane Doe']);
  });

  it('skips comments in the first column, blank and whitespace-only lines, and CRLF endings', () => {
    const acl = parse('# hush acl\r\n\r\n   \r\n\t\r\ntopic read a\r\n#topic write b\r\n');
    expect(topics(acl)).toEqual(['read a']);
    expect(acl.anonymous[0]?.line).toBe(5);
  });

  it('accepts spaces before the keyword', () => {
    expect(topics(parse('   topic read a\n'))).toEqual(['read a']);
  });

  it('merges a second block for the same user into the first', () => {
    const acl = parse('user alice\ntopic read a\nuser bob\ntopic read b\nuser alice\ntopic write c\n');
    expect(topics(acl, 'alice')).toEqual(['read a', 'write c']);
  });

  it('creates no user entry for a user line without rules', () => {
    const acl = parse('user ghost\nuser alice\ntopic read a\n');
    expect([...acl.users.keys()]).toEqual(['alice']);
  });

  it('reads an empty file as no rules at all', () => {
    const acl = parse('');
    expect(acl).toEqual({ source: '/etc/hush/aclfile', anonymous: [], users: new Map(), patterns: [] });
  });

  it('ignores everything after a NUL byte on a line, as a C string would', () => {
    expect(topics(parse('topic read a\0 b\n'))).toEqual(['read a']);
  });
});

describe('refusing an aclfile Mosquitto would refuse', () => {
  it('names the file, the line and the expected keywords for an unknown keyword', () => {
    const error = parseError('# comment\n\ntopic read a\nuser bob\ntopic read b\n\ntopc read c\n');
    expect(error.message).toBe(
      "aclfile /etc/hush/aclfile line 7: unknown keyword 'topc': expected 'user', 'topic', 'pattern' or a '#' comment in column 1",
    );
    expect(error.source).toBe('/etc/hush/aclfile');
    expect(error.line).toBe(7);
  });

  it('refuses a comment that does not start in the first column', () => {
    expect(parseError('topic a\n  # indented\n').message).toMatch(/line 2: unknown keyword '#'/);
  });

  it('refuses a tab between keyword and topic, because Mosquitto splits on spaces only', () => {
    expect(parseError('topic\tread a\n').message).toMatch(/line 1: unknown keyword 'topic\tread'/);
  });

  it('refuses a topic or pattern line without a topic', () => {
    expect(parseError('topic\n').message).toBe(
      "aclfile /etc/hush/aclfile line 1: 'topic' without a topic: expected 'topic [read|write|readwrite|deny] TOPIC'",
    );
    expect(parseError('topic read a\npattern   \n').line).toBe(2);
  });

  it('refuses a user line without a username', () => {
    expect(parseError('user alice\ntopic a\nuser  \n').message).toBe(
      "aclfile /etc/hush/aclfile line 3: 'user' without a username: expected 'user NAME'",
    );
  });

  it('refuses an unknown or miscapitalised access word', () => {
    expect(parseError('topic Read a\n').message).toBe(
      "aclfile /etc/hush/aclfile line 1: unknown access 'Read': expected read, write, readwrite or deny before the topic",
    );
  });

  it('refuses a topic with a space but no access word, since its first word is taken as the access', () => {
    expect(parseError('topic my room\n').message).toMatch(/line 1: unknown access 'my'/);
  });

  it('refuses invalid topic filters the way mosquitto_sub_topic_check does', () => {
    expect(parseError('topic a/#/b\n').message).toBe(
      "aclfile /etc/hush/aclfile line 1: invalid topic filter 'a/#/b': '#' must be the whole last level, got '#'",
    );
    expect(parseError('pattern read a+/%c\n').message).toMatch(
      /invalid topic filter 'a\+\/%c': '\+' must fill a whole level/,
    );
    expect(parseError('topic read a/b#\n').message).toMatch(/'#' must be the whole last level, got 'b#'/);
  });
});

describe('loading an aclfile from disk', () => {
  it('reads the file and names it as the source', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hush-acl-'));
    try {
      const file = path.join(dir, 'aclfile');
      await writeFile(file, 'user alice\ntopic read a\n');
      const acl = await loadAclFile(file);
      expect(acl.source).toBe(file);
      expect(topics(acl, 'alice')).toEqual(['read a']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the path when the file cannot be read', async () => {
    await expect(loadAclFile('/nonexistent/hush/aclfile')).rejects.toThrow(
      /^aclfile \/nonexistent\/hush\/aclfile: cannot read it: ENOENT/,
    );
  });

  it('names the path and line when the file does not parse', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hush-acl-'));
    try {
      const file = path.join(dir, 'aclfile');
      await writeFile(file, 'topic read a\nbogus\n');
      await expect(loadAclFile(file)).rejects.toThrow(`aclfile ${file} line 2: unknown keyword 'bogus'`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
