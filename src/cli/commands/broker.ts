import type { Command } from 'commander';

/** Placeholder until the broker lands in this series of commits. */
export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run the embedded MQTT broker')
    .action(() => {
      throw new Error('not yet');
    });
}
