import { randomBytes } from "node:crypto";
import { Wallet } from "ethers";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  createDepositRecord,
  recordLeafHash,
  signAttestation,
  type Certificate,
} from "../../services/core";

/**
 * A well-formed certificate that names `registry` on `chainId`, signed by a key of its own:
 * it passes every check that needs no chain, so a verifier must read the chain (an absent
 * anchor, never cached) to call it NOT_ANCHORED. What a verify flood can send cheaply.
 */
export async function selfSignedCertificate(chainId: number, registry: string): Promise<Certificate> {
  const deposit = createDepositRecord({
    depositor: "tenant:forger",
    digest: randomBytes(32).toString("hex"),
    receivedAt: 1_764_000_000_000,
  });
  const tree = MerkleTree.fromLeafHashes([recordLeafHash(deposit)]);
  const hex = (n: number) => `0x${randomBytes(n).toString("hex")}`;
  const anchor = {
    chainId,
    registry,
    root: `0x${Buffer.from(tree.root).toString("hex")}`,
    batch: 1,
    txHash: hex(32),
    blockNumber: 1,
    blockHash: hex(32),
    blockTimestamp: 1_764_000_060,
  };
  const typedData = attestationTypedData(anchor, 1, anchor.blockTimestamp);
  const attestation = { ...(await signAttestation(Wallet.createRandom(), typedData)), typedData };
  return buildCertificate({ deposit, leafIndex: 0, treeSize: 1, auditPath: [], anchor, attestation });
}
