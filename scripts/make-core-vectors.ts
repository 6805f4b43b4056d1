// Writes the project's frozen protocol vectors under test/vectors/. Run once per protocol
// version (`npx tsx scripts/make-core-vectors.ts`); the files are committed and the tests
// check today's code against them, so the format cannot drift silently. Never regenerate to
// make a failing test pass: a difference means the protocol changed.
import { join } from "node:path";
import {
  MerkleTree,
  canonicalRecord,
  createDepositRecord,
  recordLeafHash,
  to0xHex,
  type DepositRecord,
} from "../services/core";
import { certifiedVector, labelledSeeds, writeVector } from "./vectors";

const OUT = join(__dirname, "..", "test", "vectors");
const { seed, uuid } = labelledSeeds("tsd vector");
const record = (i: number, prev?: string): DepositRecord =>
  createDepositRecord({
    id: uuid(`id ${i}`),
    depositor: i % 2 === 0 ? "uscc:91310115MA1K4XXXXX" : "tenant:acme-robotics",
    digest: seed(`digest ${i}`),
    salt: seed(`salt ${i}`),
    receivedAt: 1_764_000_000_000 + i * 1_000,
    ...(prev === undefined ? {} : { prev }),
  });
const write = (name: string, value: unknown) => writeVector(join(OUT, name), value);

async function main(): Promise<void> {
  const records = [0, 1, 2, 3, 4, 5, 6].map((i) => (i === 3 ? record(i, uuid("id 0")) : record(i)));
  write("record.json", {
    description:
      "Deposit records v1 (DESIGN section 3): JCS text and leaf hash. Made by scripts/make-core-vectors.ts.",
    cases: records
      .slice(0, 4)
      .map((r) => ({ record: r, jcs: canonicalRecord(r), leafHash: to0xHex(recordLeafHash(r)) })),
  });

  const leaves = records.map(recordLeafHash);
  const tree = MerkleTree.fromLeafHashes(leaves);
  write("batch.json", {
    description:
      "A batch of 7 records (not a power of two): RFC 9162 root and every audit path. Made by scripts/make-core-vectors.ts.",
    records,
    leafHashes: leaves.map(to0xHex),
    root: to0xHex(tree.root),
    auditPaths: leaves.map((_, i) => tree.auditPath(i).map(to0xHex)),
  });

  write("certificate.json", {
    description:
      "A certificate v1 (DESIGN section 7) and the chain state under which it is VALID. The certifier key is a public test key. Made by scripts/make-core-vectors.ts.",
    ...(await certifiedVector({
      records,
      leafIndex: 3,
      seed,
      batch: 17,
      txLabel: "tx",
      block: { number: 42, label: "block 42", timestamp: 1_764_000_060 },
      issuedAt: 1_764_000_075,
      certifierSince: 1_763_990_000,
    })),
  });
}

void main();
