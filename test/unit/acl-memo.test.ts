// The per-client ACL remembers the last topic it checked in each direction (src/broker/acl/evaluate.ts, a
// speed-up `hush bench` motivated). Remembering must never change a verdict: a client that first reads its
// own inbox must still be refused a neighbour's, whatever order topics come in, whichever direction was
// asked last, and however long the topic is.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileClientAcl, parseAclFile } from '../../src/broker/acl/index.ts';

const ACL = parseAclFile(
  [
    'pattern read chats/%c/messages',
    'pattern write chats/+/messages',
    'user alice',
    'topic deny chats/bob/messages',
    'topic read news/#',
    'topic write drafts/+',
  ].join('\n') + '\n',
  'memo-aclfile',
);

const topics = fc.constantFrom(
  'chats/alice/messages',
  'chats/bob/messages',
  'chats/carol/messages',
  'news/today',
  'news',
  'drafts/x',
  '$SYS/broker/uptime',
  '$share/g/chats/alice/messages',
  `chats/${'a'.repeat(300)}/messages`,
  `news/${'n'.repeat(300)}`,
);

describe('remembered ACL verdicts', () => {
  it('are the verdicts of a freshly compiled ACL, for any sequence of reads and writes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<[string, string | undefined]>(
          ['alice', 'alice'],
          ['carol', undefined],
          ['bob', 'bob'],
        ),
        fc.array(fc.tuple(fc.boolean(), topics), { minLength: 1, maxLength: 40 }),
        ([clientId, username], steps) => {
          const reused = compileClientAcl(ACL, { clientId, username });
          for (const [read, topic] of steps) {
            const fresh = compileClientAcl(ACL, { clientId, username });
            const expected = read ? fresh.canRead(topic) : fresh.canWrite(topic);
            expect(read ? reused.canRead(topic) : reused.canWrite(topic)).toBe(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a neighbour's inbox right after granting the client's own, and grants it again after", () => {
    const alice = compileClientAcl(ACL, { clientId: 'alice', username: 'alice' });
    expect(alice.canRead('chats/alice/messages')).toBe(true);
    expect(alice.canRead('chats/carol/messages')).toBe(false);
    expect(alice.canWrite('chats/alice/messages')).toBe(true);
    expect(alice.canRead('chats/alice/messages')).toBe(true);
    // Write access to an inbox never leaks into read access through the remembered topic.
    expect(alice.canWrite('chats/carol/messages')).toBe(true);
    expect(alice.canRead('chats/carol/messages')).toBe(false);
  });
});
