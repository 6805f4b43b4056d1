// Writes the project's frozen protocol vectors under test/vectors/. Run once per protocol
// version (`npx tsx scripts/make-core-vectors.ts`); the files are committed and the tests
// check today's code against them, so the format cannot drift silently. Never regenerate to
// make a failing test pass: a difference means the protocol changed.
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
  type DepositRecord,
} from "../services/core";

const OUT = join(__dirname, "..", "test", "vectors");
const seed = (label: string) => keccak256(toUtf8Bytes(`tsd vector ${label}`)).slice(2);
const uuid = (label: string) => {
  const h = seed(label);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const record = (i: number, prev?: string): DepositRecord =>
  createDepositRecord({
    id: uuid(`id ${i}`),
    depositor: i % 2 === 0 ? "uscc:91310115MA1K4XXXXX" : "tenant:acme-robotics",
    digest: seed(`digest ${i}`),
    salt: seed(`salt ${i}`),
    receivedAt: 1_764_000_000_000 + i * 1_000,
    ...(prev === undefined ? {} : { prev }),
  });
const write = (name: string, value: unknown) =>
  writeFileSync(join(OUT, name), `${JSON.stringify(value, null, 2)}\n`);

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

  const certifierKey = `0x${seed("certifier key (test only)")}`;
  const certifier = new Wallet(certifierKey);
  const anchor = {
    chainId: 31337,
    registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    root: to0xHex(tree.root),
    batch: 17,
    txHash: `0x${seed("tx")}`,
    blockNumber: 42,
    blockHash: `0x${seed("block 42")}`,
    blockTimestamp: 1_764_000_060,
  };
  const typedData = attestationTypedData(anchor, tree.size, 1_764_000_075);
  const signed = await signAttestation(certifier, typedData);
  const leafIndex = 3;
  const certificate = buildCertificate({
    deposit: records[leafIndex] as DepositRecord,
    leafIndex,
    treeSize: tree.size,
    auditPath: tree.auditPath(leafIndex),
    anchor,
    attestation: { ...signed, typedData },
  });
  write("certificate.json", {
    description:
      "A certificate v1 (DESIGN section 7) and the chain state under which it is VALID. The certifier key is a public test key. Made by scripts/make-core-vectors.ts.",
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
      certifier: { address: certifier.address, since: 1_763_990_000, until: 0 },
    },
    certificate,
  });
}

void main();
