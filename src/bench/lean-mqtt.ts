// The benchmark's MQTT client: packets built once with mqtt-packet, then sent as pre-encoded buffers, and
// incoming bytes cut into packets by a tiny framer. Written by hand (not MQTT.js) because the load generator
// must outrun a C broker on the same two cores: MQTT.js spends more CPU per message than Mosquitto does
// (see notes/baselines.md), so a generator built on it measures itself, not the broker.
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';

export type Transport = 'tcp' | 'ws';

/** MQTT 3.1.1 packet types (first byte >> 4). */
export const PacketType = { connack: 2, publish: 3, puback: 4, suback: 9 } as const;

/** Called with a whole packet: its first byte and its body as `buf[start, end)`. */
export type PacketHandler = (first: number, buf: Buffer, start: number, end: number) => void;

/** Cuts a byte stream into MQTT packets (MQTT 3.1.1 §2.2 fixed header), copying only when a packet spans chunks. */
export class Framer {
  private rest: Buffer | undefined;

  constructor(private readonly onPacket: PacketHandler) {}

  /** Feeds received bytes; calls onPacket for every packet completed. */
  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let i = 0;
    while (i < buf.length) {
      let length = 0;
      let multiplier = 1;
      let j = i + 1;
      let byte = 0x80;
      while (byte & 0x80) {
        if (j >= buf.length) {
          this.rest = buf.subarray(i);
          return;
        }
        byte = buf[j++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
      }
      if (j + length > buf.length) {
        this.rest = buf.subarray(i);
        return;
      }
      this.onPacket(buf[i] as number, buf, j, j + length);
      i = j + length;
    }
  }
}

/**
 * An open connection that sends pre-encoded packets. Each packet is written on its own (one WebSocket frame
 * each), as chat clients send them: batching a client's packets into one write would spare the broker reads
 * that real traffic makes it do.
 */
export interface LeanConnection {
  send(packet: Buffer): void;
  /** Closes the connection; resolves once the socket is closed. */
  close(): Promise<void>;
  readonly closed: boolean;
}

const WS_SEND_OPTIONS = { binary: true, compress: false } as const;

/** Opens a TCP or WebSocket (/mqtt, subprotocol "mqtt") connection to 127.0.0.1:port. */
export function openConnection(
  transport: Transport,
  port: number,
  onPacket: PacketHandler,
  onClose: () => void,
): Promise<LeanConnection> {
  const framer = new Framer(onPacket);
  return new Promise((resolve, reject) => {
    if (transport === 'tcp') {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      socket.on('data', (chunk: Buffer) => framer.push(chunk));
      socket.once('error', reject);
      socket.once('close', onClose);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve({
          send(packet) {
            socket.write(packet);
          },
          close: () =>
            new Promise<void>((done) => {
              if (socket.destroyed) return done();
              socket.once('close', () => done());
              socket.end(DISCONNECT);
              setTimeout(() => socket.destroy(), 2000).unref();
            }),
          get closed() {
            return socket.destroyed;
          },
        });
      });
      return;
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt', {
      perMessageDeflate: false,
      // The mask only protects proxies from browser-crafted bytes; a zero mask is valid (RFC 6455 §5.3) and
      // spares the generator a random fill per frame.
      generateMask: () => undefined,
    });
    ws.on('message', (data: Buffer) => framer.push(data));
    ws.once('error', reject);
    ws.once('close', onClose);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined);
      resolve({
        send(packet) {
          if (ws.readyState === WebSocket.OPEN) ws.send(packet, WS_SEND_OPTIONS);
        },
        close: () =>
          new Promise<void>((done) => {
            if (ws.readyState === WebSocket.CLOSED) return done();
            ws.once('close', () => done());
            if (ws.readyState === WebSocket.OPEN) ws.send(DISCONNECT, WS_SEND_OPTIONS);
            ws.close();
            setTimeout(() => ws.terminate(), 2000).unref();
          }),
        get closed() {
          return ws.readyState === WebSocket.CLOSED;
        },
      });
    });
  });
}

const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** CONNECT with username = client id, as both brokers run with use_username_as_clientid. */
export function connectPacket(username: string, password: string, clean: boolean): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: username,
    clean,
    keepalive: 0,
    username,
    password: Buffer.from(password),
  });
}

/** SUBSCRIBE to one filter at QoS 1. */
export function subscribePacket(filter: string): Buffer {
  return mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
}

/** A QoS 1 PUBLISH whose packet id and first payload bytes are patched per message. */
export class PublishTemplate {
  private readonly template: Buffer;
  private readonly idOffset: number;
  readonly payloadOffset: number;

  constructor(topic: string, payloadBytes: number) {
    this.template = mqttPacket.generate({
      cmd: 'publish',
      topic,
      payload: Buffer.alloc(payloadBytes, 0x61),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    });
    this.payloadOffset = this.template.length - payloadBytes;
    this.idOffset = this.payloadOffset - 2;
  }

  /** A fresh copy with packet id `id`; `stamp` (ms) goes into the first 8 payload bytes when given. */
  build(id: number, stamp?: number): Buffer {
    const packet = Buffer.allocUnsafe(this.template.length);
    this.template.copy(packet);
    packet.writeUInt16BE(id, this.idOffset);
    if (stamp !== undefined) packet.writeDoubleLE(stamp, this.payloadOffset);
    return packet;
  }
}

/** PUBACK for packet id `id`. */
export function pubackPacket(id: number): Buffer {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

/** Reads a QoS 1 PUBLISH body: packet id and where the payload starts. */
export function readPublish(first: number, buf: Buffer, start: number): { id: number; payload: number } {
  const topicLength = buf.readUInt16BE(start);
  const afterTopic = start + 2 + topicLength;
  if (((first >> 1) & 3) === 0) return { id: 0, payload: afterTopic };
  return { id: buf.readUInt16BE(afterTopic), payload: afterTopic + 2 };
}

/** Milliseconds on the system-wide monotonic clock, comparable between processes on one machine. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
