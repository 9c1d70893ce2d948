/**
 * Contacts: what this device knows about the other devices it shares chats with, by client id — trust on first
 * use plus manual verification (issue 6). The first keys seen for a client id are pinned; the same id later seen
 * with other keys (in any chat, or a later epoch of the same chat) is a key change: the contact is marked
 * keyChanged and unverified until the user accepts the new keys (acknowledge) or verifies them (compares the
 * safety number, computed from the newest keys). Kept in the profile store as contacts.json.
 *
 * In v1 a device's keys never change under the same client id (a new device gets a new id, seed mode moves to a
 * new id with a signed 'moved'), so a key change means an admin of some chat announced a forged identity: it is
 * never resolved silently.
 */

import { equalBytes, fromB64u, toB64u } from '../core/bytes.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { fingerprint, type PublicIdentity } from '../core/identity.ts';
import type { ContactInfo, ProfileStore, SenderTrust } from './api.ts';
import { readJson, writeJson } from './storage.ts';

/** The store name of the contact book. */
export const CONTACTS_RECORD = 'contacts.json';

interface KeysJson {
  sign: string;
  agree: string;
  fingerprint: string;
}
interface ContactRecord {
  clientId: string;
  displayName?: string;
  /** The accepted keys: first seen, or the ones the user accepted after a change. */
  keys: KeysJson;
  /** The newest different keys seen, while keyChanged. */
  pending?: KeysJson;
  verified: boolean;
  keyChanged: boolean;
  firstSeen: number;
  keyChangedAt?: number;
}
interface ContactsFile {
  v: 1;
  contacts: ContactRecord[];
}

/** What observing a member did to its contact. */
export type ContactChange = 'added' | 'key-changed' | undefined;

const sameKeys = (a: KeysJson, pub: PublicIdentity): boolean =>
  equalBytes(fromB64u(a.sign, 'contact sign'), pub.sign) &&
  equalBytes(fromB64u(a.agree, 'contact agree'), pub.agree);

/** The contact book of one device (not thread-safe on its own: HushClient serialises every change). */
export class ContactBook {
  readonly #store: ProfileStore;
  readonly #provider: CryptoProvider;
  readonly #self: string;
  readonly #contacts = new Map<string, ContactRecord>();
  /** Changed since the last save. */
  #dirty = false;

  private constructor(store: ProfileStore, provider: CryptoProvider, self: string) {
    this.#store = store;
    this.#provider = provider;
    this.#self = self;
  }

  /** Loads the book (empty if the profile has none yet). */
  static async load(store: ProfileStore, provider: CryptoProvider, self: string): Promise<ContactBook> {
    const book = new ContactBook(store, provider, self);
    const file = (await readJson(store, CONTACTS_RECORD)) as ContactsFile | undefined;
    if (file && file.v === 1 && Array.isArray(file.contacts))
      for (const c of file.contacts) book.#contacts.set(c.clientId, c);
    return book;
  }

  /** Writes the book (atomically, as every ProfileStore write). */
  async save(): Promise<void> {
    const file: ContactsFile = { v: 1, contacts: [...this.#contacts.values()] };
    await writeJson(this.#store, CONTACTS_RECORD, file);
    this.#dirty = false;
  }

  /** Writes the book if anything changed since the last write. */
  async saveIfChanged(): Promise<void> {
    if (this.#dirty) await this.save();
  }

  /** Every contact, oldest first. */
  list(): ContactInfo[] {
    return [...this.#contacts.values()].sort((a, b) => a.firstSeen - b.firstSeen).map(info);
  }

  /** One contact, if known. */
  get(clientId: string): ContactInfo | undefined {
    const c = this.#contacts.get(clientId);
    return c ? info(c) : undefined;
  }

  /** The newest keys seen for a client id (what a safety number must be computed from), if known. */
  newestKeys(clientId: string): PublicIdentity | undefined {
    const c = this.#contacts.get(clientId);
    if (!c) return undefined;
    const k = c.pending ?? c.keys;
    return {
      id: clientId,
      sign: fromB64u(k.sign, 'contact sign'),
      agree: fromB64u(k.agree, 'contact agree'),
    };
  }

  /** How far a message from this client id is trusted right now. */
  trustOf(clientId: string): SenderTrust {
    const c = this.#contacts.get(clientId);
    if (!c) return 'unverified';
    if (c.keyChanged) return 'key-changed';
    return c.verified ? 'verified' : 'unverified';
  }

  /**
   * Records a member seen with `pub`: a new contact ('added'), the same keys (nothing), or other keys than the
   * accepted ones ('key-changed', once per new key set: verified is cleared, the new keys wait for the user).
   */
  async observe(pub: PublicIdentity, now: number, displayName?: string): Promise<ContactChange> {
    if (pub.id === this.#self) return undefined;
    const known = this.#contacts.get(pub.id);
    if (!known) {
      this.#contacts.set(pub.id, {
        clientId: pub.id,
        ...(displayName !== undefined ? { displayName } : {}),
        keys: await this.#keys(pub),
        verified: false,
        keyChanged: false,
        firstSeen: now,
      });
      this.#dirty = true;
      return 'added';
    }
    if (displayName !== undefined && known.displayName === undefined) {
      known.displayName = displayName;
      this.#dirty = true;
    }
    if (sameKeys(known.keys, pub)) return undefined;
    if (known.keyChanged && known.pending && sameKeys(known.pending, pub)) return undefined;
    known.pending = await this.#keys(pub);
    known.keyChanged = true;
    known.verified = false;
    known.keyChangedAt = now;
    this.#dirty = true;
    return 'key-changed';
  }

  /** Sets a display name learned later (first name wins, as for the chats' names). */
  name(clientId: string, displayName: string): boolean {
    const c = this.#contacts.get(clientId);
    if (!c || c.displayName !== undefined) return false;
    c.displayName = displayName;
    this.#dirty = true;
    return true;
  }

  /**
   * The user compared the safety number (of the newest keys) and says it matches (or no longer trusts it).
   * Verifying a changed contact accepts its new keys. Returns false for an unknown client id.
   */
  setVerified(clientId: string, verified: boolean): boolean {
    const c = this.#contacts.get(clientId);
    if (!c) return false;
    if (verified) this.#accept(c);
    c.verified = verified;
    this.#dirty = true;
    return true;
  }

  /**
   * Seed mode: `to` is `from`'s new identity, proven by a 'moved' signed by `from` (PROTOCOL.md §11), so a
   * verification of `from` carries over (never over a key change on either side).
   */
  inheritVerification(from: string, to: string): boolean {
    const old = this.#contacts.get(from);
    const next = this.#contacts.get(to);
    if (!old || !next || !old.verified || old.keyChanged || next.keyChanged || next.verified) return false;
    next.verified = true;
    this.#dirty = true;
    return true;
  }

  /** The user accepts the new keys without verifying them: keyChanged and verified both false. */
  acknowledge(clientId: string): boolean {
    const c = this.#contacts.get(clientId);
    if (!c) return false;
    this.#accept(c);
    c.verified = false;
    this.#dirty = true;
    return true;
  }

  #accept(c: ContactRecord): void {
    if (c.pending) c.keys = c.pending;
    delete c.pending;
    c.keyChanged = false;
  }

  async #keys(pub: PublicIdentity): Promise<KeysJson> {
    return {
      sign: toB64u(pub.sign),
      agree: toB64u(pub.agree),
      fingerprint: await fingerprint(this.#provider, pub),
    };
  }
}

function info(c: ContactRecord): ContactInfo {
  return {
    clientId: c.clientId,
    ...(c.displayName !== undefined ? { displayName: c.displayName } : {}),
    fingerprint: (c.pending ?? c.keys).fingerprint,
    verified: c.verified,
    keyChanged: c.keyChanged,
    firstSeen: c.firstSeen,
    ...(c.keyChanged && c.pending ? { previousFingerprint: c.keys.fingerprint } : {}),
    ...(c.keyChangedAt !== undefined ? { keyChangedAt: c.keyChangedAt } : {}),
  };
}
