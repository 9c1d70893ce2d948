/**
 * WebSocket fuzz inputs (RFC 6455): the client's upgrade request for /mqtt, and frames carrying MQTT bytes
 * that are masked or not, with reserved opcodes or RSV bits, fragmented, announcing oversized lengths,
 * control frames (ping, pong, close) in and out of place, and text frames with invalid UTF-8.
 */
import type { Prng } from './prng.ts';

export interface FrameFields {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  masked?: boolean;
  payload: Buffer;
  /** The length announced in the header, when it should differ from the payload's. */
  announced?: number | bigint;
  /** Encode the length in the 16- or 64-bit form even when it fits a shorter one (non-minimal). */
  lengthForm?: 7 | 16 | 64;
}

/** Encodes one frame as a client would send it (masked unless `masked: false`). */
export function encodeFrame(fields: FrameFields, prng: Prng): Buffer {
  const { payload } = fields;
  const masked = fields.masked ?? true;
  const length = BigInt(fields.announced ?? payload.length);
  const form = fields.lengthForm ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const first = ((fields.fin ?? true) ? 0x80 : 0) | (((fields.rsv ?? 0) & 7) << 4) | (fields.opcode & 0x0f);
  let header: Buffer;
  if (form === 7) header = Buffer.from([first, (masked ? 0x80 : 0) | Number(length & 0x7fn)]);
  else if (form === 16) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(Number(length & 0xffffn), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(length & 0xffffffffffffffffn, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const key = prng.bytes(4);
  const body = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = (payload[i] as number) ^ (key[i & 3] as number);
  return Buffer.concat([header, key, body]);
}

/** The HTTP upgrade request for /mqtt; now and then a broken one (wrong path, version, key, garbage). */
export function upgradeRequest(prng: Prng, port: number): { request: Buffer; valid: boolean } {
  const key = prng.bytes(16).toString('base64');
  const headers = [
    `GET /mqtt HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Protocol: ${prng.chance(0.9) ? 'mqtt' : 'mqttv3.1'}`,
  ];
  const broken = prng.weighted<string | undefined>([
    [40, undefined],
    [1, 'path'],
    [1, 'version'],
    [1, 'key'],
    [1, 'protocol'],
    [1, 'garbage'],
  ]);
  if (broken === 'path')
    headers[0] = `GET ${prng.pick(['/', '/mqt', '/mqtt/../x', '*', '/mqtt?x=%00'])} HTTP/1.1`;
  if (broken === 'version') headers[5] = `Sec-WebSocket-Version: ${prng.pick(['8', '0', '', '99999999999'])}`;
  if (broken === 'key') headers[4] = `Sec-WebSocket-Key: ${prng.pick(['', 'abc', '!!!!'])}`;
  if (broken === 'protocol') headers[6] = 'Sec-WebSocket-Protocol: nope';
  if (broken === 'garbage') return { request: prng.bytes(prng.int(1, 300)), valid: false };
  return { request: Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), valid: broken === undefined };
}

const CONTROL_OPCODES = [0x8, 0x9, 0xa];
const RESERVED_OPCODES = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];

/** Wraps MQTT bytes in frames; `broken` when they are anything but one or more well-formed data frames. */
export function framesFor(prng: Prng, mqtt: Buffer): { frames: Buffer[]; broken: boolean } {
  const frames = framesOfSomeKind(prng, mqtt);
  return {
    frames: frames.frames,
    broken: frames.kind !== 'binary' && frames.kind !== 'fragmented' && frames.kind !== 'non-minimal-length',
  };
}

function framesOfSomeKind(prng: Prng, mqtt: Buffer): { frames: Buffer[]; kind: string } {
  const kind = pickKind(prng);
  return { frames: framesOfKind(prng, mqtt, kind), kind };
}

function pickKind(prng: Prng): string {
  return prng.weighted<string>([
    [60, 'binary'],
    [6, 'fragmented'],
    [3, 'unmasked'],
    [3, 'rsv'],
    [3, 'reserved-opcode'],
    [3, 'text'],
    [2, 'oversized-length'],
    [2, 'lying-length'],
    [2, 'non-minimal-length'],
    [4, 'control'],
    [2, 'stray-continuation'],
    [1, 'random'],
  ]);
}

function framesOfKind(prng: Prng, mqtt: Buffer, kind: string): Buffer[] {
  switch (kind) {
    case 'binary':
      return [encodeFrame({ opcode: 0x2, payload: mqtt }, prng)];
    case 'fragmented': {
      // Split over 2..4 frames; sometimes a ping in between (allowed) or a new data frame (not allowed).
      const pieces = prng.int(2, 4);
      const frames: Buffer[] = [];
      let at = 0;
      for (let i = 0; i < pieces; i++) {
        const end = i === pieces - 1 ? mqtt.length : prng.int(at, mqtt.length);
        const last = i === pieces - 1;
        frames.push(
          encodeFrame(
            { opcode: i === 0 ? 0x2 : 0x0, fin: last && prng.chance(0.9), payload: mqtt.subarray(at, end) },
            prng,
          ),
        );
        if (!last && prng.chance(0.2)) {
          const interloper = prng.chance(0.6) ? 0x9 : 0x2;
          frames.push(encodeFrame({ opcode: interloper, payload: prng.bytes(prng.smallSize(10)) }, prng));
        }
        at = end;
      }
      return frames;
    }
    case 'unmasked':
      return [encodeFrame({ opcode: 0x2, masked: false, payload: mqtt }, prng)];
    case 'rsv':
      return [encodeFrame({ opcode: 0x2, rsv: prng.int(1, 7), payload: mqtt }, prng)];
    case 'reserved-opcode':
      return [encodeFrame({ opcode: prng.pick(RESERVED_OPCODES), payload: mqtt }, prng)];
    case 'text': {
      const payload = prng.chance(0.5) ? mqtt : Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff]);
      return [encodeFrame({ opcode: 0x1, payload }, prng)];
    }
    case 'oversized-length':
      // Announces far more than the broker's maxPayload (or 2^63) and sends only a little.
      return [
        encodeFrame(
          {
            opcode: 0x2,
            payload: mqtt.subarray(0, 64),
            announced: prng.pick([300_000n, 16_777_216n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n]),
            lengthForm: 64,
          },
          prng,
        ),
      ];
    case 'lying-length':
      return [
        encodeFrame(
          { opcode: 0x2, payload: mqtt, announced: Math.max(0, mqtt.length + prng.int(-8, 8)) },
          prng,
        ),
      ];
    case 'non-minimal-length':
      return [encodeFrame({ opcode: 0x2, payload: mqtt, lengthForm: prng.chance(0.5) ? 16 : 64 }, prng)];
    case 'control': {
      const opcode = prng.pick(CONTROL_OPCODES);
      // Control payloads must be ≤ 125 bytes and unfragmented; close payloads a 2-byte code + UTF-8 reason.
      const payload = prng.weighted<() => Buffer>([
        [4, () => prng.bytes(prng.smallSize(20))],
        [1, () => prng.bytes(prng.int(126, 400))],
        [1, () => Buffer.from([0x03, 0xe8, 0xff, 0xfe])],
        [1, () => Buffer.from([prng.int(0, 255), prng.int(0, 255)])],
        [1, () => Buffer.from([0x03])],
      ])();
      const frames = [encodeFrame({ opcode, fin: prng.chance(0.9), payload }, prng)];
      if (opcode !== 0x8) frames.push(encodeFrame({ opcode: 0x2, payload: mqtt }, prng));
      return frames;
    }
    case 'stray-continuation':
      return [encodeFrame({ opcode: 0x0, payload: mqtt }, prng)];
    default:
      return [prng.bytes(prng.smallSize(64))];
  }
}
