/**
 * The device registry behind the registration API: a Mosquitto password file is the list of devices
 * (username = client id, password = the device's 256-bit secret, `$7$` hash). The broker behind it is an
 * AccountBroker: Hush's embedded broker (embedded-accounts.ts) or an external Mosquitto (mosquitto-accounts.ts).
 *
 * Create-only: the server picks every client id (16 random bytes) and never writes over an existing
 * username, so registering cannot take over someone else's inbox. Writes are serialized by one mutex and
 * batched: each batch takes the password file's lock (shared with `hush passwd`), re-reads the file (so other
 * writers' edits are kept), applies every queued change, saves the file atomically once, then has the broker
 * take the new table (one reload per batch) and only then answers each caller. A 201 therefore means: the
 * device can connect now, and a message sent to its inbox before it first connects is kept.
 */
import type { Logger } from 'pino';
import {
  hashPassword,
  loadPasswordFile,
  savePasswordFile,
  verifyPassword,
  withPasswordFileLock,
  type PasswordTable,
} from '../broker/passwd/index.ts';
import { ID_BYTES } from '../core/identity.ts';
import { toB64u } from '../core/bytes.ts';
import { Mutex } from './mutex.ts';

/** The inbox topic of a device: the one topic it reads (`pattern read chats/%c/messages`). */
export function inboxTopic(clientId: string): string {
  return `chats/${clientId}/messages`;
}

/** A fresh random client id: 16 bytes from crypto.getRandomValues, base64url (22 characters). */
export function newClientId(): string {
  return toB64u(crypto.getRandomValues(new Uint8Array(ID_BYTES)));
}

/** Thrown to callers when the registry is shutting down. */
export class RegistryClosedError extends Error {
  constructor() {
    super('registry: the server is shutting down');
    this.name = 'RegistryClosedError';
  }
}

/** Thrown to callers when the broker did not take a saved change (it is rolled back for registrations). */
export class BrokerUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`registry: the broker did not apply the change: ${reason}`);
    this.name = 'BrokerUnavailableError';
  }
}

/** Verified even for unknown users, so the time to answer does not say whether a client id exists. */
const DECOY_HASH = '$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==';
/** Most changes written in one batch; the rest wait for the next one. */
const MAX_BATCH = 500;

/** A device being created: its client id and the secret it connects with. */
export interface NewAccount {
  clientId: string;
  secret: string;
}

/**
 * The broker a registry keeps in step with its password file. The registry calls, per batch:
 * beforeSave (inside the file lock, before the save), then afterSave once the file is on disk.
 */
export interface AccountBroker {
  /** Makes the broker use `table` when the registry opens. */
  install(table: PasswordTable): Promise<void>;
  /** Called while `secret` still works, before `clientId` is removed (to drop its session). */
  beforeRemove(account: NewAccount): Promise<void>;
  /** Called before new accounts are saved; undoBeforeSave if the save then fails. */
  beforeSave(added: NewAccount[]): Promise<void>;
  undoBeforeSave(added: NewAccount[]): Promise<void>;
  /**
   * The file now holds `table`: resolves once every added account can connect (and has its inbox session)
   * and every removed one cannot; throws if that could not be reached.
   */
  afterSave(table: PasswordTable, added: NewAccount[], removed: NewAccount[]): Promise<void>;
  /** Open client connections, when the broker can tell. */
  connections?(): number;
}

interface AddOperation {
  kind: 'add';
  secret: string;
  hash: string;
  name: string | undefined;
  resolve(clientId: string): void;
  reject(error: unknown): void;
}

interface RemoveOperation {
  kind: 'remove';
  clientId: string;
  /** The hash the caller's secret was verified against; removed only if the entry still has it. */
  verifiedHash: string;
  secret: string;
  resolve(removed: boolean): void;
  reject(error: unknown): void;
}

type Operation = AddOperation | RemoveOperation;

/** Registered devices, their password file and their broker sessions. */
export class DeviceRegistry {
  private readonly mutex = new Mutex();
  private queue: Operation[] = [];
  private flushing = false;
  private closed = false;

  private constructor(
    private readonly passwordFile: string,
    private readonly broker: AccountBroker,
    private readonly log: Logger,
    private table: PasswordTable,
  ) {}

  /** Reads the password file (which must exist) and installs it in the broker. */
  static async open(passwordFile: string, broker: AccountBroker, log: Logger): Promise<DeviceRegistry> {
    const table = await loadPasswordFile(passwordFile);
    await broker.install(table);
    return new DeviceRegistry(passwordFile, broker, log.child({ component: 'registry' }), table);
  }

  /** Number of registered devices (users in the password file). */
  get size(): number {
    return this.table.entries.size;
  }

  /** Open broker connections, when the broker can tell. */
  get connections(): number | undefined {
    return this.broker.connections?.();
  }

  /**
   * Registers a new device with `secret` as its MQTT password; resolves with the client id the server
   * chose once the device can connect and its inbox session exists.
   */
  async register(secret: string, name?: string): Promise<string> {
    if (this.closed) throw new RegistryClosedError();
    // Hashing runs outside the lock so parallel registrations hash in parallel.
    const hash = await hashPassword(secret);
    return new Promise<string>((resolve, reject) => {
      this.enqueue({ kind: 'add', secret, hash, name, resolve, reject });
    });
  }

  /**
   * Removes a device if `secret` is its password: its credentials are deleted (the broker closes its
   * connection) and its session and queued messages are dropped. Resolves false for a wrong secret or an
   * unknown client id alike.
   */
  async revoke(clientId: string, secret: string): Promise<boolean> {
    if (this.closed) throw new RegistryClosedError();
    // The file, not our copy: another writer (a second server, `hush passwd`) may have added the device.
    const current = await loadPasswordFile(this.passwordFile).catch(() => this.table);
    const stored = current.entries.get(clientId);
    const ok = await verifyPassword(secret, stored ?? DECOY_HASH);
    if (!ok || stored === undefined) return false;
    return new Promise<boolean>((resolve, reject) => {
      this.enqueue({ kind: 'remove', clientId, verifiedHash: stored, secret, resolve, reject });
    });
  }

  /** Runs `task` with no batch in flight (SIGHUP reload), then re-reads the file for the device count. */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const result = await task();
      this.table = await loadPasswordFile(this.passwordFile).catch(() => this.table);
      return result;
    });
  }

  /** Refuses new work and waits until every queued change is written. */
  async close(): Promise<void> {
    this.closed = true;
    // A batch that is queued already runs before this, and flush() drains the whole queue.
    await this.mutex.run(async () => undefined);
  }

  private enqueue(operation: Operation): void {
    if (this.closed) return operation.reject(new RegistryClosedError());
    this.queue.push(operation);
    if (this.flushing) return;
    this.flushing = true;
    void this.mutex.run(() => this.flush());
  }

  /** Writes batches until the queue is empty. Runs under the mutex. */
  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.writeBatch(batch).catch((error: unknown) => {
          this.log.error(
            { reason: (error as Error).message, changes: batch.length },
            'registry write failed',
          );
          for (const operation of batch) operation.reject(error);
        });
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeBatch(batch: Operation[]): Promise<void> {
    for (const operation of batch) {
      if (operation.kind === 'remove')
        await this.broker
          .beforeRemove(operation)
          .catch((error: unknown) =>
            this.log.warn(
              { clientId: operation.clientId, reason: (error as Error).message },
              'session not wiped',
            ),
          );
    }
    const added: Array<{ operation: AddOperation; account: NewAccount }> = [];
    const removed: Array<{ operation: RemoveOperation; done: boolean }> = [];
    const next = await withPasswordFileLock(this.passwordFile, async () => {
      // The file is the source of truth: re-read it so users added with `hush passwd` are kept.
      const current = await loadPasswordFile(this.passwordFile);
      const entries = new Map(current.entries);
      for (const operation of batch) {
        if (operation.kind === 'add') {
          // Create-only. A collision of 128 random bits will not happen, but if it did we draw again
          // rather than ever replacing a user.
          let clientId = newClientId();
          while (entries.has(clientId)) clientId = newClientId();
          entries.set(clientId, operation.hash);
          added.push({ operation, account: { clientId, secret: operation.secret } });
        } else {
          const done = entries.get(operation.clientId) === operation.verifiedHash;
          if (done) entries.delete(operation.clientId);
          removed.push({ operation, done });
        }
      }
      const table: PasswordTable = { source: this.passwordFile, entries };
      if (added.length > 0 || removed.some((r) => r.done)) {
        const accounts = added.map((a) => a.account);
        // Embedded: sessions first, so a device in the file always has its inbox session.
        await this.broker.beforeSave(accounts);
        try {
          await savePasswordFile(this.passwordFile, table);
        } catch (error) {
          await this.broker.undoBeforeSave(accounts).catch(() => undefined);
          throw error;
        }
      }
      return table;
    });
    this.table = next;
    const gone = removed.filter((r) => r.done).map((r) => r.operation);
    if (added.length > 0 || gone.length > 0) {
      try {
        await this.broker.afterSave(
          next,
          added.map((a) => a.account),
          gone,
        );
      } catch (error) {
        // The new accounts never became usable: take them out again rather than leave them behind.
        if (added.length > 0) await this.rollBack(added.map((a) => a.account.clientId));
        throw new BrokerUnavailableError((error as Error).message);
      }
    }
    for (const { operation, account } of added) {
      this.log.info({ clientId: account.clientId, name: operation.name }, 'device registered');
      operation.resolve(account.clientId);
    }
    for (const { operation, done } of removed) {
      if (done) this.log.info({ clientId: operation.clientId }, 'device revoked');
      operation.resolve(done);
    }
  }

  /** Removes accounts whose registration failed after they were saved (best effort). */
  private async rollBack(clientIds: string[]): Promise<void> {
    try {
      this.table = await withPasswordFileLock(this.passwordFile, async () => {
        const current = await loadPasswordFile(this.passwordFile);
        for (const clientId of clientIds) current.entries.delete(clientId);
        await savePasswordFile(this.passwordFile, current);
        return current;
      });
      await this.broker.afterSave(this.table, [], []);
    } catch (error) {
      this.log.error(
        { reason: (error as Error).message, clientIds },
        'could not roll back failed registrations',
      );
    }
  }
}
