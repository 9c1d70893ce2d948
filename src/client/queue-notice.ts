/**
 * The embedded broker's "your offline queue overflowed" notice (issue 13): right after the CONNACK, when messages
 * for this device were dropped while it was away, the broker writes one QoS 0 PUBLISH on QUEUE_DROPPED_TOPIC with
 * `{"v":1,"dropped":<messages>,"droppedBytes":<bytes>,"since":<ms epoch of the first drop>}`. No client can publish
 * to `$` topics on Hush's broker, so it comes from the broker; it is still parsed strictly, as input from outside.
 * Mosquitto sends no such notice (it drops silently): there, sequence gaps are the only signal.
 */
import { z } from 'zod';

/** The topic the broker writes the notice on (the client never subscribes to it). */
export const QUEUE_DROPPED_TOPIC = '$hush/queue/dropped';

/** Largest payload accepted: a real notice is well under 100 bytes. */
const NOTICE_MAX_BYTES = 1024;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const noticeSchema = z.strictObject({
  v: z.literal(1),
  dropped: count.min(1),
  droppedBytes: count,
  // Date's own range, so the time can always be printed.
  since: count.max(8.64e15),
});

/** A validated queue-overflow notice. */
export type QueueDroppedNotice = z.infer<typeof noticeSchema>;

/** What parsing a notice gave: the notice, or why it was refused (a sentence for a warning). */
export type QueueNoticeResult = { ok: true; notice: QueueDroppedNotice } | { ok: false; reason: string };

/** Parses and validates a `$hush/queue/dropped` payload; never throws. */
export function parseQueueDroppedNotice(payload: Uint8Array): QueueNoticeResult {
  if (payload.byteLength > NOTICE_MAX_BYTES)
    return { ok: false, reason: `the notice is ${payload.byteLength} bytes (at most ${NOTICE_MAX_BYTES})` };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return { ok: false, reason: 'the notice is not UTF-8 JSON' };
  }
  const parsed = noticeSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { ok: false, reason: `the notice is malformed (${where}${issue?.message ?? 'invalid'})` };
  }
  return { ok: true, notice: parsed.data };
}

/** The sentence a user reads for a notice. */
export function describeQueueDropped(notice: QueueDroppedNotice): string {
  const plural = notice.dropped === 1 ? 'message' : 'messages';
  const kib = Math.ceil(notice.droppedBytes / 1024);
  return (
    `the server dropped ${notice.dropped} ${plural} (${kib} KiB) sent to this device while it was offline, ` +
    `because its queue was full (first drop ${new Date(notice.since).toISOString()}): some messages from your ` +
    `chats may be missing; ask the senders to send them again`
  );
}
