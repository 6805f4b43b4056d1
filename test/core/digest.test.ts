import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { digestFile, digestStream } from "../../services/core";

test("digestFile equals sha256sum of the file, with progress", async () => {
  const data = randomBytes(3 * (1 << 20) + 17);
  const path = join(mkdtempSync(join(tmpdir(), "tsd-digest-")), "file.bin");
  writeFileSync(path, data);
  const seen: number[] = [];
  const digest = await digestFile(path, (n) => seen.push(n));
  expect(digest).toBe(createHash("sha256").update(data).digest("hex"));
  expect(seen.at(-1)).toBe(data.length);
  expect(seen.length).toBeGreaterThan(1);
});

test("digestStream hashes chunk by chunk without holding the stream", async () => {
  // 64 MB produced lazily: memory stays flat because no chunk is kept.
  const chunk = randomBytes(1 << 20);
  const expected = createHash("sha256");
  for (let i = 0; i < 64; i++) expected.update(chunk);
  async function* source() {
    for (let i = 0; i < 64; i++) yield chunk;
  }
  expect(await digestStream(source())).toBe(expected.digest("hex"));
  expect(await digestStream(Readable.from([]))).toBe(createHash("sha256").digest("hex"));
});
