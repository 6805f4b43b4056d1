import type { ChainReader } from "../../services/core";

/** Chain facts as the frozen certificate vector states them. */
export interface ChainFacts {
  chainId: number;
  anchorOf: { timestamp: number; blockNumber: number; treeSize: number; batch: number };
  block: { number: number; hash: string; timestamp: number } | null;
  certifier: { address: string; since: number; until: number };
}

/**
 * A ChainReader over fixed facts, for unit tests of the pure verifier only; the service and
 * CLI suites read a real chain node.
 */
export function memoryChain(facts: ChainFacts): ChainReader {
  const zero = { timestamp: 0n, blockNumber: 0n, treeSize: 0n, batch: 0n };
  return {
    chainId: async () => BigInt(facts.chainId),
    anchorOf: async () => ({
      timestamp: BigInt(facts.anchorOf.timestamp),
      blockNumber: BigInt(facts.anchorOf.blockNumber),
      treeSize: BigInt(facts.anchorOf.treeSize),
      batch: BigInt(facts.anchorOf.batch),
    }),
    block: async (n) =>
      facts.block && facts.block.number === n
        ? { hash: facts.block.hash, timestamp: BigInt(facts.block.timestamp) }
        : null,
    certifier: async (_registry, signer) =>
      signer.toLowerCase() === facts.certifier.address.toLowerCase()
        ? { since: BigInt(facts.certifier.since), until: BigInt(facts.certifier.until) }
        : { since: zero.timestamp, until: zero.timestamp },
  };
}
