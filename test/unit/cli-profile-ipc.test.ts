import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SOCKET_FILE,
  askProfileHolder,
  profileSocketPath,
  serveProfileSocket,
  type IpcHandlers,
  type ProfileSocketServer,
} from '../../src/cli/profile/ipc.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function handlers(overrides: Partial<IpcHandlers> = {}): IpcHandlers {
  return {
    send: async ({ chat, text }) => ({ id: `${chat}:${text}` }),
    'invite-create': async ({ chat }) => ({ link: 'http://127.0.0.1/#invite=x', chatId: chat ?? 'new-chat' }),
    'invite-accept': async ({ link }) => ({ chatId: `joined ${link}` }),
    status: async () => ({ pid: process.pid, clientId: 'abc', connection: 'online' }),
    ...overrides,
  };
}

/** Sends raw lines on the socket and collects `count` response lines. */
async function rawExchange(socketPath: string, lines: string, count: number): Promise<unknown[]> {
  const socket = net.connect(socketPath);
  socket.write(lines);
  let data = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.split('\n').filter(Boolean).length >= count) resolve();
    });
    socket.on('error', reject);
  });
  socket.destroy();
  return data
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
}

describe('profile socket', () => {
  let dir: string;
  let server: ProfileSocketServer | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-ipc-'));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('hands a send to the holder and returns its message id', async () => {
    server = await serveProfileSocket(dir, handlers());
    expect(await askProfileHolder(dir, { op: 'send', chat: 'c1', text: 'hello' })).toEqual({
      ok: true,
      id: 'c1:hello',
    });
    expect(await askProfileHolder(dir, { op: 'invite-create' })).toEqual({
      ok: true,
      link: 'http://127.0.0.1/#invite=x',
      chatId: 'new-chat',
    });
    expect(await askProfileHolder(dir, { op: 'status' })).toEqual({
      ok: true,
      pid: process.pid,
      clientId: 'abc',
      connection: 'online',
    });
  });

  it('serves the socket with mode 0600 in the profile directory', async () => {
    server = await serveProfileSocket(dir, handlers());
    expect(server.path).toBe(path.join(dir, SOCKET_FILE));
    const info = await stat(server.path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
  });

  it("passes the holder's error back as {ok:false, error}", async () => {
    server = await serveProfileSocket(
      dir,
      handlers({
        send: async () => {
          throw new Error('unknown chat c9');
        },
      }),
    );
    expect(await askProfileHolder(dir, { op: 'send', chat: 'c9', text: 'x' })).toEqual({
      ok: false,
      error: 'unknown chat c9',
    });
    await server.close();
    server = await serveProfileSocket(
      dir,
      handlers({
        send: async () => {
          throw Object.assign(new Error('no such chat'), { code: 'unknown-chat' });
        },
      }),
    );
    expect(await askProfileHolder(dir, { op: 'send', chat: 'c9', text: 'x' })).toEqual({
      ok: false,
      error: 'no such chat',
      code: 'unknown-chat',
    });
  });

  it('answers malformed and unknown requests with an error instead of calling a handler', async () => {
    let called = 0;
    server = await serveProfileSocket(
      dir,
      handlers({
        send: async () => {
          called += 1;
          return { id: 'x' };
        },
      }),
    );
    const answers = await rawExchange(
      server.path,
      'not json\n{"op":"format-disk"}\n{"op":"send","chat":"c"}\n{"op":"send","chat":"c","text":"t","extra":1}\n',
      4,
    );
    expect(answers).toEqual([
      { ok: false, error: 'request is not JSON' },
      { ok: false, error: "bad request for op 'format-disk'" },
      { ok: false, error: "bad request for op 'send'" },
      { ok: false, error: "bad request for op 'send'" },
    ]);
    expect(called).toBe(0);
  });

  it('answers pipelined requests in request order even when the first is slower', async () => {
    server = await serveProfileSocket(
      dir,
      handlers({
        send: async ({ text }) => {
          await sleep(text === 'slow' ? 150 : 0);
          return { id: text };
        },
      }),
    );
    const answers = await rawExchange(
      server.path,
      '{"op":"send","chat":"c","text":"slow"}\n{"op":"send","chat":"c","text":"fast"}\n',
      2,
    );
    expect(answers).toEqual([
      { ok: true, id: 'slow' },
      { ok: true, id: 'fast' },
    ]);
  });

  it('reports nobody home when there is no socket, or only a leftover file nobody listens on', async () => {
    expect(await askProfileHolder(dir, { op: 'status' })).toBeUndefined();
    await writeFile(path.join(dir, SOCKET_FILE), '');
    expect(await askProfileHolder(dir, { op: 'status' })).toBeUndefined();
  });

  it('replaces a leftover socket file when a new holder starts serving', async () => {
    await writeFile(path.join(dir, SOCKET_FILE), '');
    server = await serveProfileSocket(dir, handlers());
    expect(await askProfileHolder(dir, { op: 'send', chat: 'c', text: 't' })).toEqual({
      ok: true,
      id: 'c:t',
    });
  });

  it('finishes a request in flight before closing, then removes the socket file', async () => {
    let finished = false;
    server = await serveProfileSocket(
      dir,
      handlers({
        send: async () => {
          await sleep(200);
          finished = true;
          return { id: 'late' };
        },
      }),
    );
    const pending = askProfileHolder(dir, { op: 'send', chat: 'c', text: 't' });
    await sleep(50);
    const closing = server.close();
    server = undefined;
    expect(await pending).toEqual({ ok: true, id: 'late' });
    await closing;
    expect(finished).toBe(true);
    await expect(stat(path.join(dir, SOCKET_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await askProfileHolder(dir, { op: 'status' })).toBeUndefined();
  });

  it('tells a request that arrives while the holder shuts down that nothing was done, so it can retry', async () => {
    let called = 0;
    server = await serveProfileSocket(
      dir,
      handlers({
        send: async () => {
          called += 1;
          await sleep(150);
          return { id: 'first' };
        },
      }),
    );
    const first = askProfileHolder(dir, { op: 'send', chat: 'c', text: 'a' });
    await sleep(30);
    const late = net.connect(server.path);
    await new Promise((resolve) => late.once('connect', resolve));
    const closing = server.close();
    server = undefined;
    late.write('{"op":"send","chat":"c","text":"b"}\n');
    const answer = await new Promise<string>((resolve) =>
      late.once('data', (d: Buffer) => resolve(d.toString())),
    );
    late.destroy();
    expect(JSON.parse(answer)).toEqual({
      ok: false,
      error: 'the profile holder is shutting down',
      code: 'closing',
    });
    expect(await first).toEqual({ ok: true, id: 'first' });
    await closing;
    expect(called).toBe(1);
  });

  it('gives up with a clear error when the holder does not answer in time', async () => {
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => accepted.push(socket));
    const socketPath = profileSocketPath(dir);
    await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
    try {
      await expect(askProfileHolder(dir, { op: 'status' }, { timeoutMs: 100 })).rejects.toThrow(
        /no answer from the profile's holder within 100 ms/,
      );
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses a profile path too long for a unix socket, saying so', () => {
    expect(() => profileSocketPath(path.join(dir, 'x'.repeat(120)))).toThrow(/longer than a unix socket/);
  });
});
