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
 * CLI suites read a real chain node. The facts hold for one registry and one root: asked
 * about any other, it answers as a chain would (nothing there).
 */
export function memoryChain(facts: ChainFacts, at: { registry: string; root: string }): ChainReader {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  return {
    chainId: async () => BigInt(facts.chainId),
    anchorOf: async (registry, root) =>
      same(registry, at.registry) && same(root, at.root)
        ? {
            timestamp: BigInt(facts.anchorOf.timestamp),
            blockNumber: BigInt(facts.anchorOf.blockNumber),
            treeSize: BigInt(facts.anchorOf.treeSize),
            batch: BigInt(facts.anchorOf.batch),
          }
        : { timestamp: 0n, blockNumber: 0n, treeSize: 0n, batch: 0n },
    block: async (n) =>
      facts.block && facts.block.number === n
        ? { hash: facts.block.hash, timestamp: BigInt(facts.block.timestamp) }
        : null,
    certifier: async (registry, signer) =>
      same(registry, at.registry) && same(signer, facts.certifier.address)
        ? { since: BigInt(facts.certifier.since), until: BigInt(facts.certifier.until) }
        : { since: 0n, until: 0n },
  };
}
