import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto.ts';
import { connectClient, settle } from '../helpers/mqtt.ts';

describe('the real Mosquitto used as the reference broker', () => {
  let mosquitto: MosquittoInstance;
  beforeAll(async () => {
    mosquitto = await startMosquitto({
      acl: 'pattern read chats/%c/messages\npattern write chats/+/messages\n',
    });
  });
  afterAll(() => mosquitto?.stop());

  it('delivers to the inbox owner and nothing to a wildcard subscriber', async () => {
    const url = `mqtt://127.0.0.1:${mosquitto.mqttPort}`;
    const victim = await connectClient(url, { clientId: 'victim1' });
    const attacker = await connectClient(url, { clientId: 'attacker1' });
    await victim.client.subscribeAsync('chats/victim1/messages', { qos: 1 });
    await attacker.client.subscribeAsync('#', { qos: 1 });
    const sender = await connectClient(url, { clientId: 'sender1' });
    await sender.client.publishAsync('chats/victim1/messages', 'hello', { qos: 1 });
    await settle(victim, 1);
    expect(victim.received.map((m) => m.payload)).toEqual(['hello']);
    expect(attacker.received).toEqual([]);
    await Promise.all([victim.end(), attacker.end(), sender.end()]);
  });
});
