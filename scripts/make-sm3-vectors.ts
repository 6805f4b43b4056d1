// Writes test/vectors/sm3.json: deposit records whose digest is an SM3 (GB/T 32905-2016), the
// file contents they were made from, their JCS and leaf hashes, and a certificate of one with
// the chain facts under which it is VALID. Run once (`npx tsx scripts/make-sm3-vectors.ts`);
// the other vector files stay as they are. Never regenerate to make a failing test pass.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet, keccak256, toUtf8Bytes } from "ethers";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  canonicalRecord,
  createDepositRecord,
  recordLeafHash,
  signAttestation,
  to0xHex,
} from "../services/core";

const OUT = join(__dirname, "..", "test", "vectors", "sm3.json");
const seed = (label: string) => keccak256(toUtf8Bytes(`tsd sm3 vector ${label}`)).slice(2);
const uuid = (label: string) => {
  const h = seed(label);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

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
  const certifierKey = `0x${seed("certifier key (test only)")}`;
  const certifier = new Wallet(certifierKey);
  const anchor = {
    chainId: 31337,
    registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    root: to0xHex(tree.root),
    batch: 23,
    txHash: `0x${seed("tx")}`,
    blockNumber: 77,
    blockHash: `0x${seed("block 77")}`,
    blockTimestamp: 1_764_100_010,
  };
  const typedData = attestationTypedData(anchor, tree.size, 1_764_100_020);
  const certificate = buildCertificate({
    deposit: records[1]!,
    leafIndex: 1,
    treeSize: tree.size,
    auditPath: tree.auditPath(1),
    anchor,
    attestation: { ...(await signAttestation(certifier, typedData)), typedData },
  });
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
    certifierPrivateKey: certifierKey,
    chain: {
      chainId: anchor.chainId,
      anchorOf: {
        timestamp: anchor.blockTimestamp,
        blockNumber: anchor.blockNumber,
        treeSize: tree.size,
        batch: anchor.batch,
      },
      block: { number: anchor.blockNumber, hash: anchor.blockHash, timestamp: anchor.blockTimestamp },
      certifier: { address: certifier.address, since: 1_764_000_000, until: 0 },
    },
    certificate,
  };
  writeFileSync(OUT, `${JSON.stringify(vectors, null, 2)}\n`);
}

void main();
