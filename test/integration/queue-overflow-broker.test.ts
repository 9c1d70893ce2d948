// Issue 13, "offline queue flushing", on the embedded broker (`hush broker`, a real process) with a tiny offline
// queue (--max-queued-messages 10, each sender may fill half): an outsider floods an offline victim's inbox, the
// friend keeps writing, and the queue overflows. What the victim and the friend learn:
// - the victim, on connect, the broker's count of what was not stored ($hush/queue/dropped): one 'queue-overflow'
//   warning with that count, and a notice in the chat;
// - the victim, ONE counted warning for the junk that was stored, and the friend's stored texts, in order (the
//   junk took only its share of the queue);
// - the victim, a 'sequence-gap' of the friend's texts that were not stored, on the friend's next text;
// - the friend, those texts 'undelivered' once the victim receipts the next one; the stored ones delivered.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HushClient } from '../../src/client/hush-client.ts';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient, type TestClient } from '../helpers/mqtt.ts';
import { randomId, record, until } from '../helpers/sdk-broker.ts';
import { chatBetween, device, junkEnvelopes } from './queue-overflow-support.ts';

const QUEUE = 10;
const SHARE = QUEUE / 2;
const JUNK = 30;
const FRIEND = 7;

describe('a flooded offline queue on the embedded broker is never silent', () => {
  let broker: HushBrokerInstance;
  const open: HushClient[] = [];
  const raw: TestClient[] = [];

  beforeAll(async () => {
    broker = await startHushBroker({
      allowAnonymous: true,
      extraArgs: ['--max-queued-messages', String(QUEUE), '--max-queued-share', '0.5'],
      env: { HUSH_LOG_LEVEL: 'info' },
    });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(raw.splice(0).map((c) => c.end()));
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('the victim is told the dropped count, the junk in one warning and the gap; the friend sees its lost texts not delivered', async () => {
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const account = () => ({ clientId: randomId(16), secret: randomId(32) });
    const alice = await device(url, account(), open);
    const bob = await device(url, account(), open, { warningCoalesceMs: 2000 });
    const chatId = await chatBetween(alice.client, bob.client);
    const stateOf = (id: string) => alice.client.history(chatId).find((m) => m.id === id)?.state;

    const { id: before } = await alice.client.sendText(chatId, 'before');
    await until('alice sees before delivered', () => stateOf(before) === 'delivered');
    await bob.client.close();

    const flooder = await connectClient(url, { clientId: randomId(16) });
    raw.push(flooder);
    for (const wire of await junkEnvelopes(JUNK))
      await flooder.client.publishAsync(`chats/${bob.client.clientId}/messages`, wire, { qos: 1 });
    const sent: string[] = [];
    for (let i = 0; i < FRIEND; i++) sent.push((await alice.client.sendText(chatId, `text ${i}`)).id);
    await until('the broker acknowledged every text', () => sent.every((id) => stateOf(id) === 'sent'));

    const bobAgain = await bob.reopen();
    const warnings = record(bobAgain, 'warning');
    const got = record(bobAgain, 'message');
    await bobAgain.connect();
    await until('the junk is reported', () => warnings.some((w) => w.code === 'unknown-key'), 20_000);
    await until('the stored texts arrive', () => got.length === SHARE);
    expect(got.map((m) => m.text)).toEqual(Array.from({ length: SHARE }, (_, i) => `text ${i}`));

    const dropped = JUNK - SHARE + (FRIEND - SHARE);
    const overflow = warnings.filter((w) => w.code === 'queue-overflow');
    expect(overflow).toEqual([expect.objectContaining({ count: dropped })]);
    expect(overflow[0]!.detail).toContain(`dropped ${dropped} messages`);
    const notice = bobAgain.history(chatId).find((m) => m.notice?.code === 'queue-overflow');
    expect(notice?.text).toContain(`dropped ${dropped} messages`);
    expect(warnings.filter((w) => w.code === 'unknown-key')).toEqual([
      expect.objectContaining({ count: SHARE }),
    ]);

    const { id: after } = await alice.client.sendText(chatId, 'after');
    await until('bob gets the next text', () => got.length === SHARE + 1);
    expect(warnings.filter((w) => w.code === 'sequence-gap')).toEqual([
      expect.objectContaining({ chatId, count: FRIEND - SHARE }),
    ]);

    await until('alice sees after delivered', () => stateOf(after) === 'delivered');
    const lost = sent.slice(SHARE);
    await until('alice sees the lost texts undelivered', () =>
      lost.every((id) => stateOf(id) === 'undelivered'),
    );
    expect(sent.slice(0, SHARE).map(stateOf)).toEqual(Array(SHARE).fill('delivered'));
    expect(stateOf(before)).toBe('delivered');
  }, 60_000);
});
