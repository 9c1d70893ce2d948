// A load-generator process of the broker benchmark: holds MQTT connections and runs what the parent asks
// (see worker-protocol.ts). Several of these run side by side so the generator can outrun the broker.
import {
  connectPacket,
  monotonicMs,
  openConnection,
  PacketType,
  pubackPacket,
  PublishTemplate,
  readPublish,
  subscribePacket,
  type LeanConnection,
  type Transport,
} from './lean-mqtt.ts';
import { inboxOf, type Account, type WorkerReply, type WorkerRequest } from './worker-protocol.ts';

const MAX_LATENCY_SAMPLES = 100_000;
const DRAIN_TIMEOUT_MS = 20_000;

interface Client {
  conn: LeanConnection;
  onConnack?: (code: number) => void;
  onSuback?: (ok: boolean) => void;
}

interface Sender {
  client: Client;
  templates: PublishTemplate[];
  nextTarget: number;
  nextId: number;
  inflight: number;
}

let connections: Client[] = [];
let senders: Sender[] = [];
let window = 1;
/**
 * Messages received since the worker started, never reset: the parent counts a phase as the difference of two
 * readings. Resetting it when a phase starts lost deliveries from other workers' senders that arrived before
 * this worker heard of the phase (fan-out: one sender, receivers in every worker).
 */
let received = 0;
/** Publishes sent in the current phase by this worker's senders (reset before they start). */
let sent = 0;
let recording = false;
let latencies: number[] = [];
let saturating = false;

function reply(message: WorkerReply): void {
  process.send?.(message);
}

function publishNext(sender: Sender): void {
  const template = sender.templates[sender.nextTarget] as PublishTemplate;
  sender.nextTarget = (sender.nextTarget + 1) % sender.templates.length;
  sender.nextId = sender.nextId === 65535 ? 1 : sender.nextId + 1;
  sender.inflight++;
  sent++;
  sender.client.conn.send(template.build(sender.nextId, recording ? monotonicMs() : undefined));
}

async function connect(
  transport: Transport,
  port: number,
  account: Account,
  clean: boolean,
  sender?: () => Sender,
): Promise<Client> {
  const client = {} as Client;
  client.conn = await openConnection(
    transport,
    port,
    (first, buf, start) => {
      const type = first >> 4;
      if (type === PacketType.publish) {
        const { id, payload } = readPublish(first, buf, start);
        received++;
        if (recording && latencies.length < MAX_LATENCY_SAMPLES) {
          latencies.push(monotonicMs() - buf.readDoubleLE(payload));
        }
        if (id !== 0) client.conn.send(pubackPacket(id));
      } else if (type === PacketType.puback) {
        const s = sender?.();
        if (!s) return;
        s.inflight--;
        if (saturating) publishNext(s);
      } else if (type === PacketType.connack) {
        client.onConnack?.(buf[start + 1] as number);
      } else if (type === PacketType.suback) {
        client.onSuback?.(buf[start + 2] !== 0x80);
      }
    },
    () => undefined,
  );
  const code = await new Promise<number>((resolve) => {
    client.onConnack = resolve;
    client.conn.send(connectPacket(account.username, account.password, clean));
  });
  if (code !== 0) {
    await client.conn.close();
    throw new Error(`CONNECT of ${account.username} refused with return code ${code}`);
  }
  connections.push(client);
  return client;
}

async function setup(request: Extract<WorkerRequest, { type: 'setup' }>): Promise<WorkerReply> {
  window = request.window;
  // Persistent sessions, QoS 1 and the own inbox only: how Hush clients connect.
  await Promise.all(
    request.receivers.map(async (account) => {
      const client = await connect(request.transport, request.port, account, false);
      const ok = await new Promise<boolean>((resolve) => {
        client.onSuback = resolve;
        client.conn.send(subscribePacket(inboxOf(account.username)));
      });
      if (!ok) throw new Error(`subscription of ${account.username} to its inbox refused`);
    }),
  );
  senders = await Promise.all(
    request.senders.map(async ({ account, targets }) => {
      const holder: { sender?: Sender } = {};
      const client = await connect(request.transport, request.port, account, false, () => holder.sender!);
      holder.sender = {
        client,
        templates: targets.map((t) => new PublishTemplate(inboxOf(t), request.payloadBytes)),
        nextTarget: 0,
        nextId: 0,
        inflight: 0,
      };
      return holder.sender;
    }),
  );
  return { type: 'ready', connections: connections.length };
}

async function drained(): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (senders.some((s) => s.inflight > 0)) {
    if (Date.now() > deadline) {
      const missing = senders.reduce((n, s) => n + s.inflight, 0);
      throw new Error(`${missing} publishes still unacknowledged after ${DRAIN_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function saturate(durationMs: number): Promise<WorkerReply> {
  sent = 0;
  recording = false;
  saturating = true;
  for (const sender of senders) for (let i = sender.inflight; i < window; i++) publishNext(sender);
  await new Promise((r) => setTimeout(r, durationMs));
  saturating = false;
  await drained();
  return { type: 'done', sent, received, latenciesMs: [] };
}

async function rate(perSecond: number, durationMs: number): Promise<WorkerReply> {
  sent = 0;
  latencies = [];
  recording = true;
  if (senders.length > 0 && perSecond > 0) {
    const start = performance.now();
    let turn = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - start;
        const due = Math.floor((perSecond * Math.min(elapsed, durationMs)) / 1000);
        // Behind schedule with every window full: the broker is slower than the offered load; the
        // backlog is sent as acknowledgements free windows (the latency figures then show it).
        for (let tries = 0; sent < due && tries < senders.length;) {
          const sender = senders[turn] as Sender;
          turn = (turn + 1) % senders.length;
          if (sender.inflight < window) {
            publishNext(sender);
            tries = 0;
          } else tries++;
        }
        if (elapsed >= durationMs && sent >= due) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
  }
  await drained();
  return { type: 'done', sent, received, latenciesMs: [] };
}

async function open(request: Extract<WorkerRequest, { type: 'open' }>): Promise<WorkerReply> {
  let ok = 0;
  let refused = 0;
  let next = 0;
  const startMs = monotonicMs();
  const lane = async () => {
    while (next < request.accounts.length) {
      const account = request.accounts[next++] as Account;
      try {
        await connect(request.transport, request.port, account, true);
        ok++;
      } catch {
        refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, lane));
  return { type: 'opened', ok, refused, startMs, endMs: monotonicMs() };
}

async function teardown(): Promise<WorkerReply> {
  const all = connections;
  connections = [];
  senders = [];
  saturating = false;
  recording = false;
  await Promise.all(all.map((c) => c.conn.close()));
  return { type: 'closed' };
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.type) {
    case 'setup':
      return setup(request);
    case 'saturate':
      return saturate(request.durationMs);
    case 'rate':
      return rate(request.perSecond, request.durationMs);
    case 'count':
      return { type: 'done', sent, received, latenciesMs: latencies };
    case 'open':
      return open(request);
    case 'teardown':
      return teardown();
  }
}

process.on('message', (request: WorkerRequest) => {
  handle(request).then(reply, (error: Error) => reply({ type: 'error', message: error.message }));
});
// The parent going away (IPC closed) ends the worker: no generator outlives a benchmark.
process.on('disconnect', () => process.exit(0));
// Tells the parent this process listens: IPC messages sent before the listener exists would be lost.
process.send?.({ type: 'hello' });
