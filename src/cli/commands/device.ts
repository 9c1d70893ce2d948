/**
 * `hush device new` and `hush device show`: a profile directory holds one device (DESIGN.md, "Scripting the
 * chat"). `new` registers with a Hush server (POST /api/v1/devices), which creates the broker account and the
 * device's persistent session, so nothing sent to it before its first `listen` is lost. `show` needs no
 * connection; it prints what a script needs to reach the device, and with --secret its MQTT credentials.
 *
 * `new --broker URL --seed` makes a seed-mode profile instead (docs/PROTOCOL.md §11): no server, no account, an
 * anonymous broker with only the seed's ACL. It has no device id: every chat gets its own random client id, so
 * `show` lists each chat's id and inbox.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { registerDevice, type DeviceRecord } from '../../client/device.ts';
import { HushClientError } from '../../client/errors.ts';
import { DEVICE_RECORD } from '../../client/device.ts';
import { SEED_RECORD, SeedClient, createSeedDevice } from '../../client/seed/seed-client.ts';
import { nodeCryptoProvider } from '../../crypto-node/provider.ts';
import { UserError } from '../shared/errors.ts';
import { asUserError, loadProfileInfo, openProfileStore } from '../profile/holder.ts';
import { askProfileHolder } from '../profile/ipc.ts';
import { ProfileLockedError, acquireProfileLock } from '../profile/lock.ts';

interface NewFlags {
  profile: string;
  server?: string;
  broker?: string;
  seed?: boolean;
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
    .description(
      'create a device in a profile directory and register it with a Hush server (--server), or a seed-mode ' +
        'profile for an anonymous broker with the seed ACL (--broker URL --seed)',
    )
    .requiredOption('--profile <dir>', 'profile directory (created 0700 if missing)')
    .option('--server <url>', 'the Hush server, e.g. http://127.0.0.1:8080 (account mode)')
    .option('--broker <url>', 'seed mode: the MQTT broker, e.g. mqtt://127.0.0.1:1883 (needs --seed)')
    .option('--seed', 'seed mode: no server, no account; a separate random client id per chat')
    .option('--name <name>', 'display name other members see')
    .option('--token-file <file>', 'registration token of a closed deployment (one trailing newline dropped)')
    .option('--json', 'print {clientId, inbox} as one JSON object')
    .addHelpText(
      'after',
      '\nPrints the client id, then the inbox topic. The profile holds the device secret and private keys: keep it private.' +
        '\nIn seed mode there is no device id (each chat gets its own): prints "mode: seed" and the broker URL.',
    )
    .action(async (flags: NewFlags) => {
      const mode = chooseMode(flags);
      if (mode.seed) {
        await createSeedProfile(flags, mode.broker);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ mode: 'seed', brokerUrl: mode.broker })}\n`);
        } else {
          process.stdout.write(`mode: seed\nbroker: ${mode.broker}\n`);
        }
        return;
      }
      const record = await createDevice({ ...flags, server: mode.server });
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
      const info = await loadProfileInfo(flags.profile);
      const holder = await askProfileHolder(flags.profile, { op: 'status' }, { timeoutMs: 2000 }).catch(
        () => undefined,
      );
      const heldBy = holder?.ok ? { pid: holder.pid, connection: holder.connection } : undefined;
      const options = { json: flags.json === true, secret: flags.secret === true, heldBy };
      if (info.mode === 'seed') {
        const chats = await seedChats(flags.profile);
        process.stdout.write(
          formatSeedProfile(
            {
              brokerUrl: info.brokerUrl,
              ...(info.displayName !== undefined ? { name: info.displayName } : {}),
            },
            chats,
            options,
          ),
        );
        return;
      }
      process.stdout.write(formatDevice(info.device.record, options));
    });
}

/** Exactly one of --server (account mode) and --seed (with --broker) must be given. */
function chooseMode(flags: NewFlags): { seed: true; broker: string } | { seed: false; server: string } {
  if (flags.server !== undefined && (flags.seed === true || flags.broker !== undefined)) {
    throw new UserError(
      'device new: give either --server URL (account mode) or --broker URL --seed (seed mode), not both',
    );
  }
  if (flags.server !== undefined) return { seed: false, server: flags.server };
  if (flags.seed === true && flags.broker === undefined) {
    throw new UserError('device new: --seed needs --broker URL (e.g. mqtt://127.0.0.1:1883)');
  }
  if (flags.broker !== undefined && flags.seed !== true) {
    throw new UserError(
      'device new: --broker is for seed mode; add --seed (or use --server URL for a Hush server)',
    );
  }
  if (flags.seed === true && flags.broker !== undefined) {
    if (flags.tokenFile !== undefined) {
      throw new UserError('device new: --token-file is for --server (seed mode has no registration)');
    }
    let url: URL;
    try {
      url = new URL(flags.broker);
    } catch {
      throw new UserError(`device new: --broker ${JSON.stringify(flags.broker)} is not a URL`);
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol)) {
      throw new UserError(
        `device new: --broker must be an mqtt://, mqtts://, ws:// or wss:// URL, not ${flags.broker}`,
      );
    }
    return { seed: true, broker: flags.broker };
  }
  throw new UserError(
    'device new: give --server URL (a Hush server) or --broker URL --seed (seed mode, no server)',
  );
}

/** Takes the profile's lock for creating its device; refuses a profile that already has one (either mode). */
async function lockNewProfile(dir: string) {
  const store = await openProfileStore(dir, { create: true });
  // The directory must exist for the lock; FileStore creates it 0700 on first use.
  await store.list('');
  let lock;
  try {
    lock = await acquireProfileLock(dir);
  } catch (error) {
    if (error instanceof ProfileLockedError) {
      throw new UserError(`profile ${dir} is in use by process ${error.pid}; it already has a device`);
    }
    throw error;
  }
  try {
    if ((await store.read(SEED_RECORD)) !== undefined || (await store.read(DEVICE_RECORD)) !== undefined)
      throw alreadyHasDevice(dir);
  } catch (error) {
    await lock.release();
    throw error;
  }
  return { store, lock };
}

const alreadyHasDevice = (dir: string) =>
  new UserError(
    `profile ${dir} already has a device; use another --profile directory for a new one ` +
      `('hush device show --profile ${dir}' shows the existing one)`,
  );

async function createSeedProfile(flags: NewFlags, brokerUrl: string): Promise<void> {
  const { store, lock } = await lockNewProfile(flags.profile);
  try {
    await createSeedDevice({
      brokerUrl,
      store,
      provider: nodeCryptoProvider,
      ...(flags.name !== undefined ? { displayName: flags.name } : {}),
    });
  } catch (error) {
    if (error instanceof HushClientError && error.code === 'device-exists')
      throw alreadyHasDevice(flags.profile);
    asUserError(error, flags.profile);
  } finally {
    await lock.release();
  }
}

/** Each chat of a seed profile with the identity that reads it (read from disk, no connection). */
async function seedChats(
  dir: string,
): Promise<Array<{ chatId: string; name?: string; clientId: string; inbox: string }>> {
  const store = await openProfileStore(dir);
  let client: SeedClient;
  try {
    client = await SeedClient.open({ store, provider: nodeCryptoProvider });
  } catch (error) {
    asUserError(error, dir);
  }
  try {
    return client.chats().map((chat) => ({
      chatId: chat.chatId,
      ...(chat.name !== undefined ? { name: chat.name } : {}),
      ...client.chatIdentity(chat.chatId),
    }));
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function createDevice(flags: NewFlags & { server: string }): Promise<DeviceRecord> {
  const token = flags.tokenFile === undefined ? undefined : await readToken(flags.tokenFile);
  const { store, lock } = await lockNewProfile(flags.profile);
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
    if (error instanceof HushClientError && error.code === 'device-exists')
      throw alreadyHasDevice(flags.profile);
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

/**
 * The text `hush device show` prints for a seed profile: mode, broker and each chat's own client id and inbox
 * (there is no device id). No password: the seed's broker is anonymous, the client ids are the secret.
 */
export function formatSeedProfile(
  profile: { brokerUrl: string; name?: string },
  chats: Array<{ chatId: string; name?: string; clientId: string; inbox: string }>,
  options: { json: boolean; heldBy?: { pid: number; connection: string } | undefined },
): string {
  if (options.json) {
    return `${JSON.stringify({
      mode: 'seed',
      brokerUrls: [profile.brokerUrl],
      ...(profile.name !== undefined ? { name: profile.name } : {}),
      chats,
      ...(options.heldBy ? { heldBy: options.heldBy } : {}),
    })}\n`;
  }
  const lines = [
    'mode:      seed',
    `broker:    ${profile.brokerUrl}`,
    ...(profile.name !== undefined ? [`name:      ${profile.name}`] : []),
    ...(options.heldBy ? [`held by:   process ${options.heldBy.pid} (${options.heldBy.connection})`] : []),
    ...(chats.length === 0 ? ['chats:     none yet (each chat gets its own client id)'] : []),
    ...chats.flatMap((chat) => [
      `chat:      ${chat.chatId}${chat.name !== undefined ? ` (${printableName(chat.name)})` : ''}`,
      `  client id: ${chat.clientId}`,
      `  inbox:     ${chat.inbox}`,
    ]),
  ];
  return `${lines.join('\n')}\n`;
}

/** A chat name on one line without control characters. */
function printableName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}
