// The MQTT parser's buffer list (src/broker/parser-buffer-list.ts) reads in place instead of copying, a speed-up
// `hush bench` motivated. It must answer every read exactly as bl's own BufferList does (values and errors),
// whatever the chunking, and the parser fed through it must produce the same packets.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { ParserBufferList } from '../../src/broker/parser-buffer-list.ts';

const fromMqttPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
const { BufferList } = fromMqttPacket('bl') as {
  BufferList: new () => {
    append(buf: Buffer): unknown;
    consume(bytes: number): unknown;
    readUInt8(offset?: number): number;
    readUInt16BE(offset?: number): number;
    readUInt32BE(offset?: number): number;
  };
};

type Reader = 'readUInt8' | 'readUInt16BE' | 'readUInt32BE';
const steps = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant('append' as const),
      bytes: fc.uint8Array({ minLength: 0, maxLength: 12 }),
    }),
    fc.record({ kind: fc.constant('consume' as const), bytes: fc.integer({ min: 0, max: 10 }) }),
    fc.record({
      kind: fc.constant('read' as const),
      reader: fc.constantFrom<Reader>('readUInt8', 'readUInt16BE', 'readUInt32BE'),
      // Integer offsets only, as the parser passes: bl answers a fractional one from uninitialised memory.
      offset: fc.option(fc.integer({ min: -3, max: 30 }), { nil: undefined }),
    }),
  ),
  { maxLength: 60 },
);

/** The value a read gives, or the class and message of what it throws. */
function outcome(read: () => number): unknown {
  try {
    return { value: read() };
  } catch (error) {
    return { threw: (error as Error).constructor.name, message: (error as Error).message };
  }
}

describe('ParserBufferList', () => {
  it('reads exactly what bl’s BufferList reads, after any appends and consumes', () => {
    fc.assert(
      fc.property(steps, (script) => {
        const fast = new ParserBufferList();
        const reference = new BufferList();
        for (const step of script) {
          if (step.kind === 'append') {
            fast.append(Buffer.from(step.bytes));
            reference.append(Buffer.from(step.bytes));
          } else if (step.kind === 'consume') {
            fast.consume(step.bytes);
            reference.consume(step.bytes);
          } else {
            const { reader, offset } = step;
            expect(outcome(() => fast[reader](offset))).toEqual(outcome(() => reference[reader](offset)));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads across chunk boundaries (bl’s path) and in place within the first chunk', () => {
    const list = new ParserBufferList();
    list.append(Buffer.from([0x01, 0x02, 0x03]));
    list.append(Buffer.from([0x04, 0x05]));
    expect(list.readUInt8(2)).toBe(0x03);
    expect(list.readUInt16BE(1)).toBe(0x0203);
    expect(list.readUInt16BE(2)).toBe(0x0304);
    expect(list.readUInt32BE(1)).toBe(0x02030405);
    expect(() => list.readUInt8(5)).toThrow(RangeError);
  });

  it('lets mqtt-packet parse the same packets from any split of the bytes', () => {
    const packets: Packet[] = [
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'c1', keepalive: 30 },
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'chats/c1/messages', qos: 1 }] },
      {
        cmd: 'publish',
        topic: 'chats/c2/messages',
        payload: Buffer.alloc(300, 9),
        qos: 1,
        messageId: 513,
        retain: false,
        dup: false,
      },
      { cmd: 'puback', messageId: 65535 },
      { cmd: 'pingreq' },
    ] as Packet[];
    const wire = Buffer.concat(packets.map((p) => mqttPacket.generate(p)));
    const parseAll = (chunks: Buffer[], list: unknown): unknown[] => {
      const parser = mqttPacket.parser({ protocolVersion: 4 }) as ReturnType<typeof mqttPacket.parser> & {
        _list: unknown;
      };
      if (list !== undefined) parser._list = list;
      const out: unknown[] = [];
      parser.on('packet', (p: Packet) => out.push({ ...p }));
      parser.on('error', (e: Error) => out.push({ error: e.message }));
      for (const chunk of chunks) parser.parse(chunk);
      return out;
    };
    const expected = parseAll([wire], undefined);
    expect(expected).toHaveLength(packets.length);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: wire.length - 1 }), { maxLength: 12 }), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), wire.length];
        const chunks = at.slice(1).map((end, i) => wire.subarray(at[i], end));
        expect(parseAll(chunks, new ParserBufferList())).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
