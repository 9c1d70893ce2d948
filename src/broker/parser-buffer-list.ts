/**
 * The buffer list each connection's MQTT parser collects bytes in. mqtt-packet keeps partial packets in a `bl`
 * BufferListStream, a full Duplex stream (two stream states and their listeners, about 1 KB per connection) of
 * which the parser uses only the BufferList methods (append, consume, length, readUInt8/16/32, slice,
 * toString); the plain BufferList from the same `bl` has exactly those.
 *
 * bl's fixed-width readers (`readUInt8(offset)` and the rest) copy the bytes they read into a new Buffer first,
 * even when they lie in one chunk; the parser calls them five or more times per packet (header byte, each
 * length byte, topic length, message id), and in `hush bench` profiles those copies and their garbage were
 * about 5% of the broker's CPU. The subclass reads in place when the bytes are in the first chunk, which
 * holds the packet being parsed almost always, and leaves every other case (and every error) to bl.
 */
import { createRequire } from 'node:module';

interface BlBufferList {
  readonly length: number;
  _bufs: Buffer[];
  append(buf: Buffer): this;
  consume(bytes: number): this;
  slice(start?: number, end?: number): Buffer;
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt32BE(offset?: number): number;
}

// The `bl` mqtt-packet itself resolves, so the parser gets the BufferList version it was written for.
const requireFromMqttPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
const { BufferList } = requireFromMqttPacket('bl') as { BufferList: new () => BlBufferList };

/** True when `width` bytes at `offset` lie inside `first` (a non-negative integer offset). */
function inFirst(first: Buffer | undefined, offset: number, width: number): first is Buffer {
  return first !== undefined && offset >>> 0 === offset && offset + width <= first.length;
}

/** bl's BufferList with readers that do not copy. */
export class ParserBufferList extends BufferList {
  override readUInt8(offset = 0): number {
    const first = this._bufs[0];
    return inFirst(first, offset, 1) ? (first[offset] as number) : super.readUInt8(offset);
  }

  override readUInt16BE(offset = 0): number {
    const first = this._bufs[0];
    return inFirst(first, offset, 2) ? first.readUInt16BE(offset) : super.readUInt16BE(offset);
  }

  override readUInt32BE(offset = 0): number {
    const first = this._bufs[0];
    return inFirst(first, offset, 4) ? first.readUInt32BE(offset) : super.readUInt32BE(offset);
  }
}
