import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * A bare MQTT 3.1.1 connection on mqtt-packet, for what MQTT.js refuses to send or hides
 * (an empty id with clean=false, SUBACK failure codes, malformed bytes).
 */
export interface RawConnection {
  socket: net.Socket;
  packets: Packet[];
  send(packet: Record<string, unknown>): void;
  /** Writes raw bytes (malformed input, packets mqtt-packet refuses to generate). */
  sendBytes(bytes: Uint8Array): void;
  /** Waits for the next packet with this cmd; rejects if the connection closes first or after timeoutMs. */
  next(cmd: string, timeoutMs?: number): Promise<Packet & Record<string, unknown>>;
  /** Resolves when the broker closes the connection (rejects after timeoutMs). */
  closed(timeoutMs?: number): Promise<void>;
  end(): void;
}

/** Opens a TCP connection to the broker without sending anything. */
export async function rawConnect(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  const waiters: Array<() => void> = [];
  let isClosed = false;
  parser.on('packet', (packet) => {
    packets.push(packet);
    for (const w of waiters.splice(0)) w();
  });
  socket.on('data', (data) => parser.parse(data));
  socket.on('close', () => {
    isClosed = true;
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = <T>(test: () => T | undefined, what: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        const found = test();
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (isClosed && what !== 'close') {
          clearTimeout(timer);
          reject(new Error(`connection closed while waiting for ${what}`));
        } else waiters.push(check);
      };
      check();
    });
  return {
    socket,
    packets,
    send: (packet) => socket.write(mqttPacket.generate(packet as unknown as Packet)),
    sendBytes: (bytes) => socket.write(bytes),
    next: (cmd, timeoutMs = 5000) => {
      return waitFor(
        () => {
          const index = packets.findIndex((p) => p.cmd === cmd);
          return index === -1 ? undefined : (packets.splice(index, 1)[0] as Packet & Record<string, unknown>);
        },
        cmd,
        timeoutMs,
      );
    },
    closed: (timeoutMs = 5000) =>
      waitFor(() => (isClosed ? true : undefined), 'close', timeoutMs).then(() => undefined),
    end: () => socket.destroy(),
  };
}

/** CONNECT packet fields for MQTT 3.1.1 with sane defaults. */
export function connectPacket(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    clientId: '',
    ...fields,
  };
}
