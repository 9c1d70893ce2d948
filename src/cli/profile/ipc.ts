/**
 * The profile socket: how a short command hands its work to the process that holds the profile (DESIGN.md,
 * "One device = one MQTT connection"). The holder serves a unix socket `<profile>/hush.sock` (mode 0600, in a
 * 0700 directory, so only the profile's owner can reach it). The protocol is JSON lines: each request line
 * gets exactly one response line, in order.
 *   {"op":"send","chat":C,"text":T}             → {"ok":true,"id":…}
 *   {"op":"invite-create","chat"?:C}            → {"ok":true,"link":…,"chatId":…}
 *   {"op":"invite-accept","link":L,"timeoutMs"?} → {"ok":true,"chatId":…}
 *   {"op":"status"}                             → {"ok":true,"pid":…,"clientId"?:…,"mode":…,"connection":…}
 *   any failure                                 → {"ok":false,"error":"…","code"?:"…"} (code: the SDK's)
 */
import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';

export const SOCKET_FILE = 'hush.sock';
/** Longest request or response line accepted (a chat text is far smaller). */
export const MAX_LINE_BYTES = 1024 * 1024;
/** The error code of a request that reached a holder while it was shutting down: not done, safe to retry. */
export const CLOSING = 'closing';
/** How long a closing holder waits for requests of clients that have just connected. */
const CLOSE_GRACE_MS = 250;
/** sun_path is 108 bytes on Linux (104 on macOS) including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

const requestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('send'), chat: z.string().min(1), text: z.string() }).strict(),
  z.object({ op: z.literal('invite-create'), chat: z.string().min(1).optional() }).strict(),
  z
    .object({
      op: z.literal('invite-accept'),
      link: z.string().min(1),
      timeoutMs: z.number().int().positive().optional(),
      displayName: z.string().optional(),
    })
    .strict(),
  z.object({ op: z.literal('status') }).strict(),
]);

export type IpcRequest = z.infer<typeof requestSchema>;

/** Successful results per operation. */
export interface IpcResults {
  send: { id: string };
  'invite-create': { link: string; chatId: string };
  'invite-accept': { chatId: string };
  /** clientId is absent in seed mode (one client id per chat, none for the profile). */
  status: { pid: number; clientId?: string; mode?: 'account' | 'seed'; connection: string };
}

export type IpcResponse<Op extends IpcRequest['op'] = IpcRequest['op']> =
  ({ ok: true } & IpcResults[Op]) | { ok: false; error: string; code?: string };

/** One function per operation doing the work a request asks for; a thrown error becomes {ok:false, error}. */
export type IpcHandlers = {
  [Op in IpcRequest['op']]: (request: Extract<IpcRequest, { op: Op }>) => Promise<IpcResults[Op]>;
};

export interface ProfileSocketServer {
  readonly path: string;
  /** Stops accepting, lets requests in flight finish, closes every connection and removes the socket file. */
  close(): Promise<void>;
}

/** The socket path for a profile directory; throws if it is too long for a unix socket. */
export function profileSocketPath(dir: string): string {
  const socketPath = path.join(path.resolve(dir), SOCKET_FILE);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `profile socket: ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, longer than a unix socket ` +
        `path may be (${MAX_SOCKET_PATH_BYTES}); use a profile directory with a shorter path`,
    );
  }
  return socketPath;
}

/** Splits a byte stream into lines, refusing a line longer than MAX_LINE_BYTES. */
function onLines(socket: net.Socket, each: (line: string) => void, tooLong: () => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() !== '') each(line);
    }
    if (Buffer.byteLength(buffered) > MAX_LINE_BYTES) {
      buffered = '';
      tooLong();
    }
  });
}

/**
 * Serves the profile socket. Call only while holding the profile lock: an existing socket file is then a
 * leftover of a dead holder and is replaced.
 */
export async function serveProfileSocket(dir: string, handlers: IpcHandlers): Promise<ProfileSocketServer> {
  const socketPath = profileSocketPath(dir);
  await unlink(socketPath).catch(() => undefined);
  const inFlight = new Set<Promise<void>>();
  const connections = new Set<net.Socket>();
  let closing = false;
  /** Connections that have not sent a request yet: on close they get a moment to send it and hear 'closing'. */
  const quiet = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections.add(socket);
    quiet.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
      quiet.delete(socket);
    });
    socket.on('error', () => undefined);
    // Answers go out in request order even when a later request finishes first.
    let previous: Promise<void> = Promise.resolve();
    const respond = (response: IpcResponse) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
    };
    onLines(
      socket,
      (line) => {
        quiet.delete(socket);
        // Once closing, nothing new is started: the caller hears so and takes the profile itself.
        const work: Promise<IpcResponse> = closing
          ? Promise.resolve({ ok: false, error: 'the profile holder is shutting down', code: CLOSING })
          : answer(line, handlers);
        const done = previous.then(async () => respond(await work));
        previous = done;
        inFlight.add(done);
        void done.finally(() => inFlight.delete(done));
      },
      () => {
        respond({ ok: false, error: `request longer than ${MAX_LINE_BYTES} bytes` });
        socket.end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return {
    path: socketPath,
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...inFlight]);
      // A client that connected just now writes its request at once; let it arrive and be told 'closing'
      // rather than cutting it off unanswered.
      const grace = Date.now() + CLOSE_GRACE_MS;
      while (quiet.size > 0 && Date.now() < grace) await new Promise((resolve) => setTimeout(resolve, 10));
      await Promise.allSettled([...inFlight]);
      // end() flushes the answers already written; destroy() only what does not close by itself.
      const ended = [...connections].map(
        (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()).end()),
      );
      await Promise.race([Promise.all(ended), new Promise((resolve) => setTimeout(resolve, 1000))]);
      for (const socket of connections) socket.destroy();
      await closed;
      await unlink(socketPath).catch(() => undefined);
    },
  };
}

async function answer(line: string, handlers: IpcHandlers): Promise<IpcResponse> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  const parsed = requestSchema.safeParse(json);
  if (!parsed.success) {
    const op = (json as { op?: unknown } | null)?.op;
    return { ok: false, error: `bad request${typeof op === 'string' ? ` for op '${op}'` : ''}` };
  }
  try {
    const request = parsed.data;
    const run = handlers[request.op] as (r: typeof request) => Promise<IpcResults[typeof request.op]>;
    const result = await run(request);
    return { ok: true, ...result } as IpcResponse;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    return {
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
}

/**
 * Sends one request to the process holding the profile and returns its response, or undefined if nobody
 * serves the socket (no file, or a leftover file nobody listens on). Rejects on timeout or a broken answer.
 */
export async function askProfileHolder<R extends IpcRequest>(
  dir: string,
  request: R,
  options: { timeoutMs?: number } = {},
): Promise<IpcResponse<R['op']> | undefined> {
  const socketPath = profileSocketPath(dir);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const socket = net.connect(socketPath);
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new Error(`profile socket: no answer from the profile's holder within ${timeoutMs} ms`)),
        ),
      timeoutMs,
    );
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // ECONNRESET/EPIPE: the holder closed its socket while this connection still waited in the listen backlog,
      // so the request was never read (an accepted connection is always answered, if only with 'closing').
      // Like a missing socket, that means: nobody will do it — take the profile or ask again.
      const nobody = ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE'];
      if (error.code !== undefined && nobody.includes(error.code)) finish(() => resolve(undefined));
      else finish(() => reject(new Error(`profile socket: ${error.message}`)));
    });
    onLines(
      socket,
      (line) => {
        try {
          const response = JSON.parse(line) as IpcResponse<R['op']>;
          if (typeof response !== 'object' || response === null || typeof response.ok !== 'boolean') {
            throw new Error('not a response');
          }
          finish(() => resolve(response));
        } catch {
          finish(() => reject(new Error('profile socket: the holder sent a broken answer')));
        }
      },
      () => finish(() => reject(new Error('profile socket: the holder sent an oversized answer'))),
    );
    socket.once('close', () =>
      finish(() => reject(new Error('profile socket: the holder closed the connection without answering'))),
    );
  });
}
