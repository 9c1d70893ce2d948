// Checks the mosquitto.conf lint's claims against the real /usr/sbin/mosquitto (2.0.11): configs the lint calls
// broken are refused at the same line, and the surprising behaviours it warns about really happen.

import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintMosquittoConf } from '../../src/audit/lint/index.ts';
import { freePort } from '../helpers/ports.ts';
import { reapAtExit } from '../helpers/reaper.ts';
import { connectClient, tryConnect, settle } from '../helpers/mqtt.ts';
import { runMosquittoConf } from '../helpers/mosquitto.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';
// Tests run as root; keep root so Mosquitto can read files in a 0700 temp dir, and log where we can read it.
const PREAMBLE = ['user root', 'log_dest stderr'];

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hush-lint-mosq-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConf(lines: string[]): Promise<string> {
  const file = path.join(dir, `mosquitto-${counter++}.conf`);
  await writeFile(file, [...PREAMBLE, ...lines].join('\n') + '\n');
  return file;
}

/** Runs mosquitto on a config until it exits; resolves with its exit code and output (bounded by 5 s). */
async function runToExit(file: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(MOSQUITTO, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const forget = reapAtExit(child.pid as number);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  forget();
  return { code, output };
}

/** Starts mosquitto and waits until every given port accepts connections on 127.0.0.1. */
const start = runMosquittoConf;

/** Local addresses a process's listening TCP sockets are bound to on a port, from /proc/net/tcp{,6}. */
async function listeningAddresses(port: number): Promise<string[]> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = (await readFile(table, 'utf8')).split('\n').slice(1);
    for (const row of rows) {
      const [, local, , state] = row.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hexPort}`)) found.push(local.slice(0, -5));
    }
  }
  return found;
}

describe('the lint and real Mosquitto 2.0.11 agree on what a config is', () => {
  it.each([
    ['an unknown option', ['allow_anonymus true']],
    ['an indented comment', ['  # a comment']],
    ['a tab after the option name', ['listener\t1883']],
    ['a listener without a port', ['listener']],
    ['a boolean written as yes', ['allow_anonymous yes']],
    [
      'per_listener_settings true after a security option',
      ['allow_anonymous true', 'per_listener_settings true'],
    ],
    ['a second acl_file', ['acl_file /tmp/a', 'acl_file /tmp/b']],
    ['an unknown protocol', ['listener 1883 127.0.0.1', 'protocol ws']],
  ])('refuses %s at the line the lint reports', async (_name, lines) => {
    const file = await writeConf(lines);
    const { code, output } = await runToExit(file);
    expect(code).not.toBe(0);
    const refused = /Error found at (.+):(\d+)\./.exec(output);
    expect(refused?.[1]).toBe(file);
    const parse = (await lintMosquittoConf(file)).filter((f) => f.id === 'conf-parse-error');
    expect(parse.map((f) => f.line)).toEqual([Number(refused?.[2])]);
  });
});

describe('behaviours the lint warns about, shown on the real broker', () => {
  it('ignores an acl_file written before the first listener under per_listener_settings true: # reads everything', async () => {
    const acl = path.join(dir, 'aclfile');
    await writeFile(acl, 'pattern read chats/%c/messages\npattern write chats/+/messages\n');
    await chmod(acl, 0o640);
    const port = await freePort();
    const file = await writeConf([
      'per_listener_settings true',
      `acl_file ${acl}`,
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
    ]);
    const ids = (await lintMosquittoConf(file)).map((f) => `${f.line} ${f.id}`);
    expect(ids).toContain('4 per-listener-setting-ignored');
    expect(ids).toContain('6 anonymous-without-acl');

    const broker = await start(file, [port]);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      const attacker = await connectClient(url, { clientId: 'attacker' });
      await attacker.client.subscribeAsync('#', { qos: 1 });
      const sender = await connectClient(url, { clientId: 'sender' });
      await sender.client.publishAsync('chats/victim/messages', 'secret', { qos: 1 });
      await settle(attacker, 1);
      expect(attacker.received.map((m) => m.payload)).toEqual(['secret']);
      await Promise.all([attacker.end(), sender.end()]);
    } finally {
      await broker.stop();
    }
  });

  it('binds a WebSocket listener given 127.0.0.1 to every interface', async () => {
    const mqttPort = await freePort();
    const wsPort = await freePort();
    const file = await writeConf([
      `listener ${mqttPort} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      'protocol websockets',
    ]);
    const ws = (await lintMosquittoConf(file)).find((f) => f.id === 'plain-websockets');
    expect(ws?.line).toBe(4);

    const broker = await start(file, [mqttPort, wsPort]);
    try {
      const wsAddresses = await listeningAddresses(wsPort);
      expect(wsAddresses.length).toBeGreaterThan(0);
      // All zeros = the wildcard address (0.0.0.0 or ::), i.e. every interface.
      expect(wsAddresses.every((a) => /^0+$/.test(a))).toBe(true);
      // The plain MQTT listener does honour its address.
      expect(await listeningAddresses(mqttPort)).toEqual(['0100007F']);
    } finally {
      await broker.stop();
    }
  });

  it('accepts any password for any username when use_username_as_clientid has no password_file', async () => {
    const acl = path.join(dir, 'aclfile-uuac');
    await writeFile(acl, 'pattern read chats/%c/messages\npattern write chats/+/messages\n');
    await chmod(acl, 0o640);
    const port = await freePort();
    const file = await writeConf([
      'allow_anonymous true',
      `acl_file ${acl}`,
      `listener ${port} 127.0.0.1`,
      'use_username_as_clientid true',
    ]);
    const ids = (await lintMosquittoConf(file)).map((f) => `${f.line} ${f.id}`);
    expect(ids).toContain('6 username-not-authenticated');

    const broker = await start(file, [port]);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      expect(await tryConnect(url, { username: 'victim', password: 'not-the-password' })).toBe('ok');
      // Without a username the same listener refuses the client: the option is active.
      expect(await tryConnect(url, { clientId: 'no-username' })).toMatch(/^refused:/);
    } finally {
      await broker.stop();
    }
  });

  it('serves plain MQTT on a listener that has a certfile but no keyfile', async () => {
    const port = await freePort();
    const file = await writeConf([
      'allow_anonymous true',
      `listener ${port} 127.0.0.1`,
      `certfile ${path.join(dir, 'no-such-cert.pem')}`,
    ]);
    const ids = (await lintMosquittoConf(file)).map((f) => `${f.line} ${f.id}`);
    expect(ids).toContain('5 tls-incomplete');

    const broker = await start(file, [port]);
    try {
      expect(await tryConnect(`mqtt://127.0.0.1:${port}`)).toBe('ok');
    } finally {
      await broker.stop();
    }
  });
});
