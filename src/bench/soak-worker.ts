// A load-generator process of the soak test (soak.ts): holds chat clients that each send QoS 1 messages to a
// partner's inbox at a steady rate and check what they receive (per-sender sequence numbers: anything lost,
// repeated or reordered is counted). Several run side by side so the process driving the soak stays idle.
import {
  connectPacket,
  openConnection,
  PacketType,
  pubackPacket,
  PublishTemplate,
  readPublish,
  subscribePacket,
  type LeanConnection,
} from './lean-mqtt.ts';
import { inboxOf, type Account } from './worker-protocol.ts';

/** One chat client and the partner it writes to. */
export interface SoakClient {
  account: Account;
  partner: string;
  /** Index of this client across all workers, written into each message so receivers can tell senders apart. */
  index: number;
}

/** Requests from soak.ts. */
export type SoakRequest =
  | { type: 'start'; port: number; clients: SoakClient[]; perClientPerSecond: number; payloadBytes: number }
  | { type: 'stats' }
  /** Stops sending; receivers keep counting. */
  | { type: 'quiet' }
  | { type: 'close' };

/** Counters of one worker since it started. */
export interface SoakStats {
  connected: number;
  sent: number;
  /** PUBACKs received for this worker's publishes. */
  acked: number;
  received: number;
  /** Messages whose sequence number was at or below the last one seen from that sender. */
  duplicates: number;
  /** Messages that skipped ahead of the next expected sequence number (lost, or overtaken). */
  gaps: number;
  /** Connections that closed while the soak ran. */
  dropped: number;
}

export type SoakReply = ({ type: 'stats' } & SoakStats) | { type: 'ok' } | { type: 'error'; message: string };

interface Client {
  conn: LeanConnection;
  template: PublishTemplate;
  index: number;
  nextId: number;
  seq: number;
  onConnack?: (code: number) => void;
  onSuback?: () => void;
}

const stats: SoakStats = { connected: 0, sent: 0, acked: 0, received: 0, duplicates: 0, gaps: 0, dropped: 0 };
/** Last sequence number seen from each sender index. */
const lastSeq = new Map<number, number>();
let clients: Client[] = [];
let timer: NodeJS.Timeout | undefined;
let closing = false;

function onMessage(client: Client, first: number, buf: Buffer, start: number): void {
  const type = first >> 4;
  if (type === PacketType.publish) {
    const { id, payload } = readPublish(first, buf, start);
    const sender = buf.readUInt32LE(payload);
    const seq = buf.readUInt32LE(payload + 4);
    const last = lastSeq.get(sender) ?? 0;
    if (seq <= last) stats.duplicates++;
    else {
      if (seq !== last + 1) stats.gaps++;
      lastSeq.set(sender, seq);
    }
    stats.received++;
    if (id !== 0) client.conn.send(pubackPacket(id));
  } else if (type === PacketType.puback) {
    stats.acked++;
  } else if (type === PacketType.connack) {
    client.onConnack?.(buf[start + 1] as number);
  } else if (type === PacketType.suback) {
    client.onSuback?.();
  }
}

async function connect(port: number, c: SoakClient, payloadBytes: number): Promise<Client> {
  const client = {
    template: new PublishTemplate(inboxOf(c.partner), payloadBytes),
    index: c.index,
    nextId: 0,
    seq: 0,
  } as Client;
  client.conn = await openConnection(
    'tcp',
    port,
    (first, buf, start) => onMessage(client, first, buf, start),
    () => {
      if (!closing) stats.dropped++;
    },
  );
  const code = await new Promise<number>((resolve) => {
    client.onConnack = resolve;
    // Persistent session, as Hush clients connect: the broker keeps QoS 1 state for each.
    client.conn.send(connectPacket(c.account.username, c.account.password, false));
  });
  if (code !== 0) throw new Error(`CONNECT of ${c.account.username} refused with return code ${code}`);
  await new Promise<void>((resolve) => {
    client.onSuback = resolve;
    client.conn.send(subscribePacket(inboxOf(c.account.username)));
  });
  stats.connected++;
  return client;
}

function send(client: Client): void {
  client.nextId = client.nextId === 65535 ? 1 : client.nextId + 1;
  client.seq++;
  const packet = client.template.build(client.nextId);
  const at = client.template.payloadOffset;
  packet.writeUInt32LE(client.index, at);
  packet.writeUInt32LE(client.seq, at + 4);
  stats.sent++;
  client.conn.send(packet);
}

async function start(request: Extract<SoakRequest, { type: 'start' }>): Promise<SoakReply> {
  // 50 at a time: a burst of 1,000 CONNECTs is not what the soak is about.
  for (let i = 0; i < request.clients.length; i += 50) {
    const batch = request.clients.slice(i, i + 50);
    clients.push(...(await Promise.all(batch.map((c) => connect(request.port, c, request.payloadBytes)))));
  }
  // Messages are spread evenly over time and over clients, each client at perClientPerSecond.
  const perSecond = request.perClientPerSecond * clients.length;
  const began = performance.now();
  let due = 0;
  let turn = 0;
  timer = setInterval(() => {
    const target = Math.floor((perSecond * (performance.now() - began)) / 1000);
    for (; due < target; due++) {
      send(clients[turn] as Client);
      turn = (turn + 1) % clients.length;
    }
  }, 20);
  return { type: 'ok' };
}

async function handle(request: SoakRequest): Promise<SoakReply> {
  switch (request.type) {
    case 'start':
      return start(request);
    case 'stats':
      return { type: 'stats', ...stats };
    case 'quiet':
      clearInterval(timer);
      return { type: 'ok' };
    case 'close':
      clearInterval(timer);
      closing = true;
      await Promise.all(clients.map((c) => c.conn.close()));
      clients = [];
      return { type: 'ok' };
  }
}

process.on('message', (request: SoakRequest) => {
  handle(request).then(
    (reply) => process.send?.(reply),
    (error: Error) => process.send?.({ type: 'error', message: error.message }),
  );
});
// The parent going away (IPC closed) ends the worker: no generator outlives a soak.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'hello' });
