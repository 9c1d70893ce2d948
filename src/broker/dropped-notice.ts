/**
 * Tells a client, right after it connects, how many messages the broker could not store for it while its
 * queue was full (limits/queue-quota.ts): one QoS 0 PUBLISH on `$hush/queue/dropped` with the JSON payload
 * `{"v":1,"dropped":N,"droppedBytes":B,"since":MS}`. The client did not subscribe to it; MQTT.js hands it to
 * the app all the same. Only the broker writes `$` topics (no client may publish them), so it cannot be forged
 * here. Mosquitto has no such notice: there the senders' sequence numbers show the gap (docs/SECURITY.md).
 */
import mqttPacket from 'mqtt-packet';
import type { Logger } from 'pino';
import type { QueueQuota } from './limits/queue-quota.ts';

/** The topic of the notice. */
export const DROPPED_NOTICE_TOPIC = '$hush/queue/dropped';

/** Sends the client its dropped-message count, if any; the count is kept if the write fails. */
export function tellDroppedMessages(
  client: { id: string; conn: NodeJS.WritableStream },
  quota: QueueQuota,
  log: Logger,
): void {
  const dropped = quota.takeDropped(client.id);
  if (dropped === undefined) return;
  const payload = Buffer.from(
    JSON.stringify({ v: 1, dropped: dropped.messages, droppedBytes: dropped.bytes, since: dropped.since }),
  );
  log.info(
    { clientId: client.id, dropped: dropped.messages },
    'told the client how many messages were not stored for it',
  );
  try {
    // Written directly: the client has no subscription that would let the emitter deliver it.
    mqttPacket.writeToStream(
      { cmd: 'publish', topic: DROPPED_NOTICE_TOPIC, payload, qos: 0, retain: false, dup: false } as never,
      client.conn as never,
    );
  } catch {
    quota.restoreDropped(client.id, dropped);
  }
}
