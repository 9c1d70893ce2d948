// Child processes of the benchmark: the brokers and the load generators. Each is started through a shell
// that raises its open-file limit (a Node process cannot raise its own), tracked by pid, and stopped by pid;
// whatever is still running when the benchmark ends or fails is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerReply, WorkerRequest } from './worker-protocol.ts';

/** Raises the soft fd limit as far as allowed (root may also raise the hard one), then becomes the command. */
const RAISE_FDS_AND_EXEC = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';

/** A started child process with its output kept (the last 64 KiB) for error messages. */
export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  output(): string;
  readonly exited: Promise<void>;
  running(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Every child the benchmark started, so all of them can be stopped by pid whatever happens. */
export class ProcessSet {
  private readonly children = new Set<Child>();
  private readonly killAtExit = () => {
    for (const child of this.children) if (child.running()) process.kill(child.pid, 'SIGKILL');
  };

  constructor() {
    process.on('exit', this.killAtExit);
  }

  /** Starts `command args` with a raised fd limit; `ipc` opens a Node IPC channel. */
  spawn(command: string, args: string[], env: NodeJS.ProcessEnv = {}, ipc = false): Child {
    const child = spawn('/bin/sh', ['-c', RAISE_FDS_AND_EXEC, command, ...args], {
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    if (child.pid === undefined) throw new Error(`${command} did not start`);
    const pid = child.pid;
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-65536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let done = false;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        done = true;
        resolve();
      }),
    );
    const handle: Child = {
      pid,
      process: child,
      output: () => output,
      exited,
      running: () => !done,
      stop: async (graceMs = 3000) => {
        if (!done) process.kill(pid, 'SIGTERM');
        const timer = setTimeout(() => !done && process.kill(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        this.children.delete(handle);
      },
    };
    this.children.add(handle);
    return handle;
  }

  /** Stops every child still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop()));
    process.off('exit', this.killAtExit);
  }
}

/** Resolves once `child` printed `marker`; rejects with its output if it exits first or after timeoutMs. */
export function waitForOutput(child: Child, marker: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (child.output().includes(marker)) finish();
    };
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.process.stdout?.off('data', check);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`no '${marker}' after ${timeoutMs} ms:\n${child.output().slice(-2000)}`)),
      timeoutMs,
    );
    child.process.stdout?.on('data', check);
    void child.exited.then(() => finish(new Error(`exited during start:\n${child.output().slice(-2000)}`)));
    check();
  });
}

const WORKER_FILE = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

/** Load-generator processes (load-worker.ts), each answering one request at a time. */
export class WorkerPool {
  private constructor(
    private readonly children: Child[],
    private readonly queues: Array<Array<{ resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>>,
  ) {}

  /** Starts `count` generator processes and waits until each one listens. */
  static async start(count: number, processes: ProcessSet): Promise<WorkerPool> {
    // tsx is resolved here, so the workers find it wherever the command was started from.
    const tsx = import.meta.resolve('tsx');
    const children: Child[] = [];
    const queues: WorkerPool['queues'] = [];
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      const child = processes.spawn(process.execPath, ['--import', tsx, WORKER_FILE], {}, true);
      const queue: WorkerPool['queues'][number] = [];
      children.push(child);
      queues.push(queue);
      ready.push(
        new Promise((resolve, reject) => {
          child.process.once('message', () => resolve());
          void child.exited.then(() => reject(new Error(`load generator exited:\n${child.output()}`)));
        }),
      );
      child.process.on('message', (reply: WorkerReply | { type: 'hello' }) => {
        if (reply.type === 'hello') return;
        const waiter = queue.shift();
        if (!waiter) return;
        if (reply.type === 'error') waiter.reject(new Error(`load generator ${i + 1}: ${reply.message}`));
        else waiter.resolve(reply);
      });
      void child.exited.then(() => {
        for (const waiter of queue.splice(0)) {
          waiter.reject(new Error(`load generator ${i + 1} exited:\n${child.output().slice(-2000)}`));
        }
      });
    }
    await withTimeout(Promise.all(ready), 30_000, 'load generators did not start within 30 s');
    return new WorkerPool(children, queues);
  }

  get size(): number {
    return this.children.length;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid);
  }

  /** Sends one request to worker `index`; rejects on a worker error or after timeoutMs. */
  ask<T extends WorkerReply['type']>(
    index: number,
    request: WorkerRequest,
    expect: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerReply, { type: T }>> {
    const child = this.children[index] as Child;
    const queue = this.queues[index] as WorkerPool['queues'][number];
    const answer = new Promise<WorkerReply>((resolve, reject) => {
      queue.push({ resolve, reject });
      child.process.send(request);
    }).then((reply) => {
      if (reply.type !== expect) throw new Error(`load generator answered ${reply.type}, not ${expect}`);
      return reply as Extract<WorkerReply, { type: T }>;
    });
    return withTimeout(answer, timeoutMs, `load generator ${index + 1} did not answer ${request.type}`);
  }

  /** Sends `requests[i]` to worker i (all of them the same request when one is given) and waits for all. */
  askAll<T extends WorkerReply['type']>(
    requests: WorkerRequest | WorkerRequest[],
    expect: T,
    timeoutMs: number,
  ): Promise<Array<Extract<WorkerReply, { type: T }>>> {
    return Promise.all(
      this.children.map((_, i) =>
        this.ask(i, Array.isArray(requests) ? (requests[i] as WorkerRequest) : requests, expect, timeoutMs),
      ),
    );
  }
}

/** Rejects with `message` (plus the time) when `promise` is not settled within timeoutMs. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (timeout ${timeoutMs} ms)`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
