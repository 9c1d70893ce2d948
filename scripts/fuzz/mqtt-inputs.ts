/**
 * MQTT 3.1.1 fuzz inputs: valid packets of every type made with mqtt-packet's generate (plus hand-encoded
 * ones it refuses to make, such as invalid UTF-8 topics), and mutators that break them the ways a hostile
 * or buggy client would: bit flips, truncation, corrupt Remaining Length, splices, random bytes, reserved
 * flags, huge announced lengths.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Prng } from './prng.ts';

/** What a generator may use: the usernames and passwords the broker accepts (none when anonymous). */
export interface MqttInputContext {
  accounts: ReadonlyArray<{ username: string; password: string }>;
}

/** Encodes a fixed header (first byte, Remaining Length varint) in front of `body`. */
export function encodePacket(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte & 0xff]), encodeVarint(body.length), body]);
}

/** MQTT's Remaining Length varint (values above 268,435,455 still encode, in more than four bytes). */
export function encodeVarint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  return Buffer.from(out);
}

/** A length-prefixed MQTT string from raw bytes (which need not be UTF-8). */
function mqttString(bytes: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(Math.min(bytes.length, 0xffff));
  return Buffer.concat([prefix, bytes]);
}

/** Topic names and filters, valid and not: wildcards in the wrong place, $-topics, NUL, deep, empty. */
const TOPIC_TEXTS = [
  'fuzz/a',
  'fuzz/b/c',
  'canary/x',
  'chats/fz/messages',
  '',
  '#',
  '+',
  'fuzz/#',
  'fuzz/+/x',
  'a/#/b',
  'a+/b',
  'fuzz/x#',
  '$SYS/broker/load',
  '$share/g/fuzz/a',
  '/',
  '//',
  'fuzz/\u0000nul',
  'fuzz/\uffff',
  'fuzz/\u0001ctl',
  'fuzz/émoji/😀',
  Array.from({ length: 40 }, (_, i) => `l${i}`).join('/'),
] as const;

/** Byte strings that are not valid MQTT UTF-8 (3.1.1 §1.5.3): overlong, surrogates, stray bytes. */
const INVALID_UTF8 = [
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0x66, 0x75, 0x7a, 0x7a, 0x2f, 0xe2, 0x82]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from([0x80]),
];

/** A topic as bytes: usually a listed or random text, sometimes invalid UTF-8 or long. */
function topicBytes(prng: Prng): Buffer {
  return prng.weighted<() => Buffer>([
    [10, () => Buffer.from(prng.pick(TOPIC_TEXTS))],
    [4, () => Buffer.from(`fuzz/${prng.bytes(prng.int(1, 8)).toString('hex')}`)],
    [2, () => prng.pick(INVALID_UTF8)],
    [1, () => prng.bytes(prng.smallSize(64))],
    [0.3, () => Buffer.alloc(prng.int(1000, 65535), 0x61)],
  ])();
}

const topicText = (prng: Prng) => topicBytes(prng).toString('utf8');

function clientId(prng: Prng): string {
  return prng.weighted<() => string>([
    [10, () => `fz${prng.bytes(6).toString('hex')}`],
    [1, () => ''],
    [1, () => prng.pick(['+', '#', 'a/b', '$SYS', 'fz-0', 'x'.repeat(300)])],
    [1, () => prng.bytes(prng.smallSize(40)).toString('latin1')],
  ])();
}

/** A valid CONNECT (credentials good, wrong or absent), or one with a wrong protocol name or level. */
export function connectPacket(prng: Prng, ctx: MqttInputContext): Buffer {
  const packet: Record<string, unknown> = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: clientId(prng),
    clean: prng.chance(0.6),
    keepalive: prng.pick([0, 1, 5, 60, 65535]),
  };
  const account = ctx.accounts.length > 0 ? prng.pick(ctx.accounts) : undefined;
  const credentials = prng.weighted<string>([
    [account ? 6 : 0, 'good'],
    [2, 'wrong'],
    [account ? 1 : 4, 'none'],
    [0.5, 'username-only'],
    [0.5, 'password-only'],
  ]);
  if (credentials === 'good' && account) {
    packet.username = account.username;
    packet.password = Buffer.from(account.password);
  } else if (credentials === 'wrong') {
    packet.username = account?.username ?? 'nobody';
    packet.password = prng.bytes(prng.smallSize(40));
  } else if (credentials === 'username-only') {
    packet.username = account?.username ?? 'nobody';
  } else if (credentials === 'password-only') {
    packet.password = prng.bytes(8);
  }
  if (prng.chance(0.2)) {
    packet.will = {
      topic: topicText(prng),
      payload: prng.bytes(prng.smallSize(200)),
      qos: prng.int(0, 2),
      retain: prng.chance(0.3),
    };
  }
  const variant = prng.weighted<string>([
    [20, 'v4'],
    [1, 'v3'],
    [1, 'v5'],
    [1, 'bad-level'],
    [1, 'bad-name'],
  ]);
  if (variant === 'v3') {
    packet.protocolId = 'MQIsdp';
    packet.protocolVersion = 3;
  } else if (variant === 'v5') {
    packet.protocolVersion = 5;
  } else if (variant === 'bad-level') {
    packet.protocolVersion = prng.pick([0, 1, 2, 6, 127, 255]);
  } else if (variant === 'bad-name') {
    packet.protocolId = prng.pick(['MQTX', 'mqtt', 'MQIsdp', '', 'MQTTMQTT']);
  }
  return generateOr(packet, () => encodePacket(0x10, prng.bytes(prng.smallSize(60))), variant === 'v5');
}

/** generate(), or a fallback when mqtt-packet refuses the fields (which is itself an input worth sending). */
function generateOr(packet: Record<string, unknown>, fallback: () => Buffer, v5 = false): Buffer {
  try {
    return mqttPacket.generate(packet as unknown as Packet, v5 ? { protocolVersion: 5 } : undefined);
  } catch {
    return fallback();
  }
}

function payload(prng: Prng): Buffer {
  return prng.weighted<() => Buffer>([
    [20, () => prng.bytes(prng.smallSize(300))],
    [2, () => prng.bytes(prng.int(300, 4000))],
    [0.2, () => Buffer.alloc(prng.int(60_000, 300_000), 0x7a)],
  ])();
}

/** PUBLISH with a raw topic (possibly invalid UTF-8), any QoS 0..2, flags and packet id. */
function publishPacket(prng: Prng): Buffer {
  const qos = prng.weighted<number>([
    [5, 0],
    [4, 1],
    [3, 2],
  ]);
  const topic = topicBytes(prng);
  const first = 0x30 | (prng.chance(0.1) ? 0x08 : 0) | (qos << 1) | (prng.chance(0.15) ? 1 : 0);
  const id = Buffer.alloc(2);
  id.writeUInt16BE(prng.chance(0.05) ? 0 : prng.int(1, 65535));
  return encodePacket(
    first,
    Buffer.concat([mqttString(topic), qos > 0 ? id : Buffer.alloc(0), payload(prng)]),
  );
}

/** SUBSCRIBE (0x82) or UNSUBSCRIBE (0xA2) with raw filters; sometimes no filters or QoS 3. */
function subscribeLike(prng: Prng, unsubscribe: boolean): Buffer {
  const parts: Buffer[] = [];
  const id = Buffer.alloc(2);
  id.writeUInt16BE(prng.chance(0.05) ? 0 : prng.int(1, 65535));
  parts.push(id);
  const count = prng.chance(0.05) ? 0 : prng.int(1, 5);
  for (let i = 0; i < count; i++) {
    parts.push(mqttString(topicBytes(prng)));
    if (!unsubscribe) parts.push(Buffer.from([prng.chance(0.05) ? prng.int(3, 255) : prng.int(0, 2)]));
  }
  return encodePacket(unsubscribe ? 0xa2 : 0x82, Buffer.concat(parts));
}

/** An acknowledgement-style packet (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK) with a random id. */
function ackPacket(prng: Prng): Buffer {
  const cmd = prng.pick(['puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback'] as const);
  return generateOr({ cmd, messageId: prng.int(0, 65535) }, () => encodePacket(0x40, Buffer.from([0, 1])));
}

/** Packets only a server sends (CONNACK, SUBACK, PINGRESP): a client must not. */
function serverPacket(prng: Prng): Buffer {
  return prng.weighted<() => Buffer>([
    [
      1,
      () =>
        generateOr({ cmd: 'connack', returnCode: prng.int(0, 5), sessionPresent: false }, () =>
          Buffer.from([0x20, 2, 0, 0]),
        ),
    ],
    [
      1,
      () =>
        generateOr({ cmd: 'suback', messageId: prng.int(1, 65535), granted: [0, 1, 128] }, () =>
          Buffer.from([0x90, 2, 0, 1]),
        ),
    ],
    [1, () => Buffer.from([0xd0, 0])],
    [0.5, () => encodePacket(0xf0, prng.bytes(prng.smallSize(8)))], // type 15: reserved in 3.1.1
    [0.5, () => encodePacket(0x00, prng.bytes(prng.smallSize(8)))], // type 0: reserved
  ])();
}

/** One well-formed-looking packet of a type a client might send after CONNECT (or must not). */
export function sessionPacket(prng: Prng, ctx: MqttInputContext): Buffer {
  return prng.weighted<() => Buffer>([
    [30, () => publishPacket(prng)],
    [10, () => subscribeLike(prng, false)],
    [5, () => subscribeLike(prng, true)],
    [10, () => ackPacket(prng)],
    [6, () => Buffer.from([0xc0, 0])], // PINGREQ
    [1, () => Buffer.from([0xe0, 0])], // DISCONNECT
    [2, () => connectPacket(prng, ctx)], // a second CONNECT is a protocol violation
    [3, () => serverPacket(prng)],
  ])();
}

/** Bytes of the fixed header: the first byte and the Remaining Length varint, or undefined if unreadable. */
function headerLength(buf: Buffer): number | undefined {
  for (let i = 1; i < Math.min(buf.length, 5); i++) if (((buf[i] as number) & 0x80) === 0) return i + 1;
  return undefined;
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x3f, 0x40, 0x2f, 0x23, 0x2b];

/** Ways to break a packet; each takes the packet and a donor packet for splices. */
const MUTATORS: ReadonlyArray<readonly [number, (prng: Prng, buf: Buffer, donor: Buffer) => Buffer]> = [
  [
    4,
    (prng, buf) => {
      const out = Buffer.from(buf);
      const flips = prng.int(1, 8);
      for (let i = 0; i < flips && out.length > 0; i++) {
        const at = prng.int(0, out.length - 1);
        out[at] = (out[at] as number) ^ (1 << prng.int(0, 7));
      }
      return out;
    },
  ],
  [
    2,
    (prng, buf) => {
      const out = Buffer.from(buf);
      for (let i = prng.int(1, 4); i > 0 && out.length > 0; i--)
        out[prng.int(0, out.length - 1)] = prng.pick(INTERESTING);
      return out;
    },
  ],
  [3, (prng, buf) => buf.subarray(0, prng.int(0, Math.max(0, buf.length - 1)))],
  [
    3,
    (prng, buf) => {
      // Remaining Length says something other than what follows.
      const header = headerLength(buf) ?? 2;
      const body = buf.subarray(Math.min(header, buf.length));
      const claimed = prng.weighted<number>([
        [3, Math.max(0, body.length + prng.int(-4, 4))],
        [2, prng.int(0, 1000)],
        [1, 268_435_455],
        [1, prng.int(70_000, 10_000_000)],
      ]);
      return Buffer.concat([buf.subarray(0, 1), encodeVarint(claimed), body]);
    },
  ],
  [
    1,
    (_prng, buf) =>
      Buffer.concat([buf.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), buf.subarray(2)]),
  ],
  [1, (_prng, buf) => Buffer.concat([buf.subarray(0, 1), Buffer.from([0x80, 0x80, 0x80, 0x80])])], // never-ending varint
  [
    3,
    (prng, buf, donor) =>
      Buffer.concat([buf.subarray(0, prng.int(0, buf.length)), donor.subarray(prng.int(0, donor.length))]),
  ],
  [2, (prng, buf) => Buffer.concat([buf, prng.bytes(prng.smallSize(64))])],
  [
    2,
    (prng, buf) => {
      const at = prng.int(0, buf.length);
      const cut = prng.chance(0.5) ? prng.smallSize(8) : 0;
      return Buffer.concat([
        buf.subarray(0, at),
        prng.bytes(prng.smallSize(16)),
        buf.subarray(Math.min(buf.length, at + cut)),
      ]);
    },
  ],
  [
    2,
    (prng, buf) => {
      // Reserved flag bits, or another packet type under the same body.
      const out = Buffer.from(buf);
      if (out.length === 0) return out;
      out[0] = prng.chance(0.5)
        ? ((out[0] as number) & 0xf0) | prng.int(0, 15)
        : (prng.int(0, 15) << 4) | ((out[0] as number) & 0x0f);
      return out;
    },
  ],
  [1, (prng) => prng.bytes(prng.smallSize(512))],
  [
    1,
    (prng, buf) => Buffer.concat(Array.from({ length: buf.length > 4096 ? 2 : prng.int(2, 40) }, () => buf)),
  ],
];

/** One mutation of `buf` (a `donor` packet feeds splices). */
export function mutate(prng: Prng, buf: Buffer, donor: Buffer): Buffer {
  return prng.weighted(MUTATORS)(prng, buf, donor);
}
