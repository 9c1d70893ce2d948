// The SDK connection reads the broker's `$hush/queue/dropped` notice whatever it holds: a broker-side stand-in (a
// bare MQTT server on mqtt-packet, since no client can publish `$` topics on Hush's broker) sends a malformed notice
// and then a valid one right after the CONNACK. The malformed one is refused with a 'queue-overflow' warning saying
// why, the valid one is a counted warning and a 'queue-dropped' event, and the connection comes online regardless.
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { HushWarning } from '../../src/client/api.ts';
import { HushConnection } from '../../src/client/connection.ts';
import type { QueueDroppedNotice } from '../../src/client/queue-notice.ts';
import { randomId, until } from '../helpers/sdk-broker.ts';

/** A one-connection MQTT server that answers CONNECT and SUBSCRIBE and writes `notices` after the CONNACK. */
async function fakeBroker(notices: string[]): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const write = (packet: Record<string, unknown>) =>
      socket.write(mqttPacket.generate(packet as unknown as Packet));
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connect') {
        write({ cmd: 'connack', returnCode: 0, sessionPresent: false });
        for (const text of notices)
          write({ cmd: 'publish', topic: '$hush/queue/dropped', payload: Buffer.from(text), qos: 0 });
      } else if (packet.cmd === 'subscribe') {
        write({ cmd: 'suback', messageId: packet.messageId, granted: [1] });
      } else if (packet.cmd === 'pingreq') write({ cmd: 'pingresp' });
    });
    socket.on('data', (data) => parser.parse(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the queue-dropped notice on the SDK connection', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('a malformed notice is refused with a warning, a valid one is counted, and the connection stays up', async () => {
    const broker = await fakeBroker([
      '{"v":1,"dropped":"lots"}',
      'not json at all',
      '{"v":1,"dropped":42,"droppedBytes":4096,"since":1764930000000}',
    ]);
    cleanup.push(broker.close);
    const clientId = randomId(16);
    const connection = new HushConnection({
      url: `mqtt://127.0.0.1:${broker.port}`,
      clientId,
      password: 'x',
      inbox: `chats/${clientId}/messages`,
      onMessage: async () => undefined,
    });
    cleanup.push(() => connection.close());
    const warnings: HushWarning[] = [];
    const notices: QueueDroppedNotice[] = [];
    connection.on('warning', (w) => warnings.push(w));
    connection.on('queue-dropped', (n) => notices.push(n));
    await connection.connect();
    await until('three warnings', () => warnings.length === 3);
    expect(connection.state).toBe('online');
    expect(warnings.map((w) => [w.code, w.count])).toEqual([
      ['queue-overflow', undefined],
      ['queue-overflow', undefined],
      ['queue-overflow', 42],
    ]);
    expect(warnings[0]!.detail).toContain('ignored a queue notice from the broker');
    expect(warnings[1]!.detail).toContain('not UTF-8 JSON');
    expect(warnings[2]!.detail).toContain('dropped 42 messages');
    expect(notices).toEqual([{ v: 1, dropped: 42, droppedBytes: 4096, since: 1764930000000 }]);
  });
});
