/**
 * Resource exhaustion, measured without exhausting anything: each check sends a stated, bounded amount to
 * the auditor's own victim account and watches what the broker keeps or delivers.
 *
 * - resource-oversized-message: ONE message of 1 MiB. A broker with a size limit disconnects the sender
 *   (Mosquitto's max_packet_size, Hush's packet limit) or acknowledges and drops it (message_size_limit).
 * - resource-offline-queue: 1,200 messages of 1 KiB (1.2 MiB) queued for the victim while it is offline;
 *   the victim then reconnects and counts what was kept (> 1,000 is a weakness), draining the queue.
 * - resource-slow-reader: 1,024 messages of 64 KiB (64 MiB) to a victim that stops reading its socket; the
 *   broker should drop for it or disconnect it, not hold more than 48 MiB of it.
 *
 * Publishes are paced (300 at once, then 150 per second) to stay under per-client publish limits: a limit
 * that cuts the auditor off makes the check inconclusive, never a pass. Whether the last messages came
 * through is decided with end markers published after the load (brokers deliver one sender's QoS 1 messages
 * in order), not by waiting for silence, because Mosquitto's WebSockets listener sends large messages slowly.
 */
import { sleep, type AuditConnection } from '../connection.ts';
import { Inconclusive, result, type CheckContext, type VictimIdentity } from '../context.ts';
import type { AttackCheck, CheckResult } from '../types.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The size the oversized message has: four times Hush's own packet limit (256 KiB). */
export const OVERSIZED_BYTES = 1 * MiB;
/** Messages queued for the offline victim, and the bound beyond which keeping them is a weakness. */
export const OFFLINE_MESSAGES = 1200;
export const OFFLINE_MESSAGE_BYTES = 1 * KiB;
export const EXPECTED_QUEUE_BOUND = 1000;
/** What the slow reader is sent: 64 MiB, well past what TCP and WebSocket buffers hold on the way. */
export const SLOW_MESSAGES = 1024;
export const SLOW_MESSAGE_BYTES = 64 * KiB;
/**
 * More than this delivered after the reader reads again means the broker held it for the stalled reader:
 * Mosquitto's max_queued_bytes of 32 MiB and max_inflight_bytes of 1 MiB, plus up to 15 MiB that socket
 * buffers on the way may hold.
 */
export const SLOW_HELD_BOUND = 48 * MiB;

/** Publish pacing: a burst, then a steady rate, with a bounded number of unacknowledged publishes. */
const PUBLISH_BURST = 300;
const PUBLISH_PER_SECOND = 150;
const PUBLISH_WINDOW = 64;

const SIZE_WHY =
  'A broker that accepts messages of any size lets one client make it hold megabytes per message (and write them to its database for offline devices); Hush messages are far below 256 KiB.';
const SIZE_FIX =
  'Mosquitto: `max_packet_size 262144` and `message_size_limit 262144` (2.0.11 enforces max_packet_size on TCP listeners only; message_size_limit also covers WebSockets). Hush broker: --max-packet-bytes. `hush deploy mosquitto` writes both.';
const QUEUE_WHY =
  "Anyone may write into an inbox: without a bound on an offline device's queue, one client can make the broker hold (and persist) as much as it sends, and flush the owner's real messages out of a bounded one.";
const QUEUE_FIX =
  'Mosquitto: `max_queued_messages 1000` and `max_queued_bytes 33554432` (global options). The Hush broker bounds offline queues by count and bytes.';
const SLOW_WHY =
  'A subscriber that stops reading its socket makes the broker buffer everything sent to it: a few such clients can exhaust the broker’s memory (the embedded broker reached 5 GB in 30 s before its bound).';
const SLOW_FIX =
  'Mosquitto: `max_queued_bytes` and `max_inflight_bytes` bound what waits for a slow client (it drops beyond them). Hush broker: its per-client byte bound disconnects a reader that falls that far behind.';

/** Tally of a paced run of publishes. */
interface PublishRun {
  sent: number;
  acked: number;
  failed: number;
}

/** Publishes count QoS 1 messages, paced under per-client rate limits; stops at the first failure. */
async function publishPaced(
  connection: AuditConnection,
  topic: string,
  count: number,
  payload: (index: number) => string,
): Promise<PublishRun> {
  const started = performance.now();
  const run: PublishRun = { sent: 0, acked: 0, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  while (run.sent < count && run.failed === 0 && !connection.closed) {
    const due = started + (Math.max(0, run.sent - PUBLISH_BURST) * 1000) / PUBLISH_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
    const sending: Promise<void> = connection
      .publish(topic, payload(run.sent), { qos: 1 })
      .then((outcome) => {
        if (outcome === 'acked') run.acked++;
        else run.failed++;
        inFlight.delete(sending);
      });
    inFlight.add(sending);
    run.sent++;
  }
  await Promise.all(inFlight);
  return run;
}

/** `tag:index:` followed by filler up to `bytes` (ASCII, so characters = bytes). */
function paddedPayload(tag: string, index: number, bytes: number): string {
  const head = `${tag}:${index}:`;
  return head + 'x'.repeat(Math.max(0, bytes - head.length));
}

const taggedCount = (connection: AuditConnection, tag: string) =>
  connection.messages.filter((m) => m.payload.subarray(0, tag.length).toString() === tag).length;

/**
 * Publishes end markers (one a second) from `from` into the victim's inbox until one reaches `reader`, then
 * waits a settle period: by then everything the broker kept from `from` before the marker has arrived.
 * Returns false if no marker came within maxMs.
 */
async function drainWithMarkers(
  ctx: CheckContext,
  reader: AuditConnection,
  from: AuditConnection,
  inbox: string,
  maxMs: number,
): Promise<boolean> {
  const marker = ctx.canary();
  const deadline = performance.now() + maxMs;
  for (let n = 0; performance.now() < deadline && !reader.closed && !from.closed; n++) {
    await from.publish(inbox, `${marker}:${n}`, { qos: 1 });
    const arrived = await reader.waitForMessage(
      (m) => m.payload.toString().startsWith(marker),
      Math.min(1000, Math.max(0, deadline - performance.now())),
    );
    if (arrived) {
      await sleep(ctx.settleMs);
      return true;
    }
  }
  return false;
}

/** Removes the victim's persistent session (and anything still queued) once the check is over. */
function dropSessionLater(ctx: CheckContext, victim: VictimIdentity): void {
  ctx.defer(async () => {
    const outcome = await ctx.connectUntracked(ctx.asVictim(victim, { clean: true }));
    if (outcome.kind === 'accepted') await outcome.connection.end();
  });
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;

async function oversizedMessage(ctx: CheckContext): Promise<CheckResult> {
  const listening = await ctx.listeningVictim();
  const inbox = listening.identity.inbox;
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  // Control: the attacker can write into the inbox at all, so a refusal below is about size.
  await ctx.deliverCanary(listening, ctx.canary(), attacker);
  const tag = ctx.canary();
  const outcome = await attacker.publish(inbox, paddedPayload(tag, 0, OVERSIZED_BYTES), { qos: 1 });
  if (attacker.droppedByBroker || (outcome === 'failed' && attacker.closed)) {
    return result(
      'pass',
      `the broker closed the sender's connection at a ${mib(OVERSIZED_BYTES)} publish (a small one had gone through)`,
      SIZE_WHY,
      SIZE_FIX,
    );
  }
  if (outcome !== 'acked')
    throw new Inconclusive(`the ${mib(OVERSIZED_BYTES)} publish got no PUBACK within ${ctx.timeoutMs} ms`);
  // Acknowledged: was it kept? A message published after it arrives after it, if it was.
  const after = ctx.canary();
  await attacker.publish(inbox, after, { qos: 1 });
  const waitMs = Math.max(ctx.timeoutMs, 10_000);
  const first = await listening.connection.waitForMessage((m) => {
    const text = m.payload.subarray(0, tag.length).toString();
    return text === tag || m.payload.toString() === after;
  }, waitMs);
  const big = () => taggedCount(listening.connection, tag) > 0;
  if (first && !big()) await sleep(ctx.settleMs);
  if (big()) {
    return result(
      'weakness',
      `a ${mib(OVERSIZED_BYTES)} message was acknowledged and delivered to the victim's inbox`,
      SIZE_WHY,
      SIZE_FIX,
      'high',
    );
  }
  if (first) {
    return result(
      'pass',
      `a ${mib(OVERSIZED_BYTES)} message was acknowledged but dropped: the message published after it arrived without it`,
      SIZE_WHY,
      SIZE_FIX,
    );
  }
  if (listening.connection.droppedByBroker) {
    return result(
      'weakness',
      `a ${mib(OVERSIZED_BYTES)} message was acknowledged, then the broker dropped the victim's connection`,
      SIZE_WHY,
      SIZE_FIX,
    );
  }
  throw new Inconclusive(
    `a ${mib(OVERSIZED_BYTES)} message was acknowledged and neither it nor the message after it reached the victim within ${waitMs} ms (Mosquitto's WebSockets listener sends large messages slowly): audit the plain or mqtts:// listener to decide`,
  );
}

async function offlineQueue(ctx: CheckContext): Promise<CheckResult> {
  const victim = ctx.newVictim();
  const first = await ctx.mustConnect('victim', ctx.asVictim(victim, { clean: false }));
  dropSessionLater(ctx, victim);
  if ((await first.subscribe(victim.inbox)) !== 'granted')
    throw new Inconclusive('the victim could not subscribe to its own inbox');
  await first.end();

  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  const tag = ctx.canary();
  const sent = await publishPaced(attacker, victim.inbox, OFFLINE_MESSAGES, (i) =>
    paddedPayload(tag, i, OFFLINE_MESSAGE_BYTES),
  );
  if (sent.acked < OFFLINE_MESSAGES) {
    throw new Inconclusive(
      `only ${sent.acked} of ${OFFLINE_MESSAGES} publishes were acknowledged${attacker.droppedByBroker ? ' before the broker closed the connection (a publish rate limit?)' : ''}: the queue was not filled`,
    );
  }
  const back = await ctx.mustConnect('victim', ctx.asVictim(victim, { clean: false }));
  if (!back.sessionPresent)
    throw new Inconclusive(
      'the broker did not keep the offline victim’s session (session present = 0): no queue to measure',
    );
  const drained = await drainWithMarkers(
    ctx,
    back,
    attacker,
    victim.inbox,
    Math.max(ctx.timeoutMs * 3, 15_000),
  );
  const kept = taggedCount(back, tag);
  const seen = `${kept} of ${OFFLINE_MESSAGES} messages of ${OFFLINE_MESSAGE_BYTES} bytes (${mib(kept * OFFLINE_MESSAGE_BYTES)}) queued for the offline victim were kept`;
  if (kept > EXPECTED_QUEUE_BOUND)
    return result('weakness', `${seen}: more than ${EXPECTED_QUEUE_BOUND}`, QUEUE_WHY, QUEUE_FIX, 'medium');
  if (!drained)
    throw new Inconclusive(`${seen} before the victim stopped receiving; the end of the queue never arrived`);
  if (kept === 0)
    throw new Inconclusive('nothing queued for the offline victim was delivered when it came back');
  return result('pass', `${seen}: bounded`, QUEUE_WHY, QUEUE_FIX);
}

async function slowReader(ctx: CheckContext): Promise<CheckResult> {
  const listening = await ctx.listeningVictim();
  const reader = listening.connection;
  const inbox = listening.identity.inbox;
  const attacker = await ctx.mustConnect('attacker', ctx.attacker());
  await ctx.deliverCanary(listening, ctx.canary(), attacker);
  const tag = ctx.canary();
  reader.stall();
  const sent = await publishPaced(attacker, inbox, SLOW_MESSAGES, (i) =>
    paddedPayload(tag, i, SLOW_MESSAGE_BYTES),
  );
  const total = `${SLOW_MESSAGES} messages of ${SLOW_MESSAGE_BYTES / KiB} KiB (${mib(SLOW_MESSAGES * SLOW_MESSAGE_BYTES)} in all)`;
  if (sent.acked < SLOW_MESSAGES) {
    if (reader.droppedByBroker)
      return result(
        'pass',
        `the broker disconnected the reader that stopped reading after ${sent.acked} of ${total}`,
        SLOW_WHY,
        SLOW_FIX,
      );
    throw new Inconclusive(
      `only ${sent.acked} of ${SLOW_MESSAGES} publishes were acknowledged${attacker.droppedByBroker ? ' before the broker closed the connection (a publish rate limit?)' : ''}`,
    );
  }
  // While stalled, MQTT.js records at most the one message it holds.
  if (taggedCount(reader, tag) > 1)
    throw new Inconclusive('the reader could not be stalled (it kept receiving)');
  await sleep(ctx.settleMs);
  if (reader.droppedByBroker)
    return result(
      'pass',
      `the broker disconnected the reader that stopped reading while ${total} were sent to it`,
      SLOW_WHY,
      SLOW_FIX,
    );
  reader.resume();
  const drained = await drainWithMarkers(ctx, reader, attacker, inbox, Math.max(ctx.timeoutMs * 4, 30_000));
  const got = taggedCount(reader, tag);
  const held = got * SLOW_MESSAGE_BYTES;
  if (held > SLOW_HELD_BOUND)
    return result(
      'weakness',
      `the broker held ${got} of ${total} (${mib(held)}) for a reader that had stopped reading, more than ${mib(SLOW_HELD_BOUND)}, and delivered them when it read again`,
      SLOW_WHY,
      SLOW_FIX,
      'high',
    );
  if (drained || reader.droppedByBroker) {
    const how = reader.droppedByBroker ? ', then disconnected it' : '';
    return result(
      'pass',
      `the reader that stopped reading got ${got} of ${total} (${mib(held)}) once it read again: the broker dropped ${SLOW_MESSAGES - got}${how}`,
      SLOW_WHY,
      SLOW_FIX,
    );
  }
  throw new Inconclusive(
    `the reader got ${got} of ${total} after it read again, and the end of the stream never arrived within the check's time (Mosquitto's WebSockets listener sends large messages slowly): audit the plain or mqtts:// listener to decide`,
  );
}

/** Extra time a resource check may take beyond the usual per-check deadline (it paces its publishes). */
const slowBudget = (timeoutMs: number) => timeoutMs * 8 + 45_000;

export const resourceChecks: AttackCheck[] = [
  {
    id: 'resource-oversized-message',
    title: `a ${OVERSIZED_BYTES / MiB} MiB message is refused (one message, once)`,
    deadlineMs: (timeoutMs) => timeoutMs * 4 + 10_000,
    run: oversizedMessage,
  },
  {
    id: 'resource-offline-queue',
    title: `an offline device's queue is bounded (${OFFLINE_MESSAGES} × ${OFFLINE_MESSAGE_BYTES / KiB} KiB sent, then drained)`,
    deadlineMs: slowBudget,
    run: offlineQueue,
  },
  {
    id: 'resource-slow-reader',
    title: `a reader that stops reading is dropped or cut off (${SLOW_MESSAGES} × ${SLOW_MESSAGE_BYTES / KiB} KiB sent)`,
    deadlineMs: slowBudget,
    run: slowReader,
  },
];
