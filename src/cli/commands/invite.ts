/**
 * `hush invite create` and `hush invite accept` (DESIGN.md, "Scripting the chat"). Both need the device's
 * connection, so they run through the profile holder: handed to a running `listen`/`chat` on the same profile,
 * or done on a connection of their own. Accepting waits until the inviter has let us in (the chat key arrived),
 * which needs the inviter's device online; the chat id is the last line of stdout.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { UserError } from '../shared/errors.ts';
import { ProfileCommandError, onProfile } from '../profile/holder.ts';

interface CreateFlags {
  profile: string;
  chat?: string;
  json?: boolean;
}

interface AcceptFlags {
  profile: string;
  timeout: number;
  name?: string;
}

/** Parses a duration in seconds (decimals allowed, > 0). */
export function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0) {
    throw new InvalidArgumentError(`'${value}' is not a number of seconds greater than 0`);
  }
  return seconds;
}

/** Registers `hush invite create|accept`. */
export function registerInviteCommand(program: Command): void {
  const invite = program.command('invite').description('invite someone to a chat, or join one');
  invite
    .command('create')
    .description('print an invite link for a chat (a new chat if --chat is not given)')
    .requiredOption('--profile <dir>', 'profile directory')
    .option('--chat <chatId>', 'invite to this existing chat')
    .option('--json', 'print {link, chatId} as one JSON object')
    .addHelpText(
      'after',
      '\nThe link is the last line of stdout. It is a one-time secret: give it only to the person you invite.',
    )
    .action(async (flags: CreateFlags) => {
      const { link, chatId } = await onProfile(flags.profile, {
        op: 'invite-create',
        ...(flags.chat !== undefined ? { chat: flags.chat } : {}),
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ link, chatId })}\n`);
      } else {
        process.stderr.write(`hush: invite to chat ${chatId}\n`);
        process.stdout.write(`${link}\n`);
      }
    });
  invite
    .command('accept')
    .description('join a chat with an invite link; waits until the inviter has let you in')
    .argument('<link>', 'the invite link')
    .requiredOption('--profile <dir>', 'profile directory')
    .option('--timeout <seconds>', 'how long to wait for the inviter', parseSeconds, 60)
    .option('--name <name>', 'display name to show the other members')
    .addHelpText(
      'after',
      "\nPrints the chat id as the last line of stdout. The inviter's device must be online (e.g. running 'hush listen').",
    )
    .action(async (link: string, flags: AcceptFlags) => {
      const timeoutMs = Math.round(flags.timeout * 1000);
      let chatId: string;
      try {
        ({ chatId } = await onProfile(
          flags.profile,
          {
            op: 'invite-accept',
            link,
            timeoutMs,
            ...(flags.name !== undefined ? { displayName: flags.name } : {}),
          },
          { timeoutMs },
        ));
      } catch (error) {
        if (error instanceof ProfileCommandError && error.code === 'timeout') {
          throw new UserError(
            `invite accept: the inviter did not let us in within ${flags.timeout} s (${error.message}); ` +
              "their device must be online (e.g. 'hush listen' on their profile) to answer the join request",
          );
        }
        throw error;
      }
      process.stdout.write(`${chatId}\n`);
    });
}
