// The broker's per-turn write gathering (src/broker/write-coalescer.ts): what leaves the stream, when, and that
// callbacks, 'drain' and end() keep the meaning Aedes relies on.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { generate, writeToStream } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/broker/write-coalescer.ts';

/** A Duplex that records every chunk its _write receives; `hold` keeps the write callbacks pending. */
function recorder(options: { highWaterMark?: number; hold?: boolean } = {}) {
  const writes: Buffer[] = [];
  const pending: Array<() => void> = [];
  const stream = new Duplex({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      writes.push(Buffer.from(chunk));
      if (options.hold) pending.push(() => callback());
      else callback();
    },
  });
  return { stream, writes, release: () => pending.splice(0).forEach((f) => f()) };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesceWrites', () => {
  it('holds the writes of one turn and hands them to the stream as one buffer, in order', async () => {
    const { stream, writes } = recorder();
    coalesceWrites(stream);
    const done: number[] = [];
    stream.write(Buffer.from('ab'), () => done.push(1));
    stream.write('cd');
    stream.write(Buffer.from('ef'), () => done.push(3));
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes.map((b) => b.toString())).toEqual(['abcdef']);
    await nextTurn();
    expect(done).toEqual([1, 3]);
  });

  it('writes mqtt-packet packets byte for byte as generate() encodes them, without corking the stream', async () => {
    const { stream, writes } = recorder();
    coalesceWrites(stream);
    let corked = 0;
    const cork = Duplex.prototype.cork;
    Duplex.prototype.cork = function (this: Duplex) {
      corked++;
      cork.call(this);
    };
    const packets = [
      { cmd: 'publish', topic: 'chats/a/messages', payload: Buffer.alloc(300, 7), qos: 1, messageId: 9 },
      { cmd: 'puback', messageId: 9 },
      { cmd: 'suback', messageId: 2, granted: [1] },
    ] as const;
    try {
      for (const packet of packets) writeToStream(packet as never, stream);
    } finally {
      Duplex.prototype.cork = cork;
    }
    await nextTurn();
    expect(corked).toBe(0);
    expect(Buffer.concat(writes)).toEqual(Buffer.concat(packets.map((p) => generate(p as never))));
  });

  it('returns false past the high-water mark and then emits the drain the caller waits for', async () => {
    const { stream, writes } = recorder({ highWaterMark: 100 });
    coalesceWrites(stream);
    expect(stream.write(Buffer.alloc(60))).toBe(true);
    expect(stream.write(Buffer.alloc(60))).toBe(false);
    const drained = new Promise<void>((resolve) => stream.once('drain', () => resolve()));
    await nextTurn();
    await drained;
    expect(writes.map((b) => b.length)).toEqual([120]);
  });

  it('emits drain after a slow stream catches up when the flush itself was over the mark', async () => {
    const { stream, writes, release } = recorder({ highWaterMark: 100, hold: true });
    coalesceWrites(stream);
    stream.write(Buffer.alloc(150));
    let drained = false;
    stream.once('drain', () => (drained = true));
    await nextTurn();
    expect(writes).toHaveLength(1);
    await nextTurn();
    expect(drained).toBe(false);
    release();
    await nextTurn();
    expect(drained).toBe(true);
  });

  it('sends what it holds before end(chunk), and passes writes after end to the stream (which refuses them)', async () => {
    const { stream, writes } = recorder();
    coalesceWrites(stream);
    stream.write('first ');
    stream.end('last');
    await nextTurn();
    expect(Buffer.concat(writes).toString()).toBe('first last');
    const emitted = new Promise<Error>((resolve) => stream.once('error', resolve));
    const error = await new Promise<Error | null | undefined>((resolve) => stream.write('late', resolve));
    expect(error?.message).toMatch(/write after end/);
    expect((await emitted).message).toMatch(/write after end/);
  });

  it('keeps each connection’s bytes apart over real sockets', async () => {
    const received = new Map<number, Buffer[]>();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const accepted: net.Socket[] = [];
    const allAccepted = new Promise<void>((resolve) =>
      server.on('connection', (socket) => {
        socket.once('data', (id: Buffer) => {
          coalesceWrites(socket);
          accepted[id[0]!] = socket;
          if (accepted.filter(Boolean).length === 3) resolve();
        });
      }),
    );
    const clients = await Promise.all(
      [0, 1, 2].map(
        (i) =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => {
              socket.write(Buffer.from([i]));
              resolve(socket);
            });
            received.set(i, []);
            socket.on('data', (data: Buffer) => received.get(i)!.push(data));
          }),
      ),
    );
    await allAccepted;
    for (let round = 0; round < 50; round++)
      for (const [i, socket] of accepted.entries()) socket.write(Buffer.alloc(100, i + round));
    const want = (i: number) => Buffer.concat(Array.from({ length: 50 }, (_, r) => Buffer.alloc(100, i + r)));
    const deadline = Date.now() + 5000;
    while ([0, 1, 2].some((i) => Buffer.concat(received.get(i)!).length < 5000) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const i of [0, 1, 2]) expect(Buffer.concat(received.get(i)!)).toEqual(want(i));
    for (const socket of [...clients, ...accepted]) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
