import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ContractFactory, getAddress, type InterfaceAbi, type JsonRpcProvider, type Wallet } from "ethers";
import type { Logger } from "pino";
import { registryAt } from "./reader";

/** DATA_DIR/deployment.json: which registry on which chain this installation uses. */
export interface Deployment {
  chainId: number;
  registry: string;
  rpcUrl: string;
  deployedAt: string;
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

function writeDeployment(dataDir: string, deployment: Deployment): void {
  mkdirSync(dataDir, { recursive: true });
  const file = deploymentFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(deployment, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
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
    if (recorded)
      throw new Error(
        `deployment.json is for chain ${recorded.chainId}, but the node serves chain ${chainId}`,
      );
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
