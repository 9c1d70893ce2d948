import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** A received message as a test sees it. */
export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A connected MQTT.js client plus everything it has received so far. */
export interface TestClient {
  client: MqttClient;
  received: Received[];
  end(): Promise<void>;
}

/** Connects with MQTT.js (protocol 3.1.1, no auto-reconnect) and resolves on CONNACK, rejects on refusal. */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<TestClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    received.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
  client.on('error', () => undefined);
  return {
    client,
    received,
    end: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}

/** Connects and reports the outcome instead of throwing: 'ok' or the error's code/message. */
export async function tryConnect(url: string, options: IClientOptions = {}): Promise<string> {
  try {
    const c = await connectClient(url, options);
    await c.end();
    return 'ok';
  } catch (error) {
    const e = error as { code?: number | string; message: string };
    return e.code !== undefined ? `refused:${e.code}` : `error:${e.message}`;
  }
}

/** Waits ms milliseconds (for "nothing arrives" assertions). */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `client` has received at least `count` messages (bounded), then a short settle so an extra,
 * unexpected message would still show up in the assertion that follows.
 */
export async function settle(client: TestClient, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (client.received.length < count && Date.now() < deadline) await sleep(20);
  await sleep(100);
}
