/**
 * `hush deploy mosquitto --out DIR`: writes a working Mosquitto 2.0 deployment for Hush (config, aclfile,
 * password file, TLS material) with the owners and modes Mosquitto needs; see src/deploy/mosquitto.ts and
 * docs/DEPLOY.md.
 */
import type { Command } from 'commander';
import { DeployConflictError, deployMosquitto } from '../../deploy/mosquitto.ts';
import { parsePort } from '../shared/options.ts';
import { UserError } from '../shared/errors.ts';

interface DeployMosquittoFlags {
  out: string;
  hostname: string;
  mqttPort: number;
  wsPort: number;
  anonymous: boolean;
  tlsCert?: string;
  tlsKey?: string;
  force: boolean;
}

/** Registers `hush deploy` and its `mosquitto` subcommand. */
export function registerDeployCommand(program: Command): void {
  const deploy = program.command('deploy').description('generate the configuration to run Hush on a broker');
  deploy
    .command('mosquitto')
    .description('write a commented mosquitto.conf, aclfile, password file and TLS material for Hush')
    .requiredOption('--out <dir>', 'the directory to write')
    .option('--hostname <name>', 'the name clients use; the server certificate is made for it', 'localhost')
    .option('--mqtt-port <port>', 'plain MQTT listener, on loopback only', parsePort, 1883)
    .option('--ws-port <port>', 'MQTT over secure WebSockets (wss://) listener', parsePort, 8443)
    .option('--anonymous', "the seed's setup: no accounts, client ids are bearer secrets (see docs)", false)
    .option('--tls-cert <file>', 'your own certificate chain (referenced by path, not copied)')
    .option('--tls-key <file>', 'the key of --tls-cert')
    .option(
      '--force',
      'rewrite the config files of an existing deployment (never the password file or keys)',
      false,
    )
    .action(async (flags: DeployMosquittoFlags) => {
      await runDeployMosquitto(flags);
    });
}

async function runDeployMosquitto(flags: DeployMosquittoFlags): Promise<void> {
  let result;
  try {
    result = await deployMosquitto({ ...flags });
  } catch (error) {
    if (error instanceof DeployConflictError) throw new UserError(error.message);
    throw new UserError((error as Error).message);
  }
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(
    `Mosquitto deployment for Hush (${flags.anonymous ? 'ANONYMOUS mode' : 'account mode'}) in ${result.dir}`,
  );
  for (const f of result.written) out(`  wrote  ${f}`);
  for (const f of result.kept) out(`  kept   ${f} (never overwritten)`);
  if (result.caFingerprint) out(`CA certificate SHA-256 fingerprint: ${result.caFingerprint}`);
  if (flags.anonymous) {
    out();
    out('ANONYMOUS MODE gives up client-id takeover protection: whoever learns a client id can take that');
    out(
      'session over and read its inbox, queued messages included. Per-chat random ids are the only barrier.',
    );
  }
  if (result.notes.length > 0) {
    out();
    for (const note of result.notes) out(note);
  }
  out();
  out('Next steps:');
  for (const step of result.nextSteps) out(`  ${step}`);
}
