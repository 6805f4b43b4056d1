import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import {
  Contract,
  Wallet,
  formatEther,
  getAddress,
  isAddress,
  parseEther,
  type ContractTransactionResponse,
  type JsonRpcProvider,
} from "ethers";
import { ensureDeployment, readDeployment, type Deployment } from "../chain/deployment";
import { REGISTRY_ABI } from "../chain/abi";
import { createProvider, openProvider, registryAt } from "../chain/reader";
import { loadConfig, type Config } from "../config";
import { inTransaction, type Db } from "../db/pool";
import { keyInUse, switchKeyInUse, type RotatableRole } from "../keys/in-use";
import {
  keyFile,
  loadKey,
  readPrivateKeyFile,
  requireKey,
  writeKeyFile,
  type KeySources,
} from "../keys/keys";
import { createLogger } from "../log";
import { keySources, resolveDeployment } from "../runtime";
import { audited, recordDone, withDatabase, type AdminIo } from "./admin";

// `tsd admin deploy | certifier … | anchorer …`: what an operator does on the chain with the
// registry's admin key. Every change is confirmed (CHAIN_CONFIRMATIONS) before its audit row
// is written; the registry's own events record it on chain as well.

const ROLES_ABI = [...REGISTRY_ABI, "function revokeRole(bytes32 role, address account)"];

interface ChainSession {
  config: Config;
  sources: KeySources;
  deployment: Deployment;
  provider: JsonRpcProvider;
  /** The local dev chain (CHAIN_RPC_URL unset): keys can be funded with its own RPC. */
  local: boolean;
}

/** The configured chain and registry (as the workers find them), for the length of `fn`. */
async function withChain<T>(fn: (s: ChainSession) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const deployment = await resolveDeployment(config);
  const provider = createProvider(deployment.rpcUrl, deployment.chainId, 250);
  try {
    return await fn({
      config,
      sources: keySources(config, false),
      deployment,
      provider,
      local: config.CHAIN_RPC_URL === undefined,
    });
  } finally {
    provider.destroy();
  }
}

/** The registry admin's key, which every change on chain needs: never generated. */
function adminKey(s: ChainSession): Wallet {
  return requireKey(s.sources, "admin").connect(s.provider) as Wallet;
}

/** Sends a transaction and waits for CHAIN_CONFIRMATIONS; returns its hash. */
async function confirmed(s: ChainSession, sent: Promise<ContractTransactionResponse>): Promise<string> {
  const tx = await sent;
  const receipt = await tx.wait(s.config.CHAIN_CONFIRMATIONS);
  if (!receipt || receipt.status !== 1) throw new Error(`transaction ${tx.hash} failed`);
  return tx.hash;
}

async function certifierPeriod(s: ChainSession, address: string): Promise<{ since: bigint; until: bigint }> {
  const [since, until] = (await registryAt(s.deployment.registry, s.provider).getFunction("certifier")(
    address,
  )) as [bigint, bigint];
  return { since, until };
}

/** The new key of a rotation: generated, or read from the operator's file. */
function newKey(o: { generate?: boolean; keyFile?: string }): Wallet {
  if (o.keyFile) return readPrivateKeyFile(o.keyFile);
  if (o.generate) return new Wallet(Wallet.createRandom().privateKey);
  throw new Error("give the new key with --key-file FILE, or ask for one with --generate");
}

/** The key the workers sign with now: the one an operator switched to, else the configured one. */
async function keyNowInUse(s: ChainSession, role: RotatableRole): Promise<string> {
  const inUse = await withDatabase((db) => keyInUse(db, role));
  const address = inUse ?? loadKey(s.sources, role)?.address;
  if (!address) {
    throw new Error(
      `no ${role} key is configured here: set ${role.toUpperCase()}_PRIVATE_KEY or put it in ${keyFile(s.sources.dataDir, role)}`,
    );
  }
  return getAddress(address);
}

/**
 * Writes the new key where the workers read it (DATA_DIR/keys/<role>.key), keeping the one it
 * replaces beside it as <role>.previous.key until the rotation is over: a worker still on the
 * old key finds it until the switch.
 */
function installKey(s: ChainSession, role: RotatableRole, key: Wallet): void {
  const file = keyFile(s.sources.dataDir, role);
  const current = loadKey({ ...s.sources, env: {} }, role);
  if (current?.address === key.address) return; // a rotation run again: installed already
  if (existsSync(file)) copyFileSync(file, previousKeyFile(s, role));
  writeKeyFile(s.sources.dataDir, role, key.privateKey);
}

/**
 * The key a rotation replaces, pinned as the one in use before anything changes: should the
 * rotation stop after the new key file is written, running it again still knows the old key
 * (the configured one would now read as the new file).
 */
async function rotationStart(s: ChainSession, role: RotatableRole, next: Wallet): Promise<string> {
  const old = await keyNowInUse(s, role);
  if (next.address === old) {
    throw new Error(
      `${old} is the ${role} key in use already (if a rotation to it stopped after its switch, finish it ` +
        `with \`tsd admin ${role} ${role === "certifier" ? "retire" : "revoke"} <old address>\`)`,
    );
  }
  await withDatabase((db) =>
    inTransaction(db, async (client) => {
      if ((await keyInUse(client, role)) === null) await switchKeyInUse(client, role, old);
    }),
  );
  return old;
}

function previousKeyFile(s: ChainSession, role: RotatableRole): string {
  return join(s.sources.dataDir, "keys", `${role}.previous.key`);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits until a certifier retired now cannot be later than anything it signed: until the
 * chain's latest block and this machine's clock have both passed the latest `issuedAt` it
 * recorded (the retiring block's time is then later still, as block times only grow).
 */
async function waitPastLastSignature(s: ChainSession, db: Db, certifier: string): Promise<number | null> {
  const { rows } = await db.query<{ last: number | null }>(
    "SELECT max(issued_at) AS last FROM attestations WHERE lower(signer) = lower($1)",
    [certifier],
  );
  const last = rows[0]?.last ?? null;
  if (last === null) return null;
  for (;;) {
    const block = await s.provider.getBlock("latest");
    const chainPast = s.local || (block !== null && block.timestamp >= last);
    if (chainPast && Math.floor(Date.now() / 1000) > last) return last;
    await sleep(250);
  }
}

/** Retires a certifier on chain after its last signature, then checks that nothing it signed became invalid. */
async function retireCertifier(
  s: ChainSession,
  address: string,
  admin: Wallet,
): Promise<{ tx: string; until: number }> {
  const last = await withDatabase((db) => waitPastLastSignature(s, db, address));
  const tx = await confirmed(
    s,
    registryAt(s.deployment.registry, admin).getFunction("retireCertifier")(address),
  );
  const { until } = await certifierPeriod(s, address);
  if (last !== null && BigInt(last) >= until) {
    throw new Error(
      `certifier ${address} was retired at ${until}, not after its last attestation (issued at ${last}); ` +
        "the chain's clock runs behind this machine's",
    );
  }
  await recordDone("certifier.retire", address, { tx, until: Number(until), lastIssuedAt: last });
  return { tx, until: Number(until) };
}

export function addChainCommands(admin: Command, { out }: AdminIo): void {
  admin
    .command("deploy")
    .description(
      "deploy the registry to CHAIN_RPC_URL (or set up the one at REGISTRY_ADDRESS), grant ANCHORER_ROLE " +
        "to the anchoring key and register the certifier key, then write DATA_DIR/deployment.json. Keys " +
        "come from the environment or DATA_DIR/keys (never generated). Idempotent",
    )
    .option("--anchorer <address>", "the anchoring key's address (default: the configured anchoring key's)")
    .option("--certifier <address>", "the certifier key's address (default: the configured certifier key's)")
    .option("--json", "print the deployment as JSON")
    .action(async (o: { anchorer?: string; certifier?: string; json?: boolean }) => {
      const config = loadConfig();
      const rpcUrl = config.CHAIN_RPC_URL;
      if (rpcUrl === undefined) {
        throw new Error(
          "tsd admin deploy deploys to CHAIN_RPC_URL, which is unset (on the local chain `npm start` deploys by itself)",
        );
      }
      const sources = keySources(config, false);
      const address = (given: string | undefined, role: "anchorer" | "certifier") => {
        if (given === undefined) return requireKey(sources, role).address;
        if (!isAddress(given)) throw new Error(`--${role}: not an address: ${given}`);
        return getAddress(given);
      };
      const anchorer = address(o.anchorer, "anchorer");
      const certifier = address(o.certifier, "certifier");
      if (anchorer === certifier)
        throw new Error("the anchoring key and the certifier key must be different keys");
      const adminWallet = requireKey(sources, "admin");
      await withDatabase(async () => undefined); // the audit trail must be there before anything is sent
      const before = readDeployment(config.dataDir);
      const provider = await openProvider(rpcUrl, 250);
      try {
        const deployment = await ensureDeployment({
          provider,
          rpcUrl,
          dataDir: config.dataDir,
          ...(config.REGISTRY_ADDRESS ? { registryAddress: config.REGISTRY_ADDRESS } : {}),
          admin: adminWallet,
          anchorer,
          certifier,
          local: false,
          log: createLogger("warn", "tsd-cli"),
        });
        // Set-up transactions count once they have the confirmations anchors need.
        const start = await provider.getBlockNumber();
        while ((await provider.getBlockNumber()) < start + config.CHAIN_CONFIRMATIONS - 1) await sleep(250);
        const deployed = before?.registry !== deployment.registry;
        await recordDone("registry.deploy", deployment.registry, {
          chainId: deployment.chainId,
          deployed,
          admin: adminWallet.address,
          anchorer,
          certifier,
        });
        if (o.json) out(JSON.stringify({ ...deployment, rpcUrl: undefined, deployed, anchorer, certifier }));
        else {
          out(
            `registry   ${deployment.registry}  (chain ${deployment.chainId}${deployed ? ", deployed now" : ""})`,
          );
          out(`anchorer   ${anchorer}  (ANCHORER_ROLE)`);
          out(`certifier  ${certifier}  (registered)`);
          out(`written    ${join(config.dataDir, "deployment.json")}`);
        }
      } finally {
        provider.destroy();
      }
    });

  const certifier = admin.command("certifier").description("the keys that sign attestations");
  certifier
    .command("list")
    .description("every certifier key the registry ever had, with its active period")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) =>
      withChain(async (s) => {
        const inUse = await keyNowInUse(s, "certifier").catch(() => null);
        const addresses = (await registryAt(s.deployment.registry, s.provider).getFunction(
          "certifiers",
        )()) as string[];
        const rows = await Promise.all(
          addresses.map(async (address) => {
            const { since, until } = await certifierPeriod(s, address);
            return {
              address,
              since: Number(since),
              until: until === 0n ? null : Number(until),
              inUse: address === inUse,
            };
          }),
        );
        if (o.json) out(JSON.stringify(rows));
        else
          for (const r of rows)
            out(
              `${r.address}  since ${new Date(r.since * 1000).toISOString()}  ${
                r.until === null ? "active" : `retired ${new Date(r.until * 1000).toISOString()}`
              }${r.inUse ? "  (in use)" : ""}`,
            );
      }),
    );
  certifier
    .command("add")
    .description("register a certifier key on the registry (e.g. one kept outside this installation)")
    .argument("<address>", "the key's address")
    .action(async (address: string) =>
      withChain(async (s) => {
        if (!isAddress(address)) throw new Error(`not an address: ${address}`);
        const a = getAddress(address);
        const { since, until } = await certifierPeriod(s, a);
        if (since !== 0n) throw new Error(`${a} was registered before${until !== 0n ? " and retired" : ""}`);
        const tx = await confirmed(
          s,
          registryAt(s.deployment.registry, adminKey(s)).getFunction("addCertifier")(a),
        );
        await recordDone("certifier.add", a, { tx });
        out(`registered certifier ${a} (${tx})`);
      }),
    );
  certifier
    .command("retire")
    .description(
      "retire a certifier key on the registry: what it signed before stays valid, anything it signs " +
        "after verifies as SIGNER_NOT_AUTHORISED. The key the workers use is refused: rotate it instead",
    )
    .argument("<address>", "the key's address")
    .option("--force", "retire it even if the workers sign with it (attestations then wait for a new key)")
    .action(async (address: string, o: { force?: boolean }) =>
      withChain(async (s) => {
        if (!isAddress(address)) throw new Error(`not an address: ${address}`);
        const a = getAddress(address);
        const { since, until } = await certifierPeriod(s, a);
        if (since === 0n || until !== 0n) throw new Error(`${a} is not an active certifier`);
        if (!o.force && (await keyNowInUse(s, "certifier").catch(() => null)) === a) {
          throw new Error(
            `${a} is the certifier key the workers sign with: use \`tsd admin certifier rotate\``,
          );
        }
        const done = await retireCertifier(s, a, adminKey(s));
        out(`retired certifier ${a} at ${new Date(done.until * 1000).toISOString()} (${done.tx})`);
      }),
    );
  certifier
    .command("rotate")
    .description(
      "replace the certifier key: register the new one, write it to DATA_DIR/keys/certifier.key (running " +
        "workers sign with it from their next attestation), switch, then retire the old one. Certificates " +
        "signed before stay valid",
    )
    .addOption(new Option("--key-file <file>", "the new private key, from a file").conflicts("generate"))
    .option("--generate", "generate the new key")
    .option("--json", "print {from, to, retired} as JSON")
    .action(async (o: { keyFile?: string; generate?: boolean; json?: boolean }) =>
      withChain(async (s) => {
        const next = newKey(o);
        const admin = adminKey(s);
        const old = await rotationStart(s, "certifier", next);
        const registry = registryAt(s.deployment.registry, admin);
        // 1. register the new key (a rotation run again after a failure finds it registered)
        const period = await certifierPeriod(s, next.address);
        if (period.until !== 0n) throw new Error(`${next.address} was retired before; use a new key`);
        if (period.since === 0n) {
          const tx = await confirmed(s, registry.getFunction("addCertifier")(next.address));
          await recordDone("certifier.add", next.address, { tx, rotation: true });
        }
        // 2. put it where the workers read it, 3. switch: nothing the old key signs is recorded after this
        installKey(s, "certifier", next);
        await audited("certifier.rotate", async (client) => {
          const before = await switchKeyInUse(client, "certifier", next.address);
          return { result: before, subject: next.address, details: { from: old, to: next.address } };
        });
        // 4. retire the old key once the chain's clock is past its last signature
        const oldPeriod = await certifierPeriod(s, old);
        const retired =
          oldPeriod.since !== 0n && oldPeriod.until === 0n ? await retireCertifier(s, old, admin) : null;
        rmSync(previousKeyFile(s, "certifier"), { force: true });
        if (o.json) out(JSON.stringify({ from: old, to: next.address, retired }));
        else {
          out(`certifier ${next.address} in use (${keyFile(s.sources.dataDir, "certifier")})`);
          out(
            retired
              ? `retired ${old} at ${new Date(retired.until * 1000).toISOString()}`
              : `${old} was not active`,
          );
          if (s.config.CERTIFIER_PRIVATE_KEY)
            out(
              "CERTIFIER_PRIVATE_KEY is set here: workers that take their key from it must get the new key " +
                "(set it and restart them); their attestations wait until then",
            );
        }
      }),
    );

  const anchorer = admin.command("anchorer").description("the key that sends anchoring transactions");
  anchorer
    .command("rotate")
    .description(
      "replace the anchoring key: grant ANCHORER_ROLE to the new one, write it to " +
        "DATA_DIR/keys/anchorer.key (the sender uses it from its next pass), switch, wait until every " +
        "transaction the old key sent is settled (and its anchor recorded), then revoke the old key's role",
    )
    .addOption(new Option("--key-file <file>", "the new private key, from a file").conflicts("generate"))
    .option("--generate", "generate the new key")
    .option(
      "--fund <amount>",
      "send this much (in the chain's native unit) from the admin key to the new key",
    )
    .option("--wait <seconds>", "longest wait for the old key's transactions before leaving its role", "900")
    .option("--json", "print {from, to, revoked} as JSON")
    .action(
      async (o: { keyFile?: string; generate?: boolean; fund?: string; wait: string; json?: boolean }) =>
        withChain(async (s) => {
          const next = newKey(o);
          const waitS = Number(o.wait);
          if (!Number.isFinite(waitS) || waitS < 0) throw new Error("--wait must be a number of seconds");
          const admin = adminKey(s);
          const old = await rotationStart(s, "anchorer", next);
          const registry = new Contract(s.deployment.registry, ROLES_ABI, admin);
          // 0. gas for the new key
          if (o.fund !== undefined) {
            const sent = await admin.sendTransaction({ to: next.address, value: parseEther(o.fund) });
            await sent.wait(s.config.CHAIN_CONFIRMATIONS);
            await recordDone("anchorer.fund", next.address, { tx: sent.hash, amount: o.fund });
          } else if (s.local) {
            await s.provider.send("anvil_setBalance", [next.address, "0x56BC75E2D63100000"]); // 100 ETH, local chain only
          }
          if ((await s.provider.getBalance(next.address)) === 0n) {
            throw new Error(
              `${next.address} has nothing to pay gas with: give --fund <amount>, or fund it first`,
            );
          }
          // 1. grant the role
          const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
          if (!((await registry.getFunction("hasRole")(role, next.address)) as boolean)) {
            const tx = await confirmed(s, registry.getFunction("grantRole")(role, next.address));
            await recordDone("anchorer.grant", next.address, { tx });
          }
          // 2. install, 3. switch: from here on the old key records no new transaction
          installKey(s, "anchorer", next);
          await audited("anchorer.rotate", async (client) => {
            await switchKeyInUse(client, "anchorer", next.address);
            return { result: undefined, subject: next.address, details: { from: old, to: next.address } };
          });
          // 4. the old key's transactions in flight are still followed by the sender (re-sent,
          // recorded once mined); its role stays until none is left
          const deadline = Date.now() + waitS * 1000;
          const inFlight = () =>
            withDatabase(async (db) => {
              const { rows } = await db.query<{ n: number }>(
                "SELECT count(*)::int AS n FROM anchor_attempts WHERE state = 'sent' AND lower(sender) = lower($1)",
                [old],
              );
              return rows[0]?.n ?? 0;
            });
          let left = await inFlight();
          while (left > 0 && Date.now() < deadline) {
            await sleep(500);
            left = await inFlight();
          }
          let revoked: string | null = null;
          if (left === 0 && ((await registry.getFunction("hasRole")(role, old)) as boolean)) {
            revoked = await confirmed(s, registry.getFunction("revokeRole")(role, old));
            await recordDone("anchorer.revoke", old, { tx: revoked });
          }
          rmSync(previousKeyFile(s, "anchorer"), { force: true });
          const rest = await s.provider.getBalance(old);
          if (o.json) out(JSON.stringify({ from: old, to: next.address, revoked, inFlight: left }));
          else {
            out(`anchoring key ${next.address} in use (${keyFile(s.sources.dataDir, "anchorer")})`);
            if (left > 0)
              out(
                `${left} transaction(s) of ${old} still in flight: its role is kept; run ` +
                  `\`tsd admin anchorer revoke ${old}\` once they are settled`,
              );
            else if (revoked) out(`revoked ANCHORER_ROLE of ${old} (${revoked})`);
            if (rest > 0n) out(`${old} still holds ${formatEther(rest)}; move it if you wish`);
          }
          if (left > 0) process.exitCode = 4;
        }),
    );
  anchorer
    .command("revoke")
    .description(
      "revoke ANCHORER_ROLE from a former anchoring key once none of its transactions is in flight",
    )
    .argument("<address>", "the key's address")
    .action(async (address: string) =>
      withChain(async (s) => {
        if (!isAddress(address)) throw new Error(`not an address: ${address}`);
        const a = getAddress(address);
        if ((await keyNowInUse(s, "anchorer")) === a)
          throw new Error(`${a} is the anchoring key in use: rotate it first`);
        const left = await withDatabase(async (db) => {
          const { rows } = await db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM anchor_attempts WHERE state = 'sent' AND lower(sender) = lower($1)",
            [a],
          );
          return rows[0]?.n ?? 0;
        });
        if (left > 0)
          throw new Error(`${left} transaction(s) of ${a} are still in flight: revoking now would lose them`);
        const registry = new Contract(s.deployment.registry, ROLES_ABI, adminKey(s));
        const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
        if (!((await registry.getFunction("hasRole")(role, a)) as boolean))
          throw new Error(`${a} has no ANCHORER_ROLE`);
        const tx = await confirmed(s, registry.getFunction("revokeRole")(role, a));
        await recordDone("anchorer.revoke", a, { tx });
        out(`revoked ANCHORER_ROLE of ${a} (${tx})`);
      }),
    );
}
