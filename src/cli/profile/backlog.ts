/**
 * The listen backlog: text messages that arrived while a short command (`send`, `invite create`…) held the
 * profile's connection. The SDK stores and acknowledges them then, so the broker will not deliver them again; they
 * are kept here, in order, for the next `hush listen` to print, so a script never loses a message to a `send`.
 */
import type { ProfileStore, ReceivedText } from '../../client/api.ts';

export const BACKLOG_RECORD = 'cli-listen-backlog.json';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Appends are serialized per store: each is a read-modify-write of one record. */
const queues = new WeakMap<ProfileStore, Promise<void>>();

async function read(store: ProfileStore): Promise<ReceivedText[]> {
  const bytes = await store.read(BACKLOG_RECORD);
  if (bytes === undefined) return [];
  try {
    const parsed = JSON.parse(decoder.decode(bytes)) as unknown;
    return Array.isArray(parsed) ? (parsed as ReceivedText[]) : [];
  } catch {
    return [];
  }
}

function serialized<T>(store: ProfileStore, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(store) ?? Promise.resolve();
  const result = previous.then(work);
  queues.set(
    store,
    result.then(
      () => undefined,
      () => undefined,
    ),
  );
  return result;
}

/** Adds a received text message to the end of the backlog. */
export function appendBacklog(store: ProfileStore, message: ReceivedText): Promise<void> {
  return serialized(store, async () => {
    const backlog = await read(store);
    if (backlog.some((m) => m.chatId === message.chatId && m.id === message.id)) return;
    backlog.push(message);
    await store.write(BACKLOG_RECORD, encoder.encode(JSON.stringify(backlog)));
  });
}

/** The backlog in arrival order (left in place until consumeBacklog). */
export function readBacklog(store: ProfileStore): Promise<ReceivedText[]> {
  return serialized(store, () => read(store));
}

/** Removes the first `count` messages (the ones printed). */
export function consumeBacklog(store: ProfileStore, count: number): Promise<void> {
  return serialized(store, async () => {
    if (count <= 0) return;
    const rest = (await read(store)).slice(count);
    if (rest.length === 0) await store.remove(BACKLOG_RECORD);
    else await store.write(BACKLOG_RECORD, encoder.encode(JSON.stringify(rest)));
  });
}
