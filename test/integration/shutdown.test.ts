/**
 * Clean shutdown of `hush start` and `hush broker` with clients connected (issue 13: Ctrl-C used to stop HTTP
 * but leave MQTT open forever). Real processes: SIGINT must close every MQTT/TCP and /mqtt WebSocket client
 * (close frame 1001 with a reason), flush the stores and exit by itself; a client that never reads cannot
 * hold the shutdown; a second SIGINT during a slow shutdown exits at once.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HushConnection } from '../../src/client/connection.ts';
import { REPO_ROOT, startHushBroker } from '../helpers/hush-broker.ts';
import { connectClient, settle, sleep, type TestClient } from '../helpers/mqtt.ts';
import { reapAtExit } from '../helpers/reaper.ts';
import { registerDevice, startHushServer, type HushServer } from './server-harness.ts';

/** Polls `condition` until it holds; throws naming `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Resolves once `pid` is no longer running. */
async function waitForExit(pid: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    `process ${pid} to exit`,
    timeoutMs,
  );
}

interface RawWebSocketClient {
  /** The close frame's code and reason, once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
  socket: WebSocket;
}

/**
 * An MQTT client over WebSocket written with `ws` directly, so the test sees the close frame's code and reason
 * (MQTT.js does not report them). Resolves once the broker has answered CONNECT with CONNACK 0.
 */
async function mqttOverWebSocket(
  url: string,
  connect: { clientId: string; username?: string; password?: string },
): Promise<RawWebSocketClient> {
  const socket = new WebSocket(url, 'mqtt');
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () =>
      socket.send(
        generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: false,
          keepalive: 60,
          clientId: connect.clientId,
          username: connect.username,
          password: connect.password === undefined ? undefined : Buffer.from(connect.password),
        }),
      ),
    );
    socket.once('message', (data: Buffer) =>
      // CONNACK: 0x20, length 2, session present flag, return code.
      data[0] === 0x20 && data[3] === 0
        ? resolve()
        : reject(new Error(`no CONNACK 0: ${data.toString('hex')}`)),
    );
    void closed.then(({ code }) => reject(new Error(`closed before CONNACK (${code})`)));
  });
  return { closed, socket };
}

/**
 * A WebSocket connection on /mqtt that completes the upgrade and then never reads again (a frozen laptop, a
 * hostile client): it never answers the server's close frame, so a shutdown has to stop waiting for it.
 */
async function silentWebSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () =>
      socket.write(
        'GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${Buffer.from('hush-shutdown-16').toString('base64')}\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n',
      ),
    );
    socket.once('data', (data: Buffer) => {
      socket.pause();
      if (data.toString().startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(`upgrade refused: ${data.toString().split('\r\n')[0]}`));
    });
    socket.once('close', () => reject(new Error('closed before the upgrade')));
  });
  return socket;
}

/** A TCP connection to the MQTT port that never sends CONNECT (it still sees the server close it). */
async function idleTcp(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

describe('hush start: Ctrl-C with clients connected', () => {
  let dir: string;
  const servers: HushServer[] = [];
  const clients: TestClient[] = [];
  const sockets: net.Socket[] = [];
  let sdk: HushConnection | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-shutdown-'));
  });
  afterEach(async () => {
    await sdk?.close();
    await Promise.all(clients.splice(0).map((c) => c.end()));
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('closes TCP and WebSocket clients (1001), drops one that never reads, exits 0 by itself, and keeps what it acknowledged across a restart', async () => {
    const dataDir = path.join(dir, 'graceful');
    const server = await startHushServer({ dataDir });
    servers.push(server);
    const [tcpDevice, wsDevice, sdkDevice, offlineDevice] = await Promise.all([
      registerDevice(server.url),
      registerDevice(server.url),
      registerDevice(server.url),
      registerDevice(server.url),
    ]);
    const mqttUrl = `mqtt://127.0.0.1:${server.mqttPort}`;
    const wsUrl = `ws://127.0.0.1:${server.webPort}/mqtt`;
    const account = (d: { clientId: string; secret: string }) => ({
      clientId: d.clientId,
      username: d.clientId,
      password: d.secret,
    });

    const tcp = await connectClient(mqttUrl, { ...account(tcpDevice), clean: false });
    clients.push(tcp);
    const tcpClosed = new Promise<boolean>((resolve) => tcp.client.stream.once('close', () => resolve(true)));
    // Acknowledged (PUBACK) for a device whose persistent session exists but which is not connected.
    await tcp.client.publishAsync(`chats/${offlineDevice.clientId}/messages`, 'sent before the shutdown', {
      qos: 1,
    });
    const ws = await mqttOverWebSocket(wsUrl, account(wsDevice));
    sdk = new HushConnection({
      url: wsUrl,
      clientId: sdkDevice.clientId,
      password: sdkDevice.secret,
      inbox: sdkDevice.inbox,
      onMessage: async () => undefined,
      backoff: { baseMs: 100, capMs: 300 },
    });
    await sdk.connect();
    expect(sdk.state).toBe('online');
    // Two that never log in: an idle TCP connection closes when told, the silent WebSocket never answers.
    sockets.push(await silentWebSocket(server.webPort), await idleTcp(server.mqttPort));

    expect(await server.stop('SIGINT')).toBe(0);
    expect(server.output()).toContain('hush stopped');
    expect(server.output()).toMatch(/"told":5,"destroyed":1/);
    expect(await ws.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await tcpClosed).toBe(true);
    // The SDK shows the server is gone instead of "online", and refuses to send into it.
    await waitFor(() => sdk!.state === 'reconnecting', 'the SDK to say reconnecting');
    expect(sdk.online).toBe(false);
    await expect(sdk.publish(sdkDevice.inbox, new Uint8Array([1]))).rejects.toMatchObject({
      code: 'offline',
    });

    // Same data directory and web port: the SDK comes back by itself, the offline device gets its message.
    const again = await startHushServer({ dataDir, webPort: server.webPort });
    servers.push(again);
    await waitFor(() => sdk!.online, 'the SDK to be online again');
    const offline = await connectClient(`mqtt://127.0.0.1:${again.mqttPort}`, {
      ...account(offlineDevice),
      clean: false,
    });
    clients.push(offline);
    await settle(offline, 1);
    expect(offline.received.map((m) => m.payload)).toEqual(['sent before the shutdown']);
  });

  it('exits at once on a second SIGINT during a slow shutdown, saying so', async () => {
    const server = await startHushServer({ dataDir: path.join(dir, 'impatient') });
    servers.push(server);
    // Its close handshake never completes, so the shutdown waits out the grace: the window for the second signal.
    sockets.push(await silentWebSocket(server.webPort));
    const stopped = server.stop('SIGINT');
    await waitFor(() => server.output().includes('shutting down'), 'the shutdown to start');
    process.kill(server.pid, 'SIGINT');
    expect(await stopped).toBe(130);
    expect(server.output()).toContain(
      'hush: second signal (SIGINT): exiting now without waiting for the shutdown to finish',
    );
    expect(server.output()).not.toContain('hush stopped');
  });
});

describe('hush broker: Ctrl-C with clients connected', () => {
  let dataDir: string;
  const clients: TestClient[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'hush-shutdown-broker-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end()));
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('closes TCP and WebSocket clients, drops one that never reads, stops by itself, and keeps queued messages', async () => {
    const broker = await startHushBroker({ websockets: true, dataDir });
    try {
      const mqttUrl = `mqtt://127.0.0.1:${broker.mqttPort}`;
      // A persistent session that goes offline with a subscription: the message below is queued for it.
      const away = await connectClient(mqttUrl, { clientId: 'away', clean: false });
      await away.client.subscribeAsync('inbox/away', { qos: 1 });
      await away.end();
      const tcp = await connectClient(mqttUrl, { clientId: 'tcp', clean: false });
      clients.push(tcp);
      const tcpClosed = new Promise<boolean>((resolve) =>
        tcp.client.stream.once('close', () => resolve(true)),
      );
      await tcp.client.publishAsync('inbox/away', 'queued before the shutdown', { qos: 1 });
      const ws = await mqttOverWebSocket(`ws://127.0.0.1:${broker.wsPort}/mqtt`, { clientId: 'ws' });
      sockets.push(await silentWebSocket(broker.wsPort!));

      process.kill(broker.pid, 'SIGINT');
      await waitForExit(broker.pid);
      expect(broker.log()).toContain('hush broker stopped');
      expect(broker.log()).toMatch(/"told":3,"destroyed":1/);
      expect(broker.log()).not.toMatch(/did not finish|second signal/);
      expect(await ws.closed).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(await tcpClosed).toBe(true);
    } finally {
      await broker.stop();
    }

    const again = await startHushBroker({ websockets: true, dataDir });
    try {
      const away = await connectClient(`mqtt://127.0.0.1:${again.mqttPort}`, {
        clientId: 'away',
        clean: false,
      });
      clients.push(away);
      await settle(away, 1);
      expect(away.received.map((m) => m.payload)).toEqual(['queued before the shutdown']);
    } finally {
      await again.stop();
    }
  });

  it('exits at once on a second SIGINT during a slow shutdown', async () => {
    const broker = await startHushBroker({ websockets: true });
    try {
      sockets.push(await silentWebSocket(broker.wsPort!));
      process.kill(broker.pid, 'SIGINT');
      await broker.waitForLog(/shutting down/);
      process.kill(broker.pid, 'SIGINT');
      await waitForExit(broker.pid);
      expect(broker.log()).toContain('hush: second signal (SIGINT): exiting now');
      expect(broker.log()).not.toContain('hush broker stopped');
    } finally {
      await broker.stop();
    }
  });
});

describe('the shutdown deadline (runUntilSignal)', () => {
  /**
   * Runs runUntilSignal in a child with `close` as given and a 300 ms deadline, SIGINT once it waits. `server`,
   * an interval, stands for the listeners that keep a real server's process alive.
   */
  async function shutDownWith(close: string): Promise<{ code: number | null; stderr: string }> {
    const script = `
      import pino from 'pino';
      import { runUntilSignal } from ${JSON.stringify(path.join(REPO_ROOT, 'src/cli/shared/run-until-signal.ts'))};
      const server = setInterval(() => undefined, 1000);
      const stopped = runUntilSignal(pino({ level: 'silent' }), async () => undefined, ${close}, { deadlineMs: 300 });
      // Only now are the signal handlers installed.
      process.stdout.write('waiting\\n');
      await stopped;`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const forget = reapAtExit(child.pid!);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGINT');
    const code = await exited;
    forget();
    return { code, stderr };
  }

  it('exits 1 with a clear line when close() does not finish in time', async () => {
    const { code, stderr } = await shutDownWith('() => new Promise(() => undefined)');
    expect(code).toBe(1);
    expect(stderr).toContain('hush: shutdown did not finish within 0.3 s: exiting without waiting for it');
  });

  it('exits 0 when close() finished but something still holds the process open (here: the interval)', async () => {
    const { code, stderr } = await shutDownWith('async () => undefined');
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });

  it('exits 0 on its own when close() releases everything', async () => {
    const { code, stderr } = await shutDownWith('async () => clearInterval(server)');
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });
});
