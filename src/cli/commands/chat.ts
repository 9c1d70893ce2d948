/**
 * `hush chat --profile DIR`: the interactive terminal chat (src/cli/tui). It holds the profile like
 * `hush listen` does (lock + socket), so `hush send` from another terminal hands its work over instead of
 * opening a second connection for the same device.
 */
import type { Command } from 'commander';
import { runChatTui } from '../tui/app.ts';
import { holdProfile } from '../profile/holder.ts';
import { ProfileLockedError } from '../profile/lock.ts';
import { UserError } from '../shared/errors.ts';

/** Registers `hush chat`. */
export function registerChatCommand(program: Command): void {
  program
    .command('chat')
    .description('interactive terminal chat: chat list, messages, input line')
    .requiredOption('--profile <dir>', 'profile directory')
    .action(async (flags: { profile: string }) => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new UserError('hush chat needs a terminal; for scripts use hush listen and hush send');
      }
      let connectionState: 'connecting' | 'online' = 'connecting';
      let holder;
      try {
        holder = await holdProfile(flags.profile, {
          keepBacklog: false,
          beforeConnect: (client) => {
            client.on('connection', ({ state }) => {
              if (state === 'online') connectionState = 'online';
            });
          },
        });
      } catch (error) {
        if (error instanceof ProfileLockedError) throw new UserError(error.message);
        throw error;
      }
      try {
        await runChatTui(holder.client, { input: process.stdin, output: process.stdout }, connectionState);
      } finally {
        await holder.release();
      }
    });
}
