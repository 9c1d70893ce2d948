import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/index.ts';
import { hashPassword, parsePasswordFile } from '../../src/broker/passwd/index.ts';
import { connectClient, tryConnect, settle } from '../helpers/mqtt.ts';

describe('the broker library API the registration server uses', () => {
  let dir: string;
  let broker: RunningBroker;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-api-'));
    await writeFile(`${dir}/aclfile`, 'pattern read chats/%c/messages\npattern write chats/+/messages\n');
    await writeFile(`${dir}/passwd`, `sender:${await hashPassword('sender-pw')}\n`, { mode: 0o600 });
    broker = await startBroker(
      { mqttPort: 0, aclFile: `${dir}/aclfile`, passwordFile: `${dir}/passwd` },
      pino({ level: 'silent' }),
    );
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(async () => {
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a provisioned session keeps messages sent before the device ever connected', async () => {
    await broker.setPasswords(
      parsePasswordFile(
        `sender:${await hashPassword('sender-pw')}\nnewdevice:${await hashPassword('new-pw')}\n`,
        'test',
      ),
    );
    await broker.provisionSession('newdevice', ['chats/newdevice/messages']);
    const sender = await connectClient(url, { username: 'sender', password: 'sender-pw' });
    await sender.client.publishAsync('chats/newdevice/messages', 'waiting for you', { qos: 1 });
    await sender.end();
    const device = await connectClient(url, {
      username: 'newdevice',
      password: 'new-pw',
      clean: false,
      clientId: 'newdevice',
    });
    await settle(device, 1);
    expect(device.received.map((m) => m.payload)).toEqual(['waiting for you']);
    await device.end();
  });

  it('removing a device closes its connection, refuses its password and forgets its queue', async () => {
    const device = await connectClient(url, {
      username: 'newdevice',
      password: 'new-pw',
      clean: false,
      clientId: 'newdevice',
    });
    const closed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));
    await broker.setPasswords(parsePasswordFile(`sender:${await hashPassword('sender-pw')}\n`, 'test'));
    await broker.removeSession('newdevice');
    await closed;
    expect(await tryConnect(url, { username: 'newdevice', password: 'new-pw' })).toBe('refused:5');
    await device.end();
  });
});
