import { Contract, JsonRpcProvider, type ContractRunner } from "ethers";
import type { ChainReader } from "../core";
import { REGISTRY_ABI } from "./abi";

/** A JSON-RPC provider that never silently switches networks and polls at a steady pace. */
export function createProvider(rpcUrl: string, pollingIntervalMs = 500): JsonRpcProvider {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
  provider.pollingInterval = pollingIntervalMs;
  return provider;
}

/**
 * The core's ChainReader over any EVM JSON-RPC node. The chain id is asked of the node on
 * every verification, never assumed: a node of another chain must be refused.
 */
export class EthersChainReader implements ChainReader {
  constructor(private readonly provider: JsonRpcProvider) {}

  async chainId(): Promise<bigint> {
    return BigInt(await this.provider.send("eth_chainId", []));
  }

  async anchorOf(registry: string, root: string) {
    // No contract at the address means no anchor there, not a broken node.
    if ((await this.provider.getCode(registry)) === "0x") {
      return { timestamp: 0n, blockNumber: 0n, treeSize: 0n, batch: 0n };
    }
    const [timestamp, blockNumber, treeSize, batch] = (await registryAt(registry, this.provider).getFunction(
      "anchorOf",
    )(root)) as [bigint, bigint, bigint, bigint];
    return { timestamp, blockNumber, treeSize, batch };
  }

  async block(blockNumber: number) {
    const block = await this.provider.getBlock(blockNumber);
    return block?.hash ? { hash: block.hash, timestamp: BigInt(block.timestamp) } : null;
  }

  async certifier(registry: string, signer: string) {
    if ((await this.provider.getCode(registry)) === "0x") return { since: 0n, until: 0n };
    const [since, until] = (await registryAt(registry, this.provider).getFunction("certifier")(signer)) as [
      bigint,
      bigint,
    ];
    return { since, until };
  }
}

/** The registry contract at `address`, for reads (a provider) or writes (a signer). */
export function registryAt(address: string, runner: ContractRunner): Contract {
  return new Contract(address, REGISTRY_ABI, runner);
}
