// Content objects (src/core/content.ts, docs/PROTOCOL.md §5): every kind round-trips; extra fields, unknown kinds
// and other versions are rejected with their own codes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/core/bytes.ts';
import { decodeContent, encodeContent, type Content } from '../../src/core/content.ts';
import { HushProtocolError } from '../../src/core/errors.ts';

const ID = 'AAECAwQFBgcICQoLDA0ODw';
const ID2 = 'EBESExQVFhcYGRobHB0eHw';
const KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const identity = { id: ID2, sign: KEY, agree: KEY };
const base = { v: 1 as const, chat: ID, epoch: 3, from: ID2, id: ID, seq: 7, ts: 1767225600000 };
const direct = { ...base, seq: 0 as const };

const examples: Content[] = [
  { ...base, kind: 'text', text: 'hello' },
  { ...base, kind: 'text', text: 'reply', replyTo: ID2 },
  { ...base, kind: 'receipt', status: 'read', ids: [ID, ID2] },
  { ...base, seq: 0, kind: 'typing', active: true },
  { ...base, seq: 0, kind: 'presence', state: 'away' },
  { ...base, kind: 'leave' },
  {
    ...direct,
    kind: 'epoch',
    to: ID2,
    key: KEY,
    members: [identity],
    admins: [ID2],
    creator: ID2,
    name: 'team',
  },
  {
    ...direct,
    kind: 'join-request',
    epoch: 0,
    to: ID2,
    invite: ID,
    proof: KEY,
    joiner: identity,
    displayName: 'Bo',
  },
  { ...direct, kind: 'join-refused', epoch: 0, to: ID2, invite: ID, reason: 'invite: already used' },
];

/** The code of the HushProtocolError `f` throws. */
function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(HushProtocolError);
    return (error as HushProtocolError).code;
  }
  throw new Error('did not throw');
}
const decodeJson = (value: unknown) => () => decodeContent(utf8(JSON.stringify(value)));

describe('content', () => {
  it('round-trips every kind through UTF-8 JSON', () => {
    for (const content of examples) expect(decodeContent(encodeContent(content))).toEqual(content);
  });

  it('rejects an extra field in every kind as bad-content', () => {
    for (const content of examples) expect(codeOf(decodeJson({ ...content, extra: 1 }))).toBe('bad-content');
    expect(codeOf(decodeJson({ ...examples[6]!, members: [{ ...identity, name: 'x' }] }))).toBe(
      'bad-content',
    );
  });

  it('rejects an unknown kind as unknown-kind, never ignoring it', () => {
    expect(codeOf(decodeJson({ ...base, kind: 'poll', question: '?' }))).toBe('unknown-kind');
    expect(codeOf(decodeJson({ ...base, kind: 'toString' }))).toBe('unknown-kind');
    expect(codeOf(decodeJson({ ...base, kind: '__proto__' }))).toBe('unknown-kind');
  });

  it('rejects any version but 1 as unknown-version', () => {
    for (const v of [0, 2, '1', null])
      expect(codeOf(decodeJson({ ...examples[0]!, v }))).toBe('unknown-version');
  });

  it('rejects missing fields, wrong types and out-of-range values as bad-content', () => {
    const text = examples[0]!;
    const { id: _id, ...noId } = text;
    for (const bad of [
      noId,
      { ...text, text: '' },
      { ...text, text: 'x'.repeat(65537) },
      { ...text, seq: 0 },
      { ...text, epoch: 0 },
      { ...text, epoch: 2 ** 32 },
      { ...text, ts: 1.5 },
      { ...text, chat: 'AAECAwQFBgcICQoLDA0ODx' /* non-canonical */ },
      { ...text, from: `${ID}A` },
      { ...examples[2]!, ids: [] },
      { ...examples[2]!, status: 'seen' },
      { ...examples[6]!, seq: 1 },
      { ...examples[6]!, key: ID },
      { ...examples[6]!, admins: [] },
      [text],
      'text',
      { ...text, kind: 7 },
    ]) {
      expect(codeOf(decodeJson(bad))).toBe('bad-content');
    }
  });

  it('counts text length in code points: 65536 emoji are accepted', () => {
    const long = { ...base, kind: 'text' as const, text: '😀'.repeat(65536) };
    expect(decodeContent(encodeContent(long))).toEqual(long);
  });

  it('rejects bytes that are not strict UTF-8 JSON', () => {
    expect(codeOf(() => decodeContent(new Uint8Array([0xff, 0xfe])))).toBe('bad-content');
    expect(codeOf(() => decodeContent(utf8('{"v":1,')))).toBe('bad-content');
  });

  it('refuses to encode invalid content', () => {
    expect(codeOf(() => encodeContent({ ...base, kind: 'text', text: '' }))).toBe('bad-content');
  });

  it('never throws anything but HushProtocolError on random bytes or random JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.json().map((j) => utf8(j)),
        ),
        (bytes) => {
          try {
            decodeContent(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(HushProtocolError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
