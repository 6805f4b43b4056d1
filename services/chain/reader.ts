import { Contract, JsonRpcProvider, Network, type ContractRunner } from "ethers";
import type { ChainReader } from "../core";
import { REGISTRY_ABI } from "./abi";

/**
 * A JSON-RPC provider for a chain whose id is known. ethers then never probes the network on
 * its own (it would retry forever against a node that is down); the chain id the node
 * really serves is still asked where it matters (EthersChainReader.chainId).
 */
export function createProvider(rpcUrl: string, chainId: number, pollingIntervalMs = 500): JsonRpcProvider {
  const provider = new JsonRpcProvider(rpcUrl, Network.from(chainId), {
    staticNetwork: Network.from(chainId),
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
  provider.pollingInterval = pollingIntervalMs;
  return provider;
}

/** Asks the node at `rpcUrl` for its chain id (failing fast when it is down), then createProvider. */
export async function openProvider(rpcUrl: string, pollingIntervalMs = 500): Promise<JsonRpcProvider> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: string };
  if (typeof body.result !== "string") throw new Error(`${rpcUrl} did not answer eth_chainId`);
  return createProvider(rpcUrl, Number(BigInt(body.result)), pollingIntervalMs);
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
