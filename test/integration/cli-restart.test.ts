import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHush } from '../helpers/hush-broker.ts';
import { startHushServer, type HushServer } from './server-harness.ts';

const last = (text: string) => text.trim().split('\n').pop()!;

describe('offline delivery across a clean restart of hush start', () => {
  let dir: string;
  let server: HushServer | undefined;
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('messages sent to an offline device before a restart arrive after it, each exactly once and in order', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-restart-'));
    const dataDir = path.join(dir, 'data');
    server = await startHushServer({ dataDir });
    const { webPort, mqttPort } = server;
    const profile = (name: string) => path.join(dir, name);
    for (const name of ['alice', 'bob']) {
      const made = await runHush([
        'device',
        'new',
        '--profile',
        profile(name),
        '--server',
        server.url,
        '--name',
        name,
      ]);
      expect(made.code, made.stderr).toBe(0);
    }
    const link = last((await runHush(['invite', 'create', '--profile', profile('alice')])).stdout);
    const aliceOnline = runHush(['listen', '--profile', profile('alice'), '--timeout', '5']);
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
    const chatId = last(accepted.stdout);
    await aliceOnline;

    // Bob is offline; Alice sends three messages; the server stops cleanly (SIGINT, as Ctrl-C) and starts again.
    for (const text of ['one', 'two', 'three']) {
      const sent = await runHush(['send', '--profile', profile('alice'), '--chat', chatId, text]);
      expect(sent.code, sent.stderr).toBe(0);
    }
    expect(await server.stop('SIGINT')).toBe(0);
    server = await startHushServer({ dataDir, webPort, mqttPort });

    const heard = await runHush([
      'listen',
      '--profile',
      profile('bob'),
      '--json',
      '--count',
      '3',
      '--timeout',
      '20',
    ]);
    expect(heard.code, heard.stderr).toBe(0);
    const texts = heard.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { text: string }).text);
    expect(texts).toEqual(['one', 'two', 'three']);
    // Nothing comes twice: a second listen gets nothing.
    const again = await runHush(['listen', '--profile', profile('bob'), '--json', '--timeout', '2']);
    expect(again.stdout.trim()).toBe('');
  });
});
