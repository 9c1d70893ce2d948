// Differential test: Hush's aclfile evaluator (src/broker/acl) against the real Mosquitto 2.0.11.
// fast-check generates aclfiles, clients and topics; one Mosquitto runs per aclfile and we observe its
// real READ verdicts (does a subscriber get a privileged writer's message?) and WRITE verdicts (does a
// privileged observer get the client's message?), then compare with compileClientAcl on the same file.
// Completion is detected with QoS 1 markers on `$zz/m`, never with sleeps.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileClientAcl, parseAclFile } from '../../src/broker/acl/index.ts';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';
import { connectClient, type TestClient } from '../helpers/mqtt.ts';

// Small alphabets so rules, %c/%u and topics collide often. Ids are what Hush accepts at CONNECT.
const IDS = ['a', 'b', 'c1', 'd-2', 'E_'];
// Usernames may hold `/` (extra levels after %u), spaces, and + / # (the CVE-2017-7650 guard).
const USERNAMES = ['a', 'u', 'b', 'a/b', 'x y', 'v+', 'w#'];
// '%u' as a literal level: a %u pattern must not match it for a client without a username.
const LEVELS = ['a', 'b', 'c1', 'u', 'x y', 'd-2', '%u'];
const ACCESS = ['read', 'write', 'readwrite', 'deny'] as const;
const DOLLAR_FILTERS = [
  '$x/#',
  '$x/a',
  '$x/+',
  '$x/%c',
  '$x/+/b',
  '$SYS/#',
  '$SYS/broker/connection/+/state',
];
const DOLLAR_TOPICS = ['$x', '$x/a', '$x/b/b', '$x/c1', '$SYS/broker/connection/a/state', '$SYS/a'];

// ACL_DIFF_RUNS=300 for a longer soak; the default keeps the suite near 10 s.
const RUNS = Number(process.env.ACL_DIFF_RUNS ?? 40);
const MARKER = '$zz/m';
const WRITER = { clientId: 'zzw-1', username: 'zzw' };
const OBSERVER = { clientId: 'zzo-1', username: 'zzo' };
const SUBSCRIBE_ALL = ['#', '$x/#', '$SYS/#', '$zz/#'];

interface Line {
  kind: 'topic' | 'pattern';
  access: (typeof ACCESS)[number] | undefined;
  topic: string;
}
interface Scenario {
  anonymous: Line[];
  blocks: { user: string; lines: Line[] }[];
  clients: { clientId: string; username: string | undefined }[];
  topics: string[];
}

const plainFilter = (levels: readonly string[]) =>
  fc
    .tuple(fc.array(fc.constantFrom(...levels, '+'), { maxLength: 2 }), fc.boolean())
    .map(([parts, hash]) => (parts.length === 0 ? '#' : [...parts, ...(hash ? ['#'] : [])].join('/')));

// deny weighted up so a deny and a later grant often hit the same topic (no fall-through after deny).
const accessArb = fc.oneof(fc.constantFrom(...ACCESS), fc.constant('deny' as const), fc.constant(undefined));

const lineArb: fc.Arbitrary<Line> = fc.oneof(
  fc.record({
    kind: fc.constant('topic' as const),
    access: accessArb,
    topic: fc.oneof({ weight: 4, arbitrary: plainFilter(LEVELS) }, fc.constantFrom(...DOLLAR_FILTERS)),
  }),
  fc.record({
    kind: fc.constant('pattern' as const),
    access: accessArb,
    topic: fc.oneof(
      { weight: 4, arbitrary: plainFilter([...LEVELS, '%c', '%u']) },
      fc.constantFrom(...DOLLAR_FILTERS),
    ),
  }),
);

const topicArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(fc.constantFrom(...LEVELS), { minLength: 1, maxLength: 3 }).map((l) => l.join('/')),
  },
  fc.constantFrom(...DOLLAR_TOPICS),
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  anonymous: fc.array(lineArb, { maxLength: 5 }),
  blocks: fc.array(
    fc.record({ user: fc.constantFrom(...USERNAMES), lines: fc.array(lineArb, { maxLength: 5 }) }),
    {
      maxLength: 3,
    },
  ),
  clients: fc.uniqueArray(
    fc.record({
      clientId: fc.constantFrom(...IDS),
      username: fc.option(fc.constantFrom(...USERNAMES), { nil: undefined, freq: 3 }),
    }),
    { minLength: 2, maxLength: 4, selector: (c) => c.clientId },
  ),
  topics: fc.uniqueArray(topicArb, { minLength: 4, maxLength: 9 }),
});

function ruleLine(line: Line): string {
  // Without an access word, a topic with a space would make its first word the access word.
  const access = line.access ?? (line.topic.includes(' ') ? 'readwrite' : undefined);
  return [line.kind, ...(access ? [access] : []), line.topic].join(' ');
}

/** The generated file plus the marker rules and the privileged writer and observer. */
function aclText(s: Scenario): string {
  const out = [`topic readwrite ${MARKER}`, ...s.anonymous.map(ruleLine)];
  for (const block of s.blocks) out.push(`user ${block.user}`, ...block.lines.map(ruleLine));
  const usernames = new Set(s.clients.flatMap((c) => (c.username === undefined ? [] : [c.username])));
  for (const user of usernames) out.push(`user ${user}`, `topic readwrite ${MARKER}`);
  out.push(`user ${WRITER.username}`, ...['#', '$x/#', '$SYS/#', '$zz/#'].map((t) => `topic write ${t}`));
  out.push(`user ${OBSERVER.username}`, ...SUBSCRIBE_ALL.map((t) => `topic read ${t}`));
  return out.join('\n') + '\n';
}

/** Only the broker's own $SYS topics cannot be published by the writer: no READ verdict to observe. */
const readTestable = (topic: string) =>
  !topic.startsWith('$SYS') || topic.startsWith('$SYS/broker/connection/');

async function waitFor(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Verdict {
  client: string;
  access: 'READ' | 'WRITE';
  topic: string;
  mosquitto: boolean;
  hush: boolean;
}

const describeClient = (c: { clientId: string; username: string | undefined }) =>
  `id=${JSON.stringify(c.clientId)} username=${c.username === undefined ? '(none)' : JSON.stringify(c.username)}`;

async function observe(s: Scenario, acl: string): Promise<Verdict[]> {
  let mosquitto: MosquittoInstance | undefined;
  const clients: TestClient[] = [];
  try {
    mosquitto = await startMosquitto({ acl });
    const url = `mqtt://127.0.0.1:${mosquitto.mqttPort}`;
    const connect = async (c: { clientId: string; username: string | undefined }) => {
      const client = await connectClient(url, {
        clientId: c.clientId,
        ...(c.username !== undefined && { username: c.username }),
      });
      clients.push(client);
      return client;
    };
    const writer = await connect(WRITER);
    const observer = await connect(OBSERVER);
    const tested = await Promise.all(s.clients.map(connect));
    await Promise.all([observer, ...tested].map((c) => c.client.subscribeAsync(SUBSCRIBE_ALL, { qos: 1 })));

    // READ: the writer publishes every testable topic, then the marker; a reader that got the marker has
    // been offered everything before it (one publisher, QoS 1: Mosquitto keeps the order).
    const readTopics = s.topics.filter(readTestable);
    for (const [i, topic] of readTopics.entries())
      await writer.client.publishAsync(topic, `r|${i}`, { qos: 1 });
    await writer.client.publishAsync(MARKER, 'end-read', { qos: 1 });
    const verdicts: Verdict[] = [];
    for (const [c, client] of tested.entries()) {
      await waitFor(`the read marker at ${describeClient(s.clients[c]!)}`, () =>
        client.received.some((m) => m.topic === MARKER && m.payload === 'end-read'),
      );
      const got = new Set(client.received.map((m) => m.payload));
      const hush = compileClientAcl(parseAclFile(acl, 'generated'), s.clients[c]!);
      readTopics.forEach((topic, i) =>
        verdicts.push({
          client: describeClient(s.clients[c]!),
          access: 'READ',
          topic,
          mosquitto: got.has(`r|${i}`),
          hush: hush.canRead(topic),
        }),
      );
    }

    // WRITE: each client publishes every topic, then its own marker; the observer reads everything.
    await Promise.all(
      tested.map(async (client, c) => {
        for (const [i, topic] of s.topics.entries())
          await client.client.publishAsync(topic, `w|${c}|${i}`, { qos: 1 });
        await client.client.publishAsync(MARKER, `end-write|${c}`, { qos: 1 });
      }),
    );
    await waitFor('the write markers at the observer', () =>
      tested.every((_, c) =>
        observer.received.some((m) => m.topic === MARKER && m.payload === `end-write|${c}`),
      ),
    );
    const seen = new Set(observer.received.map((m) => m.payload));
    for (const [c, client] of s.clients.entries()) {
      const hush = compileClientAcl(parseAclFile(acl, 'generated'), client);
      s.topics.forEach((topic, i) =>
        verdicts.push({
          client: describeClient(client),
          access: 'WRITE',
          topic,
          mosquitto: seen.has(`w|${c}|${i}`),
          hush: hush.canWrite(topic),
        }),
      );
    }
    return verdicts;
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await mosquitto?.stop();
  }
}

describe('the aclfile evaluator against the real Mosquitto 2.0.11', () => {
  const totals = { readAllowed: 0, readDenied: 0, writeAllowed: 0, writeDenied: 0 };
  afterAll(() => console.log('acl differential verdicts:', totals));

  it('gives the same READ and WRITE verdict as Mosquitto for generated aclfiles, clients and topics', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const acl = aclText(scenario);
        // The harness itself relies on these grants; check them with the model before blaming either side.
        const writer = compileClientAcl(parseAclFile(acl, 'generated'), WRITER);
        const observer = compileClientAcl(parseAclFile(acl, 'generated'), OBSERVER);
        expect(scenario.topics.filter(readTestable).every((t) => writer.canWrite(t))).toBe(true);
        expect(scenario.topics.every((t) => t.startsWith('$SYS/a') || observer.canRead(t))).toBe(true);

        const verdicts = await observe(scenario, acl);
        for (const v of verdicts) {
          const key =
            `${v.access === 'READ' ? 'read' : 'write'}${v.mosquitto ? 'Allowed' : 'Denied'}` as keyof typeof totals;
          totals[key]++;
        }
        const wrong = verdicts.filter((v) => v.mosquitto !== v.hush);
        if (wrong.length > 0) {
          const numbered = acl
            .trimEnd()
            .split('\n')
            .map((l, i) => `  ${String(i + 1).padStart(2)}  ${l}`)
            .join('\n');
          const lines = wrong.map(
            (v) =>
              `  ${v.access} ${JSON.stringify(v.topic)} by ${v.client}: mosquitto ${v.mosquitto ? 'ALLOWS' : 'DENIES'}, hush ${v.hush ? 'ALLOWS' : 'DENIES'}`,
          );
          throw new Error(
            `Hush and Mosquitto disagree on ${wrong.length} verdict(s):\n${lines.join('\n')}\naclfile:\n${numbered}`,
          );
        }
      }),
      // Each run starts a broker; shrinking would restart it hundreds of times. The error above already
      // names the aclfile, the client, the topic and both verdicts.
      { numRuns: RUNS, endOnFailure: true },
    );
    // A run where everything was allowed (or everything denied) would prove little.
    expect(totals.readAllowed).toBeGreaterThan(10);
    expect(totals.readDenied).toBeGreaterThan(10);
    expect(totals.writeAllowed).toBeGreaterThan(10);
    expect(totals.writeDenied).toBeGreaterThan(10);
  }, 120_000);
});
