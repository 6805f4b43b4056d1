// What the frozen-vector scripts share: labelled seeds (every id, salt and key is keccak of a
// fixed label, so a rerun writes the same bytes), a certificate of one record of a batch with
// the chain facts under which it is VALID, and the file format.
import { writeFileSync } from "node:fs";
import { Wallet, keccak256, toUtf8Bytes } from "ethers";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  recordLeafHash,
  signAttestation,
  to0xHex,
  type DepositRecord,
} from "../services/core";

/** `seed(label)`: 32 bytes of hex from `${prefix} ${label}`; `uuid(label)`: a v4-shaped id from it. */
export function labelledSeeds(prefix: string) {
  const seed = (label: string) => keccak256(toUtf8Bytes(`${prefix} ${label}`)).slice(2);
  const uuid = (label: string) => {
    const h = seed(label);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  return { seed, uuid };
}

export interface CertifiedVectorOptions {
  records: DepositRecord[];
  /** The record certified. */
  leafIndex: number;
  seed: (label: string) => string;
  batch: number;
  /** Labels of the seeds of the transaction and block hashes. */
  txLabel: string;
  block: { number: number; label: string; timestamp: number };
  /** The attestation's issuedAt, and since when its (test) certifier key is active. */
  issuedAt: number;
  certifierSince: number;
}

/**
 * A certificate of `records[leafIndex]` in the batch of `records`, signed by a public test key,
 * with the chain state a verifier must see for it to be VALID: the fields
 * `certifierPrivateKey`, `chain` and `certificate` of a vector file, in that order.
 */
export async function certifiedVector(o: CertifiedVectorOptions) {
  const tree = MerkleTree.fromLeafHashes(o.records.map(recordLeafHash));
  const certifierKey = `0x${o.seed("certifier key (test only)")}`;
  const certifier = new Wallet(certifierKey);
  const anchor = {
    chainId: 31337,
    registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    root: to0xHex(tree.root),
    batch: o.batch,
    txHash: `0x${o.seed(o.txLabel)}`,
    blockNumber: o.block.number,
    blockHash: `0x${o.seed(o.block.label)}`,
    blockTimestamp: o.block.timestamp,
  };
  const typedData = attestationTypedData(anchor, tree.size, o.issuedAt);
  const certificate = buildCertificate({
    deposit: o.records[o.leafIndex] as DepositRecord,
    leafIndex: o.leafIndex,
    treeSize: tree.size,
    auditPath: tree.auditPath(o.leafIndex),
    anchor,
    attestation: { ...(await signAttestation(certifier, typedData)), typedData },
  });
  return {
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
      certifier: { address: certifier.address, since: o.certifierSince, until: 0 },
    },
    certificate,
  };
}

/** Writes a vector file: JSON, two-space indent, a final newline. */
export function writeVector(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
