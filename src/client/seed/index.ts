/** Seed mode: one identity per chat and throwaway invite inboxes on an anonymous broker (docs/PROTOCOL.md §11). */
export { SeedClient, createSeedDevice, SEED_RECORD, type SeedOpenOptions } from './seed-client.ts';
export { PrefixStore } from './prefix-store.ts';
export { primeSession, wipeSession } from './session.ts';
