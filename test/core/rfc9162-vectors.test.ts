import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { verifyInclusion } from "../../services/core";

// The public RFC 9162 inclusion vectors of transparency-dev/merkle: the project's shared set
// (../shared/vectors), copied into test/vectors so a clean clone needs nothing beside it.
const ROOT = join(__dirname, "..", "vectors", "rfc9162-inclusion");
const SHARED = join(__dirname, "..", "..", "..", "shared", "vectors", "rfc9162-inclusion");

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

const vectors = files(ROOT).map((path) => ({
  name: relative(ROOT, path),
  v: JSON.parse(readFileSync(path, "utf8")) as Vector,
}));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

test("the copy is the shared set, file for file (when the shared folder is here)", () => {
  if (!existsSync(SHARED)) return;
  const read = (root: string) =>
    files(root)
      .map((path) => [relative(root, path), readFileSync(path, "utf8")])
      .sort(([a], [b]) => (a! < b! ? -1 : 1));
  expect(read(ROOT)).toEqual(read(SHARED));
});

test("the vector set is all there", () => {
  expect(vectors.length).toBe(53);
  expect(vectors.filter(({ v }) => !v.wantErr).length).toBeGreaterThan(3);
});

test.each(vectors)("$name", ({ v }) => {
  const ok = verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
  expect(ok).toBe(!v.wantErr);
});
