import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { digestStream } from "../../services/core";
import { digestFile } from "../../services/cli/verify";

test("digestFile equals sha256sum of the file", async () => {
  const data = randomBytes(3 * (1 << 20) + 17);
  const path = join(mkdtempSync(join(tmpdir(), "tsd-digest-")), "file.bin");
  writeFileSync(path, data);
  expect(await digestFile(path)).toBe(createHash("sha256").update(data).digest("hex"));
});

test("digestStream hashes chunk by chunk, with progress", async () => {
  // 64 MB produced lazily, chunk by chunk.
  const chunk = randomBytes(1 << 20);
  const expected = createHash("sha256");
  for (let i = 0; i < 64; i++) expected.update(chunk);
  async function* source() {
    for (let i = 0; i < 64; i++) yield chunk;
  }
  const seen: number[] = [];
  expect(await digestStream(source(), "sha256", (n) => seen.push(n))).toBe(expected.digest("hex"));
  expect(seen).toEqual(Array.from({ length: 64 }, (_, i) => (i + 1) << 20));
  expect(await digestStream(Readable.from([]))).toBe(createHash("sha256").digest("hex"));
});
