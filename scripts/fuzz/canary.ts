/**
 * The canary: an honest MQTT.js client that keeps publishing QoS 1 messages to its own topic during a fuzz
 * run and must receive every one of them, once, without ever being disconnected.
 */
import mqtt, { type IClientOptions } from 'mqtt';

export interface CanaryFigures {
  name: string;
  sent: number;
  acknowledged: number;
  received: number;
  duplicates: number;
  /** Sequence numbers sent but never received (at most the first 20). */
  missing: number[];
  disconnects: number;
  errors: string[];
}

export interface Canary {
  /** Stops publishing, waits up to `drainMs` for the last messages, disconnects and returns the figures. */
  stop(drainMs?: number): Promise<CanaryFigures>;
}

/** Connects (rejects if it cannot) and starts publishing one message every `intervalMs`. */
export async function startCanary(
  name: string,
  url: string,
  options: IClientOptions & { clientId: string },
  intervalMs = 20,
): Promise<Canary> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`canary ${name} closed before CONNACK`)));
  });
  const topic = `canary/${options.clientId}/loop`;
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex');
  const figures: CanaryFigures = {
    name,
    sent: 0,
    acknowledged: 0,
    received: 0,
    duplicates: 0,
    missing: [],
    disconnects: 0,
    errors: [],
  };
  const seen = new Set<number>();
  client.on('close', () => figures.disconnects++);
  client.on('error', (error) => figures.errors.length < 10 && figures.errors.push(error.message));
  client.on('message', (_topic, payload) => {
    const [from, seq] = payload.toString().split(':');
    if (from !== nonce) return; // someone else's bytes on our topic: not ours to count
    const n = Number(seq);
    if (seen.has(n)) figures.duplicates++;
    else {
      seen.add(n);
      figures.received++;
    }
  });
  await client.subscribeAsync(topic, { qos: 1 });
  const timer = setInterval(() => {
    if (!client.connected) return;
    const seq = figures.sent++;
    client.publish(topic, `${nonce}:${seq}`, { qos: 1 }, (error) => {
      if (!error) figures.acknowledged++;
      else if (figures.errors.length < 10) figures.errors.push(error.message);
    });
  }, intervalMs);
  return {
    async stop(drainMs = 10_000) {
      clearInterval(timer);
      const deadline = Date.now() + drainMs;
      while (seen.size < figures.sent && Date.now() < deadline && client.connected)
        await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < figures.sent && figures.missing.length < 20; i++)
        if (!seen.has(i)) figures.missing.push(i);
      const disconnectsBeforeEnd = figures.disconnects;
      // A client whose broker is gone may never call back from end(): do not wait for it forever.
      await Promise.race([
        new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve())),
        new Promise<void>((resolve) => setTimeout(resolve, 3000)),
      ]);
      figures.disconnects = disconnectsBeforeEnd;
      return figures;
    },
  };
}
