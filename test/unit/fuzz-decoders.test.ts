/**
 * Fuzzing the decoders that read untrusted text or bytes, with fast-check (bounded runs; fast-check prints
 * the seed and path of any failure, and FUZZ_SEED=N replays one run). Each must either return something
 * valid or throw its own error type with a sentence — never a TypeError, never a hang, never garbage
 * accepted: the aclfile and password file parsers, the envelope and invite decoders, and the registration
 * API's request validation (through its real HTTP handler).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AclParseError, parseAclFile } from '../../src/broker/acl/parse.ts';
import { topicFilterProblem } from '../../src/broker/acl/match.ts';
import { formatPasswordFile, parsePasswordFile, PasswordFileError } from '../../src/broker/passwd/file.ts';
import { parseStoredHash } from '../../src/broker/passwd/hash.ts';
import { usernameProblem } from '../../src/broker/passwd/rules.ts';
import { fromB64u, toB64u, utf8 } from '../../src/core/bytes.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  peekEnvelope,
  sealChatEnvelope,
} from '../../src/core/envelope.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import { isClientId } from '../../src/core/identity.ts';
import { encodeInviteLink, parseInviteLink } from '../../src/core/invite.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import { DeviceRegistry, type AccountBroker } from '../../src/server/device-registry.ts';
import { createRegistrationApi, registrationRequestSchema } from '../../src/server/registration-api.ts';
import vectors from '../vectors/invites.json' with { type: 'json' };

const seed = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
const runs = (numRuns: number) => ({ numRuns, ...seed });

/** Calls `f`; returns what it returned, or the error it threw (so properties can judge both). */
function outcome<T>(f: () => T): { value: T } | { error: unknown } {
  try {
    return { value: f() };
  } catch (error) {
    return { error };
  }
}

/** A clear error: the module's own type, with a message that is a sentence rather than empty. */
function expectOwnError(error: unknown, type: new (...args: never[]) => Error): void {
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message.length).toBeGreaterThan(10);
}

/** Text made of a grammar's words, separators and noise: reaches deeper than uniform random strings. */
const tokenText = (words: string[]) =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...words) },
        { weight: 2, arbitrary: fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', '\0', '\v', '#', ':', '$') },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join(''));

describe('aclfile parser under fuzzing', () => {
  const words = [
    'user',
    'topic',
    'pattern',
    'read',
    'write',
    'readwrite',
    'deny',
    '%c',
    '%u',
    'a/b',
    '#',
    '+',
    'a/#/b',
    'x+',
    '/',
    'chats/%c/messages',
  ];
  it('returns only valid rules or throws AclParseError naming the line', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof(tokenText(words), fc.string({ unit: 'binary', maxLength: 300 })), (text) => {
        const result = outcome(() => parseAclFile(text, 'fuzz.acl'));
        const lineCount = text.split('\n').length;
        if ('error' in result) {
          expectOwnError(result.error, AclParseError);
          const line = (result.error as AclParseError).line;
          expect(line >= 1 && line <= lineCount).toBe(true);
          seen.refused++;
          return;
        }
        seen.accepted++;
        const rules = [
          ...result.value.anonymous,
          ...result.value.patterns,
          ...[...result.value.users.values()].flat(),
        ];
        for (const rule of rules) {
          expect(topicFilterProblem(rule.topic)).toBeUndefined();
          expect(['read', 'write', 'readwrite', 'deny']).toContain(rule.access);
          expect(rule.line >= 1 && rule.line <= lineCount).toBe(true);
        }
      }),
      runs(3000),
    );
    // Both outcomes were reached, so neither check above was vacuous.
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });
});

describe('password file parser under fuzzing', () => {
  const hash = '$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==';
  const words = ['alice', 'bob', 'a b', ':', hash, '$6$salt$hash', '$7$', '$7$0$', '\uFEFF', '%', '+', '#'];
  // Line-shaped text: `user:hash` with the parts drawn from the words, so some files are valid.
  const passwdLines = fc
    .array(
      fc.tuple(
        fc.constantFrom(...words, 'carol', ' dave '),
        fc.constantFrom(':', '::', ' : ', ''),
        fc.constantFrom(hash, ...words),
        fc.constantFrom('\n', '\r\n', '\n\n'),
      ),
      { maxLength: 6 },
    )
    .map((lines) => lines.map((parts) => parts.join('')).join(''));
  it('returns only usable entries that round-trip, or throws PasswordFileError', () => {
    const seen = { withEntries: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.oneof(tokenText(words), passwdLines, fc.string({ unit: 'binary', maxLength: 300 })),
        (text) => {
          const result = outcome(() => parsePasswordFile(text, 'fuzz.passwd'));
          if ('error' in result) {
            expectOwnError(result.error, PasswordFileError);
            seen.refused++;
            return;
          }
          if (result.value.entries.size > 0) seen.withEntries++;
          for (const [username, stored] of result.value.entries) {
            expect(usernameProblem(username)).toBeUndefined();
            expect(typeof parseStoredHash(stored)).not.toBe('string');
          }
          // What was accepted can be written back and reads the same.
          const again = parsePasswordFile(formatPasswordFile(result.value), 'fuzz.passwd');
          expect([...again.entries]).toEqual([...result.value.entries]);
        },
      ),
      runs(3000),
    );
    expect(seen.withEntries).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });
});

describe('envelope decoder under fuzzing', () => {
  it('peekEnvelope takes any bytes and throws only malformed or unknown-version', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (wire) => {
        const result = outcome(() => peekEnvelope(wire));
        if ('error' in result) {
          expectOwnError(result.error, HushProtocolError);
          expect(['malformed', 'unknown-version']).toContain((result.error as HushProtocolError).code);
        } else expect([1, 2]).toContain(result.value.version);
      }),
      runs(5000),
    );
  });

  it('openChatEnvelope rejects every mutation of a sealed envelope with a HushProtocolError', async () => {
    const keys = await deriveEpochKeys(nodeCryptoProvider, new Uint8Array(32).fill(7));
    const content = utf8('{"v":1,"kind":"text","text":"fuzz"}');
    const sealed = await sealChatEnvelope(nodeCryptoProvider, keys, content);
    expect((await openChatEnvelope(nodeCryptoProvider, keys, sealed)).content).toEqual(content);
    const mutation = fc.oneof(
      fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ at, bit }) => {
        const out = sealed.slice();
        out[at % out.length] = (out[at % out.length] as number) ^ (1 << bit);
        return out;
      }),
      fc.nat({ max: sealed.length - 1 }).map((n) => sealed.slice(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => Uint8Array.from([...sealed, ...extra])),
      fc
        .uint8Array({ minLength: 0, maxLength: 400 })
        .map((random) => Uint8Array.from([1, ...keys.keyId, ...random])),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (wire) => {
        try {
          await openChatEnvelope(nodeCryptoProvider, keys, wire);
        } catch (error) {
          expectOwnError(error, HushProtocolError);
          return;
        }
        throw new Error('a mutated envelope was accepted');
      }),
      runs(1500),
    );
  });
});

describe('invite decoder under fuzzing', () => {
  const links = vectors.valid.map((v) => v.link);
  const jsonOf = (link: string) =>
    JSON.parse(new TextDecoder().decode(fromB64u(link.split('#invite=')[1] as string, 'p'))) as Record<
      string,
      unknown
    >;
  const withPayload = (link: string, json: unknown) =>
    `${link.split('#invite=')[0]}#invite=${toB64u(utf8(JSON.stringify(json)))}`;
  const anyJson = fc.jsonValue({ maxDepth: 2 });
  const candidate = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc.constantFrom(...links).chain((link) =>
      fc.oneof(
        // Character edits anywhere in the link.
        fc
          .record({
            at: fc.nat(),
            ch: fc.string({ unit: 'binary', minLength: 0, maxLength: 3 }),
            cut: fc.nat({ max: 4 }),
          })
          .map(
            ({ at, ch, cut }) => link.slice(0, at % link.length) + ch + link.slice((at % link.length) + cut),
          ),
        // Field-level edits of the JSON, re-encoded.
        fc
          .record({
            field: fc.constantFrom('v', 'secret', 'inviter', 'inbox', 'server', 'exp', 'uses', 'extra'),
            value: anyJson,
          })
          .map(({ field, value }) => withPayload(link, { ...jsonOf(link), [field]: value })),
        fc.constant(link),
      ),
    ),
  );
  it('returns a canonical invite that re-encodes to the same link, or throws bad-invite', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(candidate, (link) => {
        const result = outcome(() => parseInviteLink(link));
        if ('error' in result) {
          expectOwnError(result.error, HushProtocolError);
          expect((result.error as HushProtocolError).code).toBe('bad-invite');
          seen.refused++;
          return;
        }
        seen.accepted++;
        // One spelling per invite: whatever was accepted is exactly its own canonical link.
        expect(encodeInviteLink(result.value)).toBe(link);
      }),
      runs(3000),
    );
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });
});

describe('registration API request validation under fuzzing (real HTTP handler)', () => {
  let dir: string;
  let server: http.Server;
  let port: number;
  const noBroker: AccountBroker = {
    install: async () => undefined,
    beforeRemove: async () => undefined,
    beforeSave: async () => undefined,
    undoBeforeSave: async () => undefined,
    afterSave: async () => undefined,
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-fuzz-reg-'));
    await writeFile(path.join(dir, 'passwd'), '', { mode: 0o600 });
    const log = pino({ level: 'silent' });
    const registry = await DeviceRegistry.open(path.join(dir, 'passwd'), noBroker, log);
    const api = createRegistrationApi({
      registry,
      log,
      registrationsPerMinute: 0,
      registrationBurst: 1,
      tls: false,
      fallbackHost: '127.0.0.1',
      port: () => port,
    });
    server = http.createServer((req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      void api(req, res, pathname).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const post = (body: Buffer, contentType: string | undefined) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/api/v1/devices',
          headers: { ...(contentType ? { 'content-type': contentType } : {}), 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const validSecret = toB64u(new Uint8Array(32).fill(9));
  const jsonBody = fc
    .record(
      {
        secret: fc.oneof(
          fc.constant(validSecret),
          fc.string({ maxLength: 50 }),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        name: fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), fc.jsonValue({ maxDepth: 1 })),
        token: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
        clientId: fc.string({ maxLength: 30 }),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    )
    .map((o) => Buffer.from(JSON.stringify(o)));
  const body = fc.oneof(
    { weight: 4, arbitrary: jsonBody },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 4000, max: 6000 }).map((n) => Buffer.from(`{"name":"${'x'.repeat(n)}"}`)),
    },
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        undefined,
        'text/plain',
        'application/json; charset=latin1',
        'APPLICATION/JSON;charset=UTF-8',
      ),
    },
  );

  it('answers 201 only to a valid request and a clear 4xx {error} to everything else, never 5xx', async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(body, contentType, async (bytes, type) => {
        const { status, text } = await post(bytes, type);
        statuses.add(status);
        expect([201, 400, 413, 415]).toContain(status);
        const answer = JSON.parse(text) as Record<string, unknown>;
        if (status !== 201) {
          expect(typeof answer.error).toBe('string');
          return;
        }
        // Accepted: it really was a JSON object the schema accepts, naming no clientId.
        const sent = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
        expect('clientId' in sent).toBe(false);
        expect(registrationRequestSchema.safeParse(sent).success).toBe(true);
        expect(isClientId(answer.clientId as string)).toBe(true);
      }),
      runs(250),
    );
    // Random runs may draw no valid request: one known-valid request shows the API still accepts (201).
    const valid = await post(
      Buffer.from(JSON.stringify({ secret: validSecret, name: 'fuzz' })),
      'application/json',
    );
    statuses.add(valid.status);
    expect(statuses).toContain(201);
    expect(statuses).toContain(400);
  });
});
