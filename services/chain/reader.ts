import { Contract, FetchRequest, JsonRpcProvider, Network, type ContractRunner } from "ethers";
import type { ChainReader } from "../core";
import { REGISTRY_ABI } from "./abi";

/** How long a batching provider gathers calls into one JSON-RPC batch request, ms: 0 is one turn of the event loop. */
export const BATCH_STALL_MS = 0;

/**
 * A JSON-RPC provider for a chain whose id is known. ethers then never probes the network on
 * its own (it would retry forever against a node that is down); the chain id the node
 * really serves is still asked where it matters (EthersChainReader.chainId). With `batch`, the
 * calls made in one turn of the event loop go to the node as one JSON-RPC batch (many verifications
 * reading at once); without, each is its own request.
 */
export function createProvider(
  rpcUrl: string,
  chainId: number,
  pollingIntervalMs = 500,
  timeoutMs = 30_000,
  batch = false,
): JsonRpcProvider {
  // ethers waits five minutes for an answer by default; a verifier should say sooner that the
  // node cannot be read.
  const request = new FetchRequest(rpcUrl);
  request.timeout = timeoutMs;
  const provider = new JsonRpcProvider(request, Network.from(chainId), {
    staticNetwork: Network.from(chainId),
    batchMaxCount: batch ? 100 : 1,
    batchStallTime: batch ? BATCH_STALL_MS : 10,
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
    const [timestamp, blockNumber, treeSize, batch] = (await this.ifCode(registry, () =>
      registryAt(registry, this.provider).getFunction("anchorOf")(root),
    )) ?? [0n, 0n, 0n, 0n];
    return { timestamp, blockNumber, treeSize, batch } as {
      timestamp: bigint;
      blockNumber: bigint;
      treeSize: bigint;
      batch: bigint;
    };
  }

  /** The node's latest block number. */
  async blockNumber(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  async block(blockNumber: number) {
    const block = await this.provider.getBlock(blockNumber);
    return block?.hash ? { hash: block.hash, timestamp: BigInt(block.timestamp) } : null;
  }

  async certifier(registry: string, signer: string) {
    const [since, until] = (await this.ifCode(registry, () =>
      registryAt(registry, this.provider).getFunction("certifier")(signer),
    )) ?? [0n, 0n];
    return { since, until } as { since: bigint; until: bigint };
  }

  /**
   * `call`'s answer, or undefined when `address` holds no code. Both are asked at once (one
   * JSON-RPC batch on a batching provider); the call's answer, or its error, counts only if
   * there is code.
   */
  private async ifCode(address: string, call: () => Promise<unknown>): Promise<bigint[] | undefined> {
    const [code, answer] = await Promise.all([
      this.provider.getCode(address),
      call().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    ]);
    if (code === "0x") return undefined;
    if ("error" in answer) throw answer.error;
    return answer.value as bigint[];
  }
}

/**
 * The canonical hash of each block in `numbers` (null for a block the node does not have), in
 * JSON-RPC batches of `chunk` requests: re-checking a day of anchors costs a few round trips.
 */
export async function blockHashes(
  provider: JsonRpcProvider,
  numbers: readonly number[],
  chunk = 200,
): Promise<Map<number, string | null>> {
  const hashes = new Map<number, string | null>();
  for (let i = 0; i < numbers.length; i += chunk) {
    const part = numbers.slice(i, i + chunk);
    const answers = await provider._send(
      part.map((n, id) => ({
        jsonrpc: "2.0" as const,
        id,
        method: "eth_getBlockByNumber",
        params: [`0x${n.toString(16)}`, false],
      })),
    );
    for (const answer of answers) {
      if ("error" in answer) {
        throw new Error(`eth_getBlockByNumber failed: ${JSON.stringify(answer.error)}`);
      }
      const block = answer.result as { hash?: string } | null;
      hashes.set(part[answer.id] as number, block?.hash?.toLowerCase() ?? null);
    }
  }
  return hashes;
}

/** The registry contract at `address`, for reads (a provider) or writes (a signer). */
export function registryAt(address: string, runner: ContractRunner): Contract {
  return new Contract(address, REGISTRY_ABI, runner);
}
