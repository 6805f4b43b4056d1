import { Readable } from "node:stream";
import { BinaryCopyWriter, readFixedRows } from "../../services/db/binary-copy";

// The binary COPY framing the seal writes and reads: a round trip whatever the stream's
// chunk boundaries, and a refusal of anything but the rows asked for.

interface Row {
  seq: number;
  leaf: Buffer;
  at: number;
}

const rowsOf = (n: number): Row[] =>
  Array.from({ length: n }, (_, i) => ({
    seq: 2 ** 40 + i * 977,
    leaf: Buffer.alloc(32, i % 256),
    at: 1_765_300_000_000 + i,
  }));

function write(rows: readonly Row[]): Buffer {
  const w = new BinaryCopyWriter();
  const chunks: Buffer[] = [];
  for (const r of rows) {
    w.row(3, 12 + 36 + 12)
      .int8(r.seq)
      .bytea(r.leaf)
      .int8(r.at);
    chunks.push(...w.take());
  }
  chunks.push(...w.end());
  return Buffer.concat(chunks);
}

async function read(bytes: Buffer, cut: (i: number) => number): Promise<Row[]> {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.max(1, cut(i));
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  const rows: Row[] = [];
  await readFixedRows(Readable.from(pieces), [8, 32, 8], (data, [seq, leaf, at]) =>
    rows.push({
      seq: Number(data.readBigInt64BE(seq)),
      leaf: Buffer.from(data.subarray(leaf, leaf! + 32)),
      at: Number(data.readBigInt64BE(at)),
    }),
  );
  return rows;
}

test("rows written come back whatever the chunks, past the writer's 1 MB chunks too", async () => {
  const rows = rowsOf(17_500); // 1.08 MB: two chunks from the writer
  const bytes = write(rows);
  expect(bytes.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
  expect(bytes.subarray(-2)).toEqual(Buffer.from([0xff, 0xff]));
  expect(await read(bytes, () => bytes.length)).toEqual(rows);
  expect(await read(bytes, (i) => 1 + ((i * 7919) % 997))).toEqual(rows);
  const few = rowsOf(3);
  const small = write(few);
  expect(await read(small, () => 1)).toEqual(few); // every byte on its own, the header too
  expect(await read(write([]), () => 5)).toEqual([]);
});

test("an int8 is a non-negative safe integer", () => {
  const w = new BinaryCopyWriter().row(1, 12);
  expect(() => w.int8(-1)).toThrow(/non-negative safe integer/);
  expect(() => w.int8(2 ** 53)).toThrow(/non-negative safe integer/);
});

test("anything but the rows asked for is refused", async () => {
  const good = write(rowsOf(2));
  const reading = (bytes: Buffer) => read(bytes, () => 13);
  await expect(
    reading(Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\x01", "latin1"), good.subarray(11)])),
  ).rejects.toThrow(/not a binary COPY stream/);
  await expect(reading(good.subarray(0, good.length - 2))).rejects.toThrow(/ended early/);
  await expect(reading(good.subarray(0, good.length - 30))).rejects.toThrow(/ended early/);
  await expect(reading(Buffer.concat([good, Buffer.from([0])]))).rejects.toThrow(/more than its rows/);
  const fields = Buffer.from(good);
  fields.writeInt16BE(2, 19); // the first row's field count
  await expect(reading(fields)).rejects.toThrow(/has 2 fields, not 3/);
  const length = Buffer.from(good);
  length.writeInt32BE(31, 19 + 2 + 12); // the first row's leaf length
  await expect(reading(length)).rejects.toThrow(/field 1 of a COPY row has 31 bytes, not 32/);
  const extension = Buffer.from(good);
  extension.writeInt32BE(4, 15); // a 4-byte header extension, which the reader skips
  await expect(
    reading(Buffer.concat([extension.subarray(0, 19), Buffer.alloc(4), extension.subarray(19)])),
  ).resolves.toHaveLength(2);
});
