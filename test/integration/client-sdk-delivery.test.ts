// End-to-end delivery state of own texts against the embedded broker: a text nobody receipted within the bound
// (here 1.5 s) is 'undelivered' — also after the sender restarts, as the tracking is stored with the chat — and
// the recipient's late delivery receipt turns it back to 'delivered'.
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/client/api.ts';
import { useProvisionedDevice } from '../../src/client/device.ts';
import { HushClient } from '../../src/client/hush-client.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { record, until, useSdkBroker } from '../helpers/sdk-broker.ts';

const BOUND_MS = 1500;
const sdk = useSdkBroker('hush-sdk-delivery-');

describe('own texts without a receipt', () => {
  const open: HushClient[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  async function profile(): Promise<() => Promise<HushClient>> {
    const { clientId, secret } = await sdk.provision();
    const store = new MemoryStore();
    await useProvisionedDevice({
      brokerUrl: sdk.url,
      clientId,
      deviceSecret: secret,
      server: 'http://hush.test',
      store,
      provider,
    });
    return async () => {
      const client = await HushClient.open({
        store,
        provider,
        undeliveredAfterMs: BOUND_MS,
        connection: { backoff: { baseMs: 100, capMs: 1000 } },
      });
      open.push(client);
      return client;
    };
  }

  it('turn undelivered after the bound, across a restart, and delivered when the receipt comes late', async () => {
    const [openAlice, openBob] = [await profile(), await profile()];
    const alice = await openAlice();
    const bob = await openBob();
    await Promise.all([alice.connect(), bob.connect()]);
    const { link, chatId } = await alice.createInvite();
    await bob.acceptInvite(link, { timeoutMs: 5000 });
    await bob.close();

    const { id } = await alice.sendText(chatId, 'are you there?');
    const stateOf = (client: HushClient) =>
      client.history(chatId).find((m) => m.id === id)?.state as StoredMessage['state'] | undefined;
    await until('the broker took it', () => stateOf(alice) === 'sent');
    await alice.close();

    const aliceAgain = await openAlice();
    const states = record(aliceAgain, 'message-state');
    await aliceAgain.connect();
    await until('no receipt within the bound: undelivered', () => stateOf(aliceAgain) === 'undelivered');
    expect(states).toContainEqual({ chatId, id, state: 'undelivered' });

    const bobAgain = await openBob();
    const got = record(bobAgain, 'message');
    await bobAgain.connect();
    await until('bob gets it', () => got.length === 1);
    await until('the late receipt: delivered', () => stateOf(aliceAgain) === 'delivered');
    expect(states.map((s) => s.state)).toEqual(['undelivered', 'delivered']);
  }, 30_000);
});
