import type { Command } from 'commander';

/** Placeholder until the password file lands in this series of commits. */
export function registerPasswdCommand(program: Command): void {
  program
    .command('passwd')
    .description('manage a Mosquitto password file')
    .action(() => {
      throw new Error('not yet');
    });
}
