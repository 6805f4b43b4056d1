import type { Readable } from "node:stream";

// PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html,
// "Binary Format"), for the few statements that move a million rows: no text encoding, no
// per-row objects. Writing builds chunks of about 1 MB; reading parses rows of fixed-size,
// non-null fields straight from the stream.

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]); // flags 0, no header extension
const TRAILER = Buffer.from([0xff, 0xff]);
const CHUNK_SIZE = 1 << 20;

/** Rows being written in binary COPY format, handed out as chunks of about 1 MB. */
export class BinaryCopyWriter {
  private chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  private at = 0;
  private readonly full: Buffer[] = [];

  constructor() {
    this.at = HEADER.copy(this.chunk, 0);
  }

  /** Starts a row of `fields` fields taking at most `maxBytes` bytes in all. */
  row(fields: number, maxBytes: number): this {
    // Room for the row and, always, the trailer.
    if (this.at + 2 + maxBytes + TRAILER.length > this.chunk.length) {
      this.full.push(this.chunk.subarray(0, this.at));
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_SIZE, 2 + maxBytes + TRAILER.length));
      this.at = 0;
    }
    this.at = this.chunk.writeInt16BE(fields, this.at);
    return this;
  }

  int2(value: number): this {
    this.at = this.chunk.writeInt16BE(value, this.chunk.writeInt32BE(2, this.at));
    return this;
  }

  int4(value: number): this {
    this.at = this.chunk.writeInt32BE(value, this.chunk.writeInt32BE(4, this.at));
    return this;
  }

  /** A non-negative integer below 2^53 (ids, seqs, times in ms), without a BigInt per value. */
  int8(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`not a non-negative safe integer: ${value}`);
    this.at = this.chunk.writeInt32BE(8, this.at);
    this.at = this.chunk.writeUInt32BE(Math.floor(value / 2 ** 32), this.at);
    this.at = this.chunk.writeUInt32BE(value % 2 ** 32, this.at);
    return this;
  }

  bytea(value: Uint8Array): this {
    this.at = this.chunk.writeInt32BE(value.length, this.at);
    this.chunk.set(value, this.at);
    this.at += value.length;
    return this;
  }

  /** The chunks completed since the last call. */
  take(): Buffer[] {
    return this.full.splice(0);
  }

  /** The remaining chunks, the trailer included; the writer is done. */
  end(): Buffer[] {
    this.at += TRAILER.copy(this.chunk, this.at);
    this.full.push(this.chunk.subarray(0, this.at));
    return this.take();
  }
}

/**
 * Reads a binary COPY ... TO STDOUT whose rows are `sizes.length` non-null fields of exactly
 * those byte sizes, calling `row` with a buffer and the offset of each field (valid during the
 * call only). Throws on anything else.
 */
export async function readFixedRows(
  stream: Readable,
  sizes: readonly number[],
  row: (data: Buffer, offsets: readonly number[]) => void,
): Promise<void> {
  const rowBytes = 2 + sizes.reduce((sum, size) => sum + 4 + size, 0);
  const offsets = sizes.map(() => 0);
  let rest: Buffer = Buffer.alloc(0);
  let headerRead = false;
  let ended = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    let at = 0;
    if (!headerRead) {
      if (
        data.length < HEADER.length ||
        data.length < HEADER.length + data.readInt32BE(SIGNATURE.length + 4)
      ) {
        rest = data;
        continue;
      }
      if (!data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error("not a binary COPY stream");
      at = HEADER.length + data.readInt32BE(SIGNATURE.length + 4);
      headerRead = true;
    }
    while (!ended && data.length - at >= 2) {
      const fields = data.readInt16BE(at);
      if (fields === -1) {
        ended = true;
        at += 2;
        break;
      }
      if (fields !== sizes.length) throw new Error(`a COPY row has ${fields} fields, not ${sizes.length}`);
      if (data.length - at < rowBytes) break;
      let field = at + 2;
      for (let k = 0; k < sizes.length; k++) {
        const length = data.readInt32BE(field);
        if (length !== sizes[k])
          throw new Error(`field ${k} of a COPY row has ${length} bytes, not ${sizes[k]}`);
        offsets[k] = field + 4;
        field += 4 + length;
      }
      row(data, offsets);
      at += rowBytes;
    }
    rest = data.subarray(at);
  }
  if (!ended || rest.length > 0) throw new Error("the COPY stream ended early or carried more than its rows");
}
