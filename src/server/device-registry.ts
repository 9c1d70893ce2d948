/**
 * The device registry behind the registration API: the Mosquitto password file in the data directory is
 * the list of devices (username = client id, password = the device's 256-bit secret, `$7$` hash).
 *
 * Create-only: the server picks every client id (16 random bytes) and never writes over an existing
 * username, so registering cannot take over someone else's inbox. Writes are serialized by one mutex and
 * batched: each batch re-reads the file (so `hush passwd` edits are kept), applies every queued change,
 * provisions the new devices' persistent sessions, saves the file atomically once, installs the table in
 * the broker, and only then answers each caller. A 201 therefore means: the device can connect now, and a
 * message sent to its inbox before it first connects is kept.
 */
import type { Logger } from 'pino';
import type { RunningBroker } from '../broker/index.ts';
import {
  hashPassword,
  loadPasswordFile,
  savePasswordFile,
  verifyPassword,
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

/** Verified even for unknown users, so the time to answer does not say whether a client id exists. */
const DECOY_HASH = '$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==';
/** Most changes written in one batch; the rest wait for the next one. */
const MAX_BATCH = 500;

interface AddOperation {
  kind: 'add';
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
    private readonly broker: RunningBroker,
    private readonly log: Logger,
    private table: PasswordTable,
  ) {}

  /** Reads the password file (which must exist) and installs it in the broker. */
  static async open(passwordFile: string, broker: RunningBroker, log: Logger): Promise<DeviceRegistry> {
    const table = await loadPasswordFile(passwordFile);
    await broker.setPasswords(table);
    return new DeviceRegistry(passwordFile, broker, log.child({ component: 'registry' }), table);
  }

  /** Number of registered devices (users in the password file). */
  get size(): number {
    return this.table.entries.size;
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
      this.enqueue({ kind: 'add', hash, name, resolve, reject });
    });
  }

  /**
   * Removes a device if `secret` is its password: its credentials are deleted (the broker closes its
   * connection) and its session and queued messages are dropped. Resolves false for a wrong secret or an
   * unknown client id alike.
   */
  async revoke(clientId: string, secret: string): Promise<boolean> {
    if (this.closed) throw new RegistryClosedError();
    const stored = this.table.entries.get(clientId);
    const ok = await verifyPassword(secret, stored ?? DECOY_HASH);
    if (!ok || stored === undefined) return false;
    return new Promise<boolean>((resolve, reject) => {
      this.enqueue({ kind: 'remove', clientId, verifiedHash: stored, resolve, reject });
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
    // The file is the source of truth: re-read it so users added with `hush passwd` are kept.
    const current = await loadPasswordFile(this.passwordFile);
    const entries = new Map(current.entries);
    const added: Array<{ operation: AddOperation; clientId: string }> = [];
    const removed: Array<{ operation: RemoveOperation; done: boolean }> = [];
    for (const operation of batch) {
      if (operation.kind === 'add') {
        // Create-only. A collision of 128 random bits will not happen, but if it did we draw again
        // rather than ever replacing a user.
        let clientId = newClientId();
        while (entries.has(clientId)) clientId = newClientId();
        entries.set(clientId, operation.hash);
        added.push({ operation, clientId });
      } else {
        const done = entries.get(operation.clientId) === operation.verifiedHash;
        if (done) entries.delete(operation.clientId);
        removed.push({ operation, done });
      }
    }
    const next: PasswordTable = { source: this.passwordFile, entries };
    const changed = added.length > 0 || removed.some((r) => r.done);

    if (changed) {
      // Sessions first: a device in the file always has its inbox session, whatever happens next.
      const provisioned: string[] = [];
      try {
        for (const { clientId } of added) {
          await this.broker.provisionSession(clientId, [inboxTopic(clientId)]);
          provisioned.push(clientId);
        }
        await savePasswordFile(this.passwordFile, next);
      } catch (error) {
        for (const clientId of provisioned) await this.broker.removeSession(clientId).catch(() => undefined);
        throw error;
      }
      this.table = next;
      // Closes the connections of removed devices; new devices can authenticate from here on.
      await this.broker.setPasswords(next);
      for (const { operation, done } of removed) {
        if (done) await this.broker.removeSession(operation.clientId);
      }
    }
    for (const { operation, clientId } of added) {
      this.log.info({ clientId, name: operation.name }, 'device registered');
      operation.resolve(clientId);
    }
    for (const { operation, done } of removed) {
      if (done) this.log.info({ clientId: operation.clientId }, 'device revoked');
      operation.resolve(done);
    }
  }
}
