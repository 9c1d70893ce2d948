/** The Hush client SDK (isomorphic; Node-only adapters live in ./node/). */
export type * from './api.ts';
export { HushClient, warningCodeOf, HISTORY_CAP, NOTICE_CAP, type OpenOptions } from './hush-client.ts';
export { ContactBook, CONTACTS_RECORD } from './contacts.ts';
export { HushConnection, type ConnectionOptions, type ConnectionEvents } from './connection.ts';
export { backoffDelay, cryptoRandom, type BackoffOptions } from './backoff.ts';
export { MemoryStore, checkStoreName, readJson, writeJson } from './storage.ts';
export { HushClientError, type HushClientErrorCode } from './errors.ts';
export {
  registerDevice,
  useProvisionedDevice,
  createSeedIdentity,
  loadDevice,
  revokeDevice,
  checkInviteServer,
  inboxTopic,
  inviteServerOf,
  pkcs8KeyVault,
  DEFAULT_INBOX_PATTERN,
  DEVICE_RECORD,
  type Device,
  type DeviceRecord,
  type DeviceKeyVault,
  type StoredKeys,
} from './device.ts';
export {
  SeedClient,
  createSeedDevice,
  PrefixStore,
  SEED_RECORD,
  type SeedOpenOptions,
} from './seed/index.ts';
