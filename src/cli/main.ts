// First: makes mqtt-packet's and MQTT.js's disabled debug loggers free before anything loads them.
import '../broker/quiet-debug.ts';
import { Command, CommanderError } from 'commander';
import { registerBrokerCommand } from './commands/broker.ts';
import { registerPasswdCommand } from './commands/passwd.ts';
import { registerLegacyCommand } from './commands/legacy.ts';
import { registerAuditCommand } from './commands/audit.ts';
import { registerChatCommand } from './commands/chat.ts';
import { registerStartCommand } from './commands/start.ts';
import { registerDeviceCommand } from './commands/device.ts';
import { registerInviteCommand } from './commands/invite.ts';
import { registerSendCommand } from './commands/send.ts';
import { registerListenCommand } from './commands/listen.ts';
import { registerDeployCommand } from './commands/deploy.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { UserError } from './shared/errors.ts';

/** Builds the `hush` command line; each subcommand lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('hush')
    .description('Hush: end-to-end encrypted chat over MQTT, and the toolkit around it')
    .version('0.1.0')
    .showHelpAfterError();
  registerStartCommand(program);
  registerBrokerCommand(program);
  registerPasswdCommand(program);
  registerLegacyCommand(program);
  registerAuditCommand(program);
  registerChatCommand(program);
  registerDeviceCommand(program);
  registerInviteCommand(program);
  registerSendCommand(program);
  registerListenCommand(program);
  registerDeployCommand(program);
  registerBenchCommand(program);
  return program;
}

/** Entry point used by bin/hush.js: runs the command line and turns user errors into exit codes. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof UserError) {
      process.stderr.write(`hush: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

export { UserError };
