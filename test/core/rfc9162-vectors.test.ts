import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { verifyInclusion } from "../../services/core";

// The public RFC 9162 inclusion vectors of transparency-dev/merkle, copied verbatim into
// test/vectors (SOURCE.md there) and pinned below by a digest of every file.
const ROOT = join(__dirname, "..", "vectors", "rfc9162-inclusion");
const COPY_SHA256 = "c5a0af9d70f357aaeb5eeb0d74e74b3ca7890b0c0e89c31a9aa24a6bd2ec7eca";

interface Vector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith(".json") ? [path] : [];
  });
}

/** Every vector file under `root`: its path from there and its text, in path order. */
const read = (root: string) =>
  files(root)
    .map((path) => [relative(root, path), readFileSync(path, "utf8")] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1));

// The committed copy is what runs. Missing, the suite fails: never skipped, never empty.
const committed = existsSync(ROOT) ? read(ROOT) : [];
const vectors = committed.map(([name, text]) => ({ name, v: JSON.parse(text) as Vector }));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

test("the committed vector set is all there, as copied from the shared set", () => {
  expect(existsSync(ROOT)).toBe(true);
  expect(vectors.length).toBe(53);
  expect(vectors.filter(({ v }) => !v.wantErr).length).toBeGreaterThan(3);
  // SHA-256 over every file's path and text: the copy cannot change unnoticed
  const digest = createHash("sha256");
  for (const [name, text] of committed) digest.update(`${name}\0${text}\0`);
  expect(digest.digest("hex")).toBe(COPY_SHA256);
});

test.each(vectors.length > 0 ? vectors : [{ name: "(no vectors)", v: null as unknown as Vector }])(
  "$name",
  ({ v }) => {
    expect(v).not.toBeNull();
    const ok = verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
    expect(ok).toBe(!v.wantErr);
  },
);
