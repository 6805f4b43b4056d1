import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";

// The service's three keys (DESIGN sections 5 and 9): the registry admin (deploys, registers
// keys), the hot anchoring key (sends anchor transactions) and the certifier (signs
// attestations). Each comes from its environment variable or from DATA_DIR/keys/<role>.key.

export type KeyRole = "admin" | "anchorer" | "certifier";

export interface KeySources {
  dataDir: string;
  env: Partial<Record<KeyRole, string>>;
  /** Create missing key files (local chain only: a fresh key there can be funded). */
  generate: boolean;
}

function keyFile(dataDir: string, role: KeyRole): string {
  return join(dataDir, "keys", `${role}.key`);
}

/** The key for `role`, or undefined when neither the environment nor a file has it and generate is off. */
export function loadKey(sources: KeySources, role: KeyRole): Wallet | undefined {
  const fromEnv = sources.env[role];
  if (fromEnv) return new Wallet(fromEnv);
  const file = keyFile(sources.dataDir, role);
  if (existsSync(file)) return new Wallet(readFileSync(file, "utf8").trim());
  if (!sources.generate) return undefined;
  const wallet = Wallet.createRandom();
  mkdirSync(join(sources.dataDir, "keys"), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${wallet.privateKey}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    // Another process created it first: use that one.
    if ((e as { code?: string }).code === "EEXIST") return new Wallet(readFileSync(file, "utf8").trim());
    throw e;
  }
  chmodSync(file, 0o600);
  return new Wallet(wallet.privateKey);
}

/** Like loadKey, but a missing key is a configuration error naming both places to put it. */
export function requireKey(sources: KeySources, role: KeyRole): Wallet {
  const key = loadKey(sources, role);
  if (!key) {
    throw new Error(
      `no ${role} key: set ${role.toUpperCase()}_PRIVATE_KEY or put it in ${keyFile(sources.dataDir, role)}`,
    );
  }
  return key;
}
