// Issue 13, "offline queue flushing", on a real Mosquitto with a tiny max_queued_messages: an outsider floods an
// offline victim's inbox with junk until Mosquitto drops what comes next (silently, after the PUBACK), and the
// friend's texts sent then are lost. Nothing of it may be silent:
// - the victim gets ONE counted warning for the unreadable junk, not one per message;
// - the friend's next text shows the gap: a 'sequence-gap' warning counting the lost texts, and a notice in the chat;
// - the friend sees the lost texts 'undelivered' (the victim receipted a later one), the others delivered.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HushClient } from '../../src/client/hush-client.ts';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';
import { connectClient, type TestClient } from '../helpers/mqtt.ts';
import { randomId, record, until } from '../helpers/sdk-broker.ts';
import { chatBetween, device, junkEnvelopes } from './queue-overflow-support.ts';

const QUEUE = 10;
const JUNK = 60;

describe('a flooded offline queue on Mosquitto is never silent', () => {
  let mosquitto: MosquittoInstance;
  const open: HushClient[] = [];
  const raw: TestClient[] = [];

  beforeAll(async () => {
    mosquitto = await startMosquitto({
      allowAnonymous: true,
      extraConfig: `max_queued_messages ${QUEUE}`,
    });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(raw.splice(0).map((c) => c.end()));
  });
  afterAll(async () => {
    await mosquitto?.stop();
  });

  it('the victim gets one counted junk warning and a sequence gap; the friend sees the lost texts not delivered', async () => {
    const url = `mqtt://127.0.0.1:${mosquitto.mqttPort}`;
    const account = () => ({ clientId: randomId(16), secret: randomId(32) });
    const alice = await device(url, account(), open);
    const bob = await device(url, account(), open, { warningCoalesceMs: 2000 });
    const chatId = await chatBetween(alice.client, bob.client);
    const stateOf = (id: string) => alice.client.history(chatId).find((m) => m.id === id)?.state;

    const bobGot = record(bob.client, 'message');
    const { id: before } = await alice.client.sendText(chatId, 'before');
    await until('bob gets it and alice sees it delivered', () => stateOf(before) === 'delivered');
    expect(bobGot.map((m) => m.text)).toEqual(['before']);
    await bob.client.close();

    // The flood fills bob's queue; Mosquitto acknowledges alice's next texts and drops them.
    const flooder = await connectClient(url, { clientId: randomId(16) });
    raw.push(flooder);
    for (const wire of await junkEnvelopes(JUNK))
      await flooder.client.publishAsync(`chats/${bob.client.clientId}/messages`, wire, { qos: 1 });
    const lost = [
      (await alice.client.sendText(chatId, 'lost 1')).id,
      (await alice.client.sendText(chatId, 'lost 2')).id,
    ];
    await until('the broker acknowledged both', () => lost.every((id) => stateOf(id) === 'sent'));

    const bobAgain = await bob.reopen();
    const warnings = record(bobAgain, 'warning');
    const got = record(bobAgain, 'message');
    await bobAgain.connect();
    await until('the junk is reported', () => warnings.some((w) => w.code === 'unknown-key'), 20_000);
    const junk = warnings.filter((w) => w.code === 'unknown-key');
    expect(junk).toHaveLength(1);
    // Mosquitto kept some (at least its queue), dropped the rest: the count is what arrived, in one warning.
    expect(junk[0]!.count).toBeGreaterThanOrEqual(QUEUE);
    expect(junk[0]!.count).toBeLessThan(JUNK);
    expect(junk[0]!.detail).toContain(`${junk[0]!.count} messages could not be read`);

    const { id: after } = await alice.client.sendText(chatId, 'after');
    await until('bob gets the next text', () => got.length === 1);
    expect(got.map((m) => m.text)).toEqual(['after']);
    const gap = warnings.filter((w) => w.code === 'sequence-gap');
    expect(gap).toEqual([expect.objectContaining({ chatId, from: alice.client.clientId, count: 2 })]);
    const notices = bobAgain.history(chatId).filter((m) => m.kind === 'notice');
    expect(notices.map((m) => m.notice?.code)).toContain('sequence-gap');
    expect(notices.find((m) => m.notice?.code === 'sequence-gap')!.text).toContain('2 messages');

    // Alice: 'after' is receipted by bob, so the two before it that bob never receipted were not delivered.
    await until('alice sees after delivered', () => stateOf(after) === 'delivered');
    await until('alice sees the lost texts undelivered', () =>
      lost.every((id) => stateOf(id) === 'undelivered'),
    );
    expect(stateOf(before)).toBe('delivered');
  }, 60_000);
});
