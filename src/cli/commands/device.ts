/**
 * `hush device new` and `hush device show`: a profile directory holds one device (DESIGN.md, "Scripting the
 * chat"). `new` registers with a Hush server (POST /api/v1/devices), which creates the broker account and the
 * device's persistent session, so nothing sent to it before its first `listen` is lost. `show` needs no
 * connection; it prints what a script needs to reach the device, and with --secret its MQTT credentials.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { registerDevice, type DeviceRecord } from '../../client/device.ts';
import { HushClientError } from '../../client/errors.ts';
import { nodeCryptoProvider } from '../../crypto-node/provider.ts';
import { UserError } from '../shared/errors.ts';
import { asUserError, loadProfileDevice, openProfileStore } from '../profile/holder.ts';
import { askProfileHolder } from '../profile/ipc.ts';
import { ProfileLockedError, acquireProfileLock } from '../profile/lock.ts';

interface NewFlags {
  profile: string;
  server: string;
  name?: string;
  tokenFile?: string;
  json?: boolean;
}

interface ShowFlags {
  profile: string;
  json?: boolean;
  secret?: boolean;
}

/** Registers `hush device new|show`. */
export function registerDeviceCommand(program: Command): void {
  const device = program.command('device').description('create and inspect the device of a profile');
  device
    .command('new')
    .description('create a device in a profile directory and register it with a Hush server')
    .requiredOption('--profile <dir>', 'profile directory (created 0700 if missing)')
    .requiredOption('--server <url>', 'the Hush server, e.g. http://127.0.0.1:8080')
    .option('--name <name>', 'display name other members see')
    .option('--token-file <file>', 'registration token of a closed deployment (one trailing newline dropped)')
    .option('--json', 'print {clientId, inbox} as one JSON object')
    .addHelpText(
      'after',
      '\nPrints the client id, then the inbox topic. The profile holds the device secret and private keys: keep it private.',
    )
    .action(async (flags: NewFlags) => {
      const record = await createDevice(flags);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ clientId: record.clientId, inbox: record.inbox })}\n`);
      } else {
        process.stdout.write(`${record.clientId}\n${record.inbox}\n`);
      }
    });
  device
    .command('show')
    .description("print a profile's client id, inbox topic and broker URLs (no connection needed)")
    .requiredOption('--profile <dir>', 'profile directory')
    .option('--json', 'print one JSON object')
    .option('--secret', 'also print the MQTT username and password (the device secret)')
    .action(async (flags: ShowFlags) => {
      const { record } = await loadProfileDevice(flags.profile);
      const holder = await askProfileHolder(flags.profile, { op: 'status' }, { timeoutMs: 2000 }).catch(
        () => undefined,
      );
      const heldBy = holder?.ok ? { pid: holder.pid, connection: holder.connection } : undefined;
      process.stdout.write(
        formatDevice(record, { json: flags.json === true, secret: flags.secret === true, heldBy }),
      );
    });
}

async function createDevice(flags: NewFlags): Promise<DeviceRecord> {
  const token = flags.tokenFile === undefined ? undefined : await readToken(flags.tokenFile);
  const store = await openProfileStore(flags.profile, { create: true });
  // The directory must exist for the lock; FileStore creates it 0700 on first use.
  await store.list('');
  let lock;
  try {
    lock = await acquireProfileLock(flags.profile);
  } catch (error) {
    if (error instanceof ProfileLockedError) {
      throw new UserError(
        `profile ${flags.profile} is in use by process ${error.pid}; it already has a device`,
      );
    }
    throw error;
  }
  try {
    const { record } = await registerDevice({
      server: flags.server,
      store,
      provider: nodeCryptoProvider,
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(token !== undefined ? { token } : {}),
    });
    return record;
  } catch (error) {
    if (error instanceof HushClientError && error.code === 'device-exists') {
      throw new UserError(
        `profile ${flags.profile} already has a device; use another --profile directory for a new one ` +
          `('hush device show --profile ${flags.profile}' shows the existing one)`,
      );
    }
    asUserError(error, flags.profile);
  } finally {
    await lock.release();
  }
}

async function readToken(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw new UserError(
      `cannot read token file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** The text `hush device show` prints: `key: value` lines, or one JSON object. */
export function formatDevice(
  record: DeviceRecord,
  options: { json: boolean; secret: boolean; heldBy?: { pid: number; connection: string } | undefined },
): string {
  const brokerUrls = [record.brokerUrl, ...(record.mqttUrl !== undefined ? [record.mqttUrl] : [])];
  const fields = {
    clientId: record.clientId,
    inbox: record.inbox,
    ...(record.server !== undefined ? { server: record.server } : {}),
    brokerUrls,
    ...(record.displayName !== undefined ? { name: record.displayName } : {}),
    mode: record.mode,
    ...(options.heldBy ? { heldBy: options.heldBy } : {}),
    ...(options.secret ? { username: record.clientId, password: record.deviceSecret } : {}),
  };
  if (options.json) return `${JSON.stringify(fields)}\n`;
  const lines = [
    `client id: ${fields.clientId}`,
    `inbox:     ${fields.inbox}`,
    ...(fields.server !== undefined ? [`server:    ${fields.server}`] : []),
    ...brokerUrls.map((url) => `broker:    ${url}`),
    ...(fields.name !== undefined ? [`name:      ${fields.name}`] : []),
    ...(options.heldBy ? [`held by:   process ${options.heldBy.pid} (${options.heldBy.connection})`] : []),
    ...(options.secret ? [`username:  ${record.clientId}`, `password:  ${record.deviceSecret}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
