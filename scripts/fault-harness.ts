/**
 * What the fault scenarios (kill -9, chaos proxy, full disk) share: accounts in a Mosquitto password file, SDK
 * devices provisioned on them, 1:1 chats, a sender paced by what the receiver has seen, and a ledger of what the
 * receiving app was shown (the 'message' events) that counts deliveries, duplicates and order per sender.
 *
 * Used by test/integration/fault-*.test.ts (small counts, CI) and scripts/fault-kill9.ts (10,000 messages).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HushWarning, ProfileStore, ReceivedText } from '../src/client/api.ts';
import type { BackoffOptions } from '../src/client/backoff.ts';
import { useProvisionedDevice } from '../src/client/device.ts';
import { HushClient, type OpenOptions } from '../src/client/hush-client.ts';
import { FileStore } from '../src/client/node/file-store.ts';
import { MemoryStore } from '../src/client/storage.ts';
import { hashPassword } from '../src/broker/passwd/index.ts';
import { toB64u } from '../src/core/bytes.ts';
import { nodeCryptoProvider as provider } from '../src/crypto-node/provider.ts';

/** The aclfile of a Hush deployment: each device reads its own inbox and writes to anyone's. */
export const CHAT_ACL = 'pattern read chats/%c/messages\npattern write chats/+/messages\n';

export interface Account {
  clientId: string;
  secret: string;
}

/** `n` broker accounts and the Mosquitto password file that admits them. */
export async function makeAccounts(n: number): Promise<{ accounts: Account[]; passwordFile: string }> {
  const accounts: Account[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const account = { clientId: randomB64u(16), secret: randomB64u(32) };
    accounts.push(account);
    lines.push(`${account.clientId}:${await hashPassword(account.secret)}`);
  }
  return { accounts, passwordFile: `${lines.join('\n')}\n` };
}

/** `n` random bytes as b64u (client ids are 16 of them). */
export const randomB64u = (n: number): string => toB64u(crypto.getRandomValues(new Uint8Array(n)));

/**
 * Where profiles go: a FileStore fsyncs every write (three or more per message), which on this kind of disk costs
 * ~40 ms a message; on tmpfs the same code runs at CPU speed. The faults here kill the broker, not the machine, and
 * what a killed process wrote survives in the page cache either way.
 */
export const PROFILE_ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** Temporary directories for FileStore profiles, removed together. */
export class ProfileDirs {
  readonly #dirs: string[] = [];

  /** A FileStore in a fresh temporary directory under PROFILE_ROOT. */
  async fileStore(prefix = 'hush-fault-profile-'): Promise<FileStore> {
    const dir = await mkdtemp(path.join(PROFILE_ROOT, prefix));
    this.#dirs.push(dir);
    return new FileStore(path.join(dir, 'profile'));
  }

  /** Removes every directory handed out. */
  async removeAll(): Promise<void> {
    await Promise.all(this.#dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Provisions a device for `account` on `store` (a MemoryStore if none) and opens it, not yet connected. */
export async function openDevice(options: {
  brokerUrl: string;
  account: Account;
  name: string;
  store?: ProfileStore;
  backoff?: BackoffOptions;
  /** Other connection tuning (takeover detection…). */
  connection?: OpenOptions['connection'];
}): Promise<HushClient> {
  const store = options.store ?? new MemoryStore();
  await useProvisionedDevice({
    brokerUrl: options.brokerUrl,
    clientId: options.account.clientId,
    deviceSecret: options.account.secret,
    server: 'http://hush.test',
    displayName: options.name,
    store,
    provider,
  });
  return HushClient.open({
    store,
    provider,
    connection: { ...options.connection, backoff: options.backoff ?? { baseMs: 100, capMs: 1000 } },
  });
}

/** Connects both devices and makes a 1:1 chat between them (`admin` invites, `member` joins). */
export async function openChat(admin: HushClient, member: HushClient, timeoutMs = 20_000): Promise<string> {
  await Promise.all([admin.connect(), member.connect()]);
  const { link, chatId } = await admin.createInvite();
  const joined = await member.acceptInvite(link, { timeoutMs });
  if (joined !== chatId) throw new Error(`joined chat ${joined}, expected ${chatId}`);
  // The member learns the chat from the admin's announcement; the admin must also have the member's keys.
  const deadline = Date.now() + timeoutMs;
  while (admin.chats().find((c) => c.chatId === chatId)?.members.length !== 2) {
    if (Date.now() > deadline) throw new Error('the admin never saw the member join');
    await sleep(20);
  }
  return chatId;
}

/** The text of message `index` from the sender labelled `label` (the ledger parses it back). */
export const textOf = (label: string, index: number): string => `${label} ${index}`;

/** What one sender's messages looked like to the receiving app. */
export interface SenderFigures {
  label: string;
  sent: number;
  /** Distinct messages the app was shown. */
  delivered: number;
  /** 'message' events beyond the first for one message id (the app showed it twice). */
  duplicated: number;
  /** Messages shown before one with a smaller index from the same sender. */
  outOfOrder: number;
  /** Indices sent but never shown (the first few). */
  missing: number[];
}

/** Records what receiving apps are shown and checks it against what was sent. */
export class DeliveryLedger {
  readonly #shown = new Map<string, number[]>();
  readonly #timesShown = new Map<string, number>();
  readonly #sent = new Map<string, number>();
  readonly warnings: HushWarning[] = [];
  #total = 0;

  /** Listens to `client`'s 'message' and 'warning' events. */
  watch(client: HushClient): void {
    client.on('message', (message: ReceivedText) => this.#record(message));
    client.on('warning', (warning: HushWarning) => this.warnings.push(warning));
  }

  /** Messages shown so far from `label` (duplicates included). */
  shownFrom(label: string): number {
    return this.#shown.get(label)?.length ?? 0;
  }

  /** Every 'message' event so far. */
  get total(): number {
    return this.#total;
  }

  /** Declares that `label` sent `count` messages (for the missing list). */
  expect(label: string, count: number): void {
    this.#sent.set(label, count);
  }

  /** Whether every expected message has been shown at least once. */
  complete(): boolean {
    for (const [label, count] of this.#sent)
      if (new Set(this.#shown.get(label) ?? []).size < count) return false;
    return true;
  }

  /** Per-sender figures. */
  figures(): SenderFigures[] {
    return [...this.#sent].map(([label, sent]) => {
      const shown = this.#shown.get(label) ?? [];
      const distinct = new Set(shown);
      let outOfOrder = 0;
      let highest = -1;
      for (const index of shown) {
        if (index < highest) outOfOrder++;
        highest = Math.max(highest, index);
      }
      const missing: number[] = [];
      for (let i = 0; i < sent && missing.length < 20; i++) if (!distinct.has(i)) missing.push(i);
      let duplicated = 0;
      for (const [key, times] of this.#timesShown) if (key.startsWith(`${label} `)) duplicated += times - 1;
      return { label, sent, delivered: distinct.size, duplicated, outOfOrder, missing };
    });
  }

  /** Warnings by code, e.g. { replay: 3 }. */
  warningCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const w of this.warnings) counts[w.code] = (counts[w.code] ?? 0) + 1;
    return counts;
  }

  #record(message: ReceivedText): void {
    this.#total++;
    const space = message.text.lastIndexOf(' ');
    const label = message.text.slice(0, space);
    const index = Number(message.text.slice(space + 1));
    if (!Number.isInteger(index)) return;
    const shown = this.#shown.get(label) ?? [];
    shown.push(index);
    this.#shown.set(label, shown);
    // Keyed by the message id too: the SDK promises one 'message' per id.
    const key = `${label} ${message.id}`;
    this.#timesShown.set(key, (this.#timesShown.get(key) ?? 0) + 1);
  }
}

/**
 * Sends `count` texts as fast as the receiver keeps up: at most `window` sent and not yet shown to the receiver
 * (a person typing is slower; this keeps the broker's queue for the receiver under its cap and the sender's
 * outbox, which is rewritten on every send and acknowledgement, small). `onProgress` sees each index once sent.
 */
export async function sendPaced(options: {
  sender: HushClient;
  chatId: string;
  label: string;
  count: number;
  ledger: DeliveryLedger;
  window?: number;
  onProgress?: (sent: number) => void | Promise<void>;
  /** Gives up waiting for the receiver after this long without progress. */
  stallMs?: number;
}): Promise<void> {
  const { sender, chatId, label, count, ledger } = options;
  const window = options.window ?? 100;
  const stallMs = options.stallMs ?? 30_000;
  ledger.expect(label, count);
  for (let i = 0; i < count; i++) {
    let lastShown = ledger.shownFrom(label);
    let since = Date.now();
    while (i - ledger.shownFrom(label) >= window) {
      await sleep(5);
      if (ledger.shownFrom(label) !== lastShown) {
        lastShown = ledger.shownFrom(label);
        since = Date.now();
      } else if (Date.now() - since > stallMs) {
        throw new Error(
          `${label}: the receiver was shown nothing for ${stallMs} ms after ${lastShown} of ${i} sent: ${JSON.stringify(ledger.figures())}`,
        );
      }
    }
    await sender.sendText(chatId, textOf(label, i));
    await options.onProgress?.(i + 1);
  }
}

/** Polls until `condition` holds; throws with `describe()` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(20);
  }
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
