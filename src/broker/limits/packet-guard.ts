/**
 * Enforces the maximum MQTT packet size on the raw byte stream, before the packet parser buffers it.
 *
 * mqtt-packet (used by Aedes) keeps collecting bytes until a packet is complete, whatever its declared
 * Remaining Length (up to 256 MiB), so a client could make the broker buffer a huge packet. This guard
 * reads only the fixed header of each packet (MQTT 3.1.1 §2.2: one type byte, then a 1–4 byte
 * variable-length integer) and tracks packet boundaries, so a violation is seen at the header.
 * Written by hand because no library exposes a streaming header check; it is a small state machine.
 */
export class PacketSizeGuard {
  /** Bytes of the current packet's body still to skip. */
  private remainingBody = 0;
  /** Position inside the fixed header: 0 = expecting type byte, 1..4 = length bytes read. */
  private headerBytes = 0;
  private lengthValue = 0;
  private lengthMultiplier = 1;

  constructor(private readonly maxPacketBytes: number) {}

  /** Scans a chunk; returns a reason when the stream must be closed, undefined when it may go on. */
  check(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.remainingBody > 0) {
        const skip = Math.min(this.remainingBody, chunk.length - i);
        this.remainingBody -= skip;
        i += skip;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.headerBytes === 0) {
        if (byte >> 4 === 0) return 'malformed packet: packet type 0 is reserved';
        this.headerBytes = 1;
        this.lengthValue = 0;
        this.lengthMultiplier = 1;
        continue;
      }
      this.lengthValue += (byte & 0x7f) * this.lengthMultiplier;
      this.lengthMultiplier *= 128;
      this.headerBytes++;
      if (byte & 0x80) {
        if (this.headerBytes > 4) return 'malformed packet: Remaining Length longer than 4 bytes';
        continue;
      }
      const total = this.headerBytes + this.lengthValue;
      if (total > this.maxPacketBytes) {
        return `packet of ${total} bytes exceeds the limit of ${this.maxPacketBytes} bytes`;
      }
      this.remainingBody = this.lengthValue;
      this.headerBytes = 0;
    }
    return undefined;
  }
}
