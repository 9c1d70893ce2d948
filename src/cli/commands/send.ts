/**
 * `hush send --profile DIR --chat CHAT_ID TEXT` (DESIGN.md, "Scripting the chat"). The SDK writes the message to
 * the profile's outbox before publishing, so it is never lost or sent twice; the command exits 0 once the broker
 * has acknowledged it (QoS 1 PUBACK). Handed to the process holding the profile if there is one.
 */
import type { Command } from 'commander';
import { UserError } from '../shared/errors.ts';
import { onProfile } from '../profile/holder.ts';

interface SendFlags {
  profile: string;
  chat: string;
}

/** Registers `hush send`. */
export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send a text message to a chat; exits 0 once the broker has it')
    .requiredOption('--profile <dir>', 'profile directory')
    .requiredOption('--chat <chatId>', 'the chat (as printed by invite create --json or invite accept)')
    .argument('<text>', 'the message')
    .addHelpText('after', '\nPrints the message id.')
    .action(async (text: string, flags: SendFlags) => {
      if (text.length === 0) throw new UserError('send: the message is empty');
      const { id } = await onProfile(flags.profile, { op: 'send', chat: flags.chat, text });
      process.stdout.write(`${id}\n`);
    });
}
