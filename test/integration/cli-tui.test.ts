import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUSH_BIN, runHush } from '../helpers/hush-broker.ts';
import { startHushServer, type HushServer } from './server-harness.ts';

const run = promisify(execFile);

/** A tmux session of its own (separate socket), so tests never touch a user's tmux. */
class Tmux {
  constructor(
    private readonly socket: string,
    readonly session = 'hush',
  ) {}
  async start(command: string, width = 100, height = 16): Promise<void> {
    await run('tmux', [
      '-S',
      this.socket,
      'new-session',
      '-d',
      '-s',
      this.session,
      '-x',
      String(width),
      '-y',
      String(height),
      command,
    ]);
  }
  async keys(...keys: string[]): Promise<void> {
    await run('tmux', ['-S', this.socket, 'send-keys', '-t', this.session, ...keys]);
  }
  async screen(): Promise<string> {
    return (await run('tmux', ['-S', this.socket, 'capture-pane', '-t', this.session, '-p'])).stdout;
  }
  /** Polls the screen until `pattern` shows (or fails with the last screen). */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.screen().catch(() => last);
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`screen never showed ${pattern}:\n${last}`);
  }
  async kill(): Promise<void> {
    await run('tmux', ['-S', this.socket, 'kill-server']).catch(() => undefined);
  }
}

describe('hush chat, the interactive terminal client (driven through tmux)', () => {
  let dir: string;
  let server: HushServer;
  let tmux: Tmux;
  let chatId: string;
  const profile = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-tui-'));
    server = await startHushServer({ dataDir: path.join(dir, 'data') });
    for (const name of ['alice', 'bob']) {
      const created = await runHush([
        'device',
        'new',
        '--profile',
        profile(name),
        '--server',
        server.url,
        '--name',
        name,
      ]);
      expect(created.code, created.stderr).toBe(0);
    }
    const invite = await runHush(['invite', 'create', '--profile', profile('alice')]);
    const link = invite.stdout.trim().split('\n').pop()!;
    // Alice must be online to answer the join: a listener holds her profile meanwhile.
    const listening = runHush(['listen', '--profile', profile('alice'), '--timeout', '6']);
    await new Promise((r) => setTimeout(r, 1500));
    const accepted = await runHush([
      'invite',
      'accept',
      link,
      '--profile',
      profile('bob'),
      '--timeout',
      '20',
    ]);
    expect(accepted.code, accepted.stderr).toBe(0);
    chatId = accepted.stdout.trim().split('\n').pop()!;
    await listening;
    tmux = new Tmux(path.join(dir, 'tmux.sock'));
  }, 60_000);

  afterAll(async () => {
    await tmux?.kill();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows messages as they arrive, sends from the input line with delivery marks, and never prints control codes', async () => {
    await tmux.start(
      `${process.execPath} ${HUSH_BIN} chat --profile ${profile('alice')}; echo "EXIT=$?"; sleep 30`,
    );
    await tmux.waitFor(/Hush · \S+ · online/);
    expect(await tmux.screen()).toMatch(/▸ bob/);

    const sent = await runHush(['send', '--profile', profile('bob'), '--chat', chatId, 'hello from bob']);
    expect(sent.code, sent.stderr).toBe(0);
    await tmux.waitFor(/bob: hello from bob/);

    // A hostile message tries to set the terminal title and colours: it must arrive defused.
    await runHush([
      'send',
      '--profile',
      profile('bob'),
      '--chat',
      chatId,
      'evil \u001b]0;pwned\u0007 \u001b[31mred',
    ]);
    const screen = await tmux.waitFor(/bob: evil/);
    expect(screen).toMatch(/evil \uFFFD\]0;pwned\uFFFD \uFFFD\[31mred/);

    await tmux.keys('hi bob, typed in the TUI', 'Enter');
    await tmux.waitFor(/me: hi bob, typed in the TUI {2}✓/);
    const heard = await runHush([
      'listen',
      '--profile',
      profile('bob'),
      '--json',
      '--count',
      '1',
      '--timeout',
      '15',
    ]);
    expect(heard.code, heard.stderr).toBe(0);
    expect(JSON.parse(heard.stdout.trim().split('\n').pop()!).text).toBe('hi bob, typed in the TUI');
    // Bob's device acknowledged it: the mark turns into delivered.
    await tmux.waitFor(/me: hi bob, typed in the TUI {2}✓✓/);
  });

  it('hands `hush send` on the same profile over to the running chat, and quits cleanly on Ctrl-C', async () => {
    const sent = await runHush([
      'send',
      '--profile',
      profile('alice'),
      '--chat',
      chatId,
      'sent from a script',
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    await tmux.waitFor(/me: sent from a script/);
    await tmux.keys('C-c');
    await tmux.waitFor(/EXIT=0/);
  });
});
