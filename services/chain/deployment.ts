import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  ContractFactory,
  getAddress,
  keccak256,
  type InterfaceAbi,
  type JsonRpcProvider,
  type Wallet,
} from "ethers";
import type { Logger } from "pino";
import { registryAt } from "./reader";

/** DATA_DIR/deployment.json: which registry on which chain this installation uses. */
export interface Deployment {
  chainId: number;
  registry: string;
  rpcUrl: string;
  deployedAt: string;
  /**
   * keccak256 of the registry's runtime code as first seen (recorded when deploying, filled in
   * on the first start of an older file): every start checks that the node still serves it.
   */
  registryCodeHash?: string;
}

/** Seconds a new default admin must wait before accepting the role (OpenZeppelin's rules). */
const ADMIN_TRANSFER_DELAY_S = 2 * 24 * 3600;

function deploymentFile(dataDir: string): string {
  return join(dataDir, "deployment.json");
}

/** The recorded deployment, or undefined when there is none yet. */
export function readDeployment(dataDir: string): Deployment | undefined {
  const file = deploymentFile(dataDir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as Deployment;
}

/** Owner-only (0600): `rpcUrl` may carry the node provider's API key. */
export function writeDeployment(dataDir: string, deployment: Deployment): void {
  mkdirSync(dataDir, { recursive: true });
  const file = deploymentFile(dataDir);
  // A temporary file of this process's own: several processes may fill in the same file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(deployment, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // (a leftover file keeps its mode through writeFileSync)
  renameSync(tmp, file);
}

/** keccak256 of the code at `address` ("0x" hashed when there is none). */
export async function codeHashAt(provider: JsonRpcProvider, address: string): Promise<string> {
  return keccak256(await provider.getCode(address));
}

/**
 * Refuses a node or registry other than the one deployment.json records: another chain id, or
 * other runtime code at the recorded registry (another chain behind the same id, a chain reset
 * with something else deployed at the address). The code is compared when `found` has it and
 * names the recorded registry; a record without a code hash passes (it gets one). Throws with a
 * message that names the file and the setting to look at.
 */
export function checkRecordedDeployment(
  dataDir: string,
  recorded: Deployment | undefined,
  found: { chainId: number; registry?: string; registryCodeHash?: string },
): void {
  if (!recorded) return;
  const file = deploymentFile(dataDir);
  if (recorded.chainId !== found.chainId) {
    throw new Error(
      `${file} records chain ${recorded.chainId}, but the chain node (CHAIN_RPC_URL, or the local chain) ` +
        `serves chain ${found.chainId}. Point CHAIN_RPC_URL at a node of chain ${recorded.chainId}, or move ` +
        `${file} away to set up a new installation on chain ${found.chainId}.`,
    );
  }
  if (
    recorded.registryCodeHash !== undefined &&
    found.registry !== undefined &&
    found.registryCodeHash !== undefined &&
    getAddress(recorded.registry) === getAddress(found.registry) &&
    recorded.registryCodeHash !== found.registryCodeHash
  ) {
    throw new Error(
      `the registry ${found.registry} on chain ${found.chainId} has other code than ${file} records ` +
        `(registryCodeHash ${recorded.registryCodeHash}, found ${found.registryCodeHash}): CHAIN_RPC_URL ` +
        "points at another chain with the same id, or the chain was reset and something else deployed there. " +
        `Point CHAIN_RPC_URL at the chain the registry was deployed on, or move ${file} away to start an empty installation.`,
    );
  }
}

/** The compiled registry (run `npm run build:contracts` first). */
export function registryArtifact(): { abi: InterfaceAbi; bytecode: string } {
  const file = join(
    __dirname,
    "..",
    "..",
    "artifacts",
    "contracts",
    "EvidenceRegistry.sol",
    "EvidenceRegistry.json",
  );
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build:contracts\``);
  return JSON.parse(readFileSync(file, "utf8")) as { abi: InterfaceAbi; bytecode: string };
}

export interface EnsureDeploymentOptions {
  provider: JsonRpcProvider;
  rpcUrl: string;
  dataDir: string;
  /** REGISTRY_ADDRESS, when the operator names the registry. */
  registryAddress?: string;
  /** Needed to deploy, grant the anchorer role or register the certifier; not otherwise. */
  admin?: Wallet;
  anchorer: string;
  certifier: string;
  /** A local dev chain: fund the service's keys with the node's own RPC. */
  local: boolean;
  log: Logger;
}

/**
 * Makes sure a registry exists and is set up for this installation: deploys it once, then
 * re-uses it; grants ANCHORER_ROLE to the anchoring key and registers the certifier key when
 * they lack them. Writes DATA_DIR/deployment.json. Idempotent.
 */
export async function ensureDeployment(o: EnsureDeploymentOptions): Promise<Deployment> {
  const chainId = Number(BigInt(await o.provider.send("eth_chainId", [])));
  const recorded = readDeployment(o.dataDir);
  const needAdmin = (what: string): Wallet => {
    if (!o.admin)
      throw new Error(`${what} needs the registry admin key (ADMIN_PRIVATE_KEY or DATA_DIR/keys/admin.key)`);
    return o.admin.connect(o.provider) as Wallet;
  };
  if (o.local) {
    for (const address of [o.admin?.address, o.anchorer].filter((a): a is string => a !== undefined)) {
      await o.provider.send("anvil_setBalance", [address, "0x56BC75E2D63100000"]); // 100 ETH
    }
  }

  // Another chain than the one recorded is refused whatever else is configured.
  checkRecordedDeployment(o.dataDir, recorded, { chainId });

  let deployment: Deployment;
  if (o.registryAddress) {
    deployment = {
      chainId,
      registry: getAddress(o.registryAddress),
      rpcUrl: o.rpcUrl,
      deployedAt: recorded?.deployedAt ?? new Date().toISOString(),
    };
  } else if (recorded && recorded.chainId === chainId) {
    deployment = { ...recorded, rpcUrl: o.rpcUrl };
  } else {
    const admin = needAdmin("deploying the registry");
    const { abi, bytecode } = registryArtifact();
    const contract = await new ContractFactory(abi, bytecode, admin).deploy(
      ADMIN_TRANSFER_DELAY_S,
      admin.address,
    );
    await contract.waitForDeployment();
    deployment = {
      chainId,
      registry: getAddress(await contract.getAddress()),
      rpcUrl: o.rpcUrl,
      deployedAt: new Date().toISOString(),
    };
    o.log.info({ registry: deployment.registry, chainId }, "registry deployed");
  }

  if ((await o.provider.getCode(deployment.registry)) === "0x") {
    throw new Error(
      `no contract at ${deployment.registry} on chain ${chainId}: the chain lost its state. ` +
        `Restore the chain's state file, or remove ${o.dataDir} to start an empty installation.`,
    );
  }
  const registryCodeHash = await codeHashAt(o.provider, deployment.registry);
  checkRecordedDeployment(o.dataDir, recorded, { chainId, registry: deployment.registry, registryCodeHash });
  deployment = { ...deployment, registryCodeHash };

  const registry = registryAt(deployment.registry, o.provider);
  const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
  if (!((await registry.getFunction("hasRole")(role, o.anchorer)) as boolean)) {
    const admin = needAdmin("granting ANCHORER_ROLE");
    await (await registryAt(deployment.registry, admin).getFunction("grantRole")(role, o.anchorer)).wait();
    o.log.info({ anchorer: o.anchorer }, "anchoring key granted ANCHORER_ROLE");
  }
  const [since, until] = (await registry.getFunction("certifier")(o.certifier)) as [bigint, bigint];
  if (until !== 0n) {
    throw new Error(`certifier key ${o.certifier} was retired on chain; configure a new certifier key`);
  }
  if (since === 0n) {
    const admin = needAdmin("registering the certifier key");
    await (await registryAt(deployment.registry, admin).getFunction("addCertifier")(o.certifier)).wait();
    o.log.info({ certifier: o.certifier }, "certifier key registered");
  }

  writeDeployment(o.dataDir, deployment);
  return deployment;
}
