// The broker silences mqtt-packet's per-packet debug calls for speed (src/broker/quiet-debug.ts); asking for
// them with DEBUG, as the `debug` package documents, must still print them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHushBroker, type HushBrokerInstance } from '../helpers/hush-broker.ts';
import { connectClient } from '../helpers/mqtt.ts';

describe('DEBUG=mqtt-packet:* on hush broker', () => {
  let broker: HushBrokerInstance;
  beforeAll(async () => {
    broker = await startHushBroker({ env: { DEBUG: 'mqtt-packet:parser' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("prints mqtt-packet's parser log for a connecting client", async () => {
    const client = await connectClient(`mqtt://127.0.0.1:${broker.mqttPort}`);
    await client.end();
    await broker.waitForLog(/mqtt-packet:parser/);
    expect(broker.log()).toMatch(/mqtt-packet:parser .*connect/i);
  });
});
