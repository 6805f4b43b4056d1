// Writes test/vectors/sm3.json: deposit records whose digest is an SM3 (GB/T 32905-2016), the
// file contents they were made from, their JCS and leaf hashes, and a certificate of one with
// the chain facts under which it is VALID. Run once (`npx tsx scripts/make-sm3-vectors.ts`);
// the other vector files stay as they are. Never regenerate to make a failing test pass.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { MerkleTree, canonicalRecord, createDepositRecord, recordLeafHash, to0xHex } from "../services/core";
import { certifiedVector, labelledSeeds, writeVector } from "./vectors";

const OUT = join(__dirname, "..", "test", "vectors", "sm3.json");
const { seed, uuid } = labelledSeeds("tsd sm3 vector");

async function main(): Promise<void> {
  // "abc" is GB/T 32905-2016's own example (its digest is printed in the standard, appendix A).
  const contents = ["abc", "配方：甲 30%，乙 70%\n", ""];
  const files = contents.map((content) => ({
    content,
    sm3: createHash("sm3").update(content, "utf8").digest("hex"),
  }));
  const records = files.map((f, i) =>
    createDepositRecord({
      id: uuid(`id ${i}`),
      depositor: "uscc:91310115MA1K4XXX92",
      digestAlg: "sm3",
      digest: f.sm3,
      salt: seed(`salt ${i}`),
      receivedAt: 1_764_100_000_000 + i * 1000,
    }),
  );
  const tree = MerkleTree.fromLeafHashes(records.map(recordLeafHash));
  const vectors = {
    description:
      "SM3 deposits (DESIGN section 3): file contents (UTF-8), their SM3, the records, JCS and leaf hashes, and a certificate with the chain facts under which it is VALID. The certifier key is a public test key. Made by scripts/make-sm3-vectors.ts.",
    files,
    records: records.map((r) => ({
      record: r,
      jcs: canonicalRecord(r),
      leafHash: to0xHex(recordLeafHash(r)),
    })),
    root: to0xHex(tree.root),
    ...(await certifiedVector({
      records,
      leafIndex: 1,
      seed,
      batch: 23,
      txLabel: "tx",
      block: { number: 77, label: "block 77", timestamp: 1_764_100_010 },
      issuedAt: 1_764_100_020,
      certifierSince: 1_764_000_000,
    })),
  };
  writeVector(OUT, vectors);
}

void main();
