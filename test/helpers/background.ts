import { spawn, type ChildProcess } from 'node:child_process';
import { reapAtExit } from './reaper.ts';

/** A child process a test keeps running in the background, with its output collected. */
export interface Background {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `command` with stdout/stderr collected; it is killed at exit if the test forgets it. */
export function background(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Background {
  const child: ChildProcess = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  if (child.pid === undefined) throw new Error(`${command} did not start`);
  const pid = child.pid;
  const forget = reapAtExit(pid);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true;
      forget();
      resolve(code);
    }),
  );
  return {
    pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    running: () => !done,
    async stop() {
      if (!done) process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => !done && process.kill(pid, 'SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
