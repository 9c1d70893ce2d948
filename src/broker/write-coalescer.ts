/**
 * Holds a connection's writes until the event loop has handled everything that arrived in this turn, then
 * hands them to the stream as one buffer: one system call per connection (and over WebSocket one frame).
 * Under load one incoming read produces PUBACKs for the sender and deliveries for many receivers over
 * several ticks, and mqtt-packet writes each packet in five or more pieces (header, length, topic, id,
 * payload). Corking the stream batched the system calls but still ran every piece through the Writable
 * machinery (a buffered entry, a callback, a copy in `_writev`); `hush bench` profiles showed that as a
 * share of the broker's CPU per message. Node's streams have no "gather writes into one buffer" mode, so
 * this does it by hand. With one packet per turn (a quiet broker) nothing changes but a wait until the end
 * of the current turn.
 */
import type { Duplex } from 'node:stream';

type WriteCallback = (error?: Error | null) => void;
type Chunk = Buffer | string;

/** What a coalesced stream holds between its first write in a turn and the flush. */
interface Pending {
  chunks: Chunk[];
  bytes: number;
  callbacks: WriteCallback[] | undefined;
  /** A write returned false: the caller now waits for 'drain'. */
  drainOwed: boolean;
}

/** A bound on the bytes one connection may have waiting to be sent, and who to tell when it is passed. */
export interface OutgoingLimit {
  maxBytes: number;
  onOverflow(stream: Duplex, backlog: number): void;
}

const kPending = Symbol('hush.pendingWrites');
const kLimit = Symbol('hush.outgoingLimit');
type CoalescedStream = Duplex & { [kPending]?: Pending; [kLimit]?: OutgoingLimit };

let toFlush: CoalescedStream[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const streams = toFlush;
  toFlush = [];
  for (const stream of streams) flushOne(stream);
}

/** Writes what `stream` holds as one buffer through the stream's own write (backpressure and errors as usual). */
function flushOne(stream: CoalescedStream): void {
  const pending = stream[kPending];
  if (pending === undefined) return;
  stream[kPending] = undefined;
  const { chunks, bytes, callbacks } = pending;
  let data: Buffer;
  if (chunks.length === 1 && typeof chunks[0] !== 'string') {
    data = chunks[0] as Buffer;
  } else {
    // allocUnsafe takes small buffers from Node's shared pool: one allocation per flush, no zero fill.
    data = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (const chunk of chunks) {
      offset += typeof chunk === 'string' ? data.write(chunk, offset, 'utf8') : chunk.copy(data, offset);
    }
  }
  const done =
    callbacks === undefined
      ? undefined
      : (error?: Error | null) => {
          for (const callback of callbacks) callback(error);
        };
  const ok = writeThrough(stream, data, undefined, done);
  // The stream only emits 'drain' after its own write returned false. When the earlier writes completed
  // before this flush, this one fits and returns true, so the 'drain' the caller waits for is sent here.
  if (ok && pending.drainOwed) process.nextTick(emitDrain, stream);
}

function emitDrain(stream: Duplex): void {
  if (!stream.destroyed) stream.emit('drain');
}

/**
 * Makes `stream`'s writes wait for the end of the current event-loop turn and leave as one buffer; with a
 * limit, a stream whose unsent bytes pass it is destroyed (a reader that stopped reading: without the bound
 * every message for it piled up in the broker's memory, 5 GB in 30 s in the outside review).
 */
export function coalesceWrites(stream: Duplex, limit?: OutgoingLimit): void {
  // One limit object shared by every connection of a broker: no per-connection closure.
  if (limit !== undefined) (stream as CoalescedStream)[kLimit] = limit;
  // Shared functions, not closures: idle connections are most of a broker's memory.
  stream.write = coalescedWrite as Duplex['write'];
  stream.end = coalescedEnd as Duplex['end'];
  // mqtt-packet corks a stream that has `cork` and uncorks it in a process.nextTick, once per packet: with the
  // writes already held here that only costs a tick per packet (profiles after a connection storm: 3.5% of
  // the broker's CPU). It checks `if (stream.cork)`, so an own property hides the method from it; nothing
  // else in the broker corks.
  (stream as { cork?: unknown }).cork = undefined;
}

/** The stream's own (inherited) write: every Duplex handed to Aedes gets it from its prototype chain. */
function writeThrough(
  stream: Duplex,
  chunk: Chunk,
  encoding: BufferEncoding | undefined,
  callback: WriteCallback | undefined,
): boolean {
  const write = (Object.getPrototypeOf(stream) as Duplex).write as (
    this: Duplex,
    chunk: Chunk,
    encoding?: BufferEncoding,
    callback?: WriteCallback,
  ) => boolean;
  return write.call(stream, chunk, encoding, callback);
}

function coalescedWrite(
  this: CoalescedStream,
  chunk: Chunk,
  encoding?: BufferEncoding | WriteCallback,
  callback?: WriteCallback,
): boolean {
  if (typeof encoding === 'function') {
    callback = encoding;
    encoding = undefined;
  }
  // Ended or destroyed streams and other encodings keep Writable's own behaviour (errors included).
  if (
    this.destroyed ||
    this.writableEnded ||
    (typeof chunk === 'string' && encoding !== undefined && encoding !== 'utf8') ||
    (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))
  ) {
    flushOne(this);
    return writeThrough(this, chunk, encoding, callback);
  }
  let pending = this[kPending];
  if (pending === undefined) {
    pending = { chunks: [], bytes: 0, callbacks: undefined, drainOwed: false };
    this[kPending] = pending;
    toFlush.push(this);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushAll);
    }
  }
  pending.chunks.push(chunk);
  pending.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.length;
  if (callback !== undefined) (pending.callbacks ??= []).push(callback);
  const limit = this[kLimit];
  if (limit !== undefined && this.writableLength + pending.bytes > limit.maxBytes) {
    overflow(this, limit);
    return false;
  }
  // False when the flush would take the stream past its high-water mark as things stand; the caller
  // (Aedes) then waits for 'drain', which the stream or flushOne sends.
  const ok = this.writableLength + pending.bytes < this.writableHighWaterMark;
  if (!ok) pending.drainOwed = true;
  return ok;
}

/**
 * Drops what is held for a stream past its limit and destroys it. The held callbacks hear the error, so nobody
 * waits for a flush that will not come. What the connection had in flight stays stored for a persistent session
 * and is sent again on its next connect (MQTT 3.1.1 §4.4).
 */
function overflow(stream: CoalescedStream, limit: OutgoingLimit): void {
  const pending = stream[kPending];
  const backlog = stream.writableLength + (pending?.bytes ?? 0);
  stream[kPending] = undefined;
  const error = new Error(`outgoing buffer over ${limit.maxBytes} bytes: the client is not reading`);
  if (pending?.callbacks) for (const callback of pending.callbacks) process.nextTick(callback, error);
  limit.onOverflow(stream, backlog);
  stream.destroy(error);
}

/** `end(chunk)` writes without going through `write`: what is held goes first. */
function coalescedEnd(this: CoalescedStream, ...args: unknown[]): Duplex {
  flushOne(this);
  return ((Object.getPrototypeOf(this) as Duplex).end as (...a: unknown[]) => Duplex).apply(this, args);
}
