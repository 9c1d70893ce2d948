/**
 * `hush start`: the zero-setup server. Embedded broker with the Hush ACL and a password file in the data
 * directory, retained messages refused, the web server with /mqtt on --port, MQTT/TCP on --mqtt-port.
 */
import { readFile, writeFile, mkdir, access } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { startBroker } from '../../broker/index.ts';
import { startHttpServer } from '../../server/http-server.ts';
import { createCliLogger } from '../shared/logger.ts';
import { parsePort } from '../shared/options.ts';
import { runUntilSignal } from '../shared/run-until-signal.ts';
import { UserError } from '../shared/errors.ts';

/** The aclfile Hush writes for a new deployment: each client reads only its own inbox. */
export const HUSH_ACL = `# Hush: a client may read only its own inbox and write to any inbox.
pattern read chats/%c/messages
pattern write chats/+/messages
`;

interface StartFlags {
  host: string;
  port: number;
  mqttPort: number;
  dataDir: string;
  tlsCert?: string;
  tlsKey?: string;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Registers `hush start`. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run Hush: embedded broker and web server')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'web app and MQTT over WebSocket (/mqtt)', parsePort, 8080)
    .option('--mqtt-port <port>', 'plain MQTT over TCP', parsePort, 1883)
    .option('--data-dir <dir>', 'where sessions, keys and files live', '.hush')
    .option('--tls-cert <file>', 'PEM certificate: serve https/wss and mqtts')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .action(async (flags: StartFlags) => {
      const log = createCliLogger();
      const dataDir = path.resolve(flags.dataDir);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const aclFile = path.join(dataDir, 'aclfile');
      const passwordFile = path.join(dataDir, 'passwd');
      // Never overwrite: an operator may have edited either file.
      if (!(await exists(aclFile))) await writeFile(aclFile, HUSH_ACL, { mode: 0o600 });
      if (!(await exists(passwordFile))) await writeFile(passwordFile, '', { mode: 0o600 });
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new UserError('--tls-cert and --tls-key must be given together');
      }
      let broker;
      try {
        broker = await startBroker(
          {
            host: flags.host,
            mqttPort: flags.mqttPort,
            aclFile,
            passwordFile,
            tlsCertFile: flags.tlsCert,
            tlsKeyFile: flags.tlsKey,
            dataDir: path.join(dataDir, 'broker'),
            retainAvailable: false,
          },
          log,
        );
      } catch (error) {
        throw new UserError((error as Error).message);
      }
      const tls =
        flags.tlsCert && flags.tlsKey
          ? { cert: await readFile(flags.tlsCert), key: await readFile(flags.tlsKey) }
          : undefined;
      let web;
      try {
        web = await startHttpServer(broker, flags.host, flags.port, tls);
      } catch (error) {
        await broker.close();
        throw new UserError(`cannot listen on ${flags.host}:${flags.port}: ${(error as Error).message}`);
      }
      const scheme = tls ? 'https' : 'http';
      process.stdout.write(
        `hush ready ${scheme}://${flags.host}:${web.port}/ mqtt=${broker.mqttPort} data=${dataDir}\n`,
      );
      await runUntilSignal(
        log,
        () => broker.reload(),
        async () => {
          await web.close();
          await broker.close();
        },
      );
    });
}
