/**
 * The registry's AccountBroker for Hush's embedded broker (`hush start` without --mosquitto-dir): a new
 * device's persistent session is created inside the broker before its account is saved, the broker takes
 * the new password table in memory (closing the connections of removed devices), and a removed device's
 * session and queued messages are dropped.
 */
import type { RunningBroker } from '../broker/index.ts';
import type { PasswordTable } from '../broker/passwd/index.ts';
import { inboxTopic, type AccountBroker, type NewAccount } from './device-registry.ts';

/** Keeps the embedded broker in step with the registry's password file. */
export function embeddedAccounts(broker: RunningBroker): AccountBroker {
  return {
    install: (table: PasswordTable) => broker.setPasswords(table),
    beforeRemove: async () => undefined,
    async beforeSave(added: NewAccount[]) {
      const done: string[] = [];
      try {
        for (const { clientId } of added) {
          await broker.provisionSession(clientId, [inboxTopic(clientId)]);
          done.push(clientId);
        }
      } catch (error) {
        for (const clientId of done) await broker.removeSession(clientId).catch(() => undefined);
        throw error;
      }
    },
    async undoBeforeSave(added: NewAccount[]) {
      for (const { clientId } of added) await broker.removeSession(clientId).catch(() => undefined);
    },
    async afterSave(table: PasswordTable, _added: NewAccount[], removed: NewAccount[]) {
      await broker.setPasswords(table);
      for (const { clientId } of removed) await broker.removeSession(clientId);
    },
    connections: () => broker.aedes.connectedClients,
  };
}
