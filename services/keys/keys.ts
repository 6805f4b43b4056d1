import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";

// The service's three keys (protocol.md section 6): the registry admin (deploys, registers
// keys), the hot anchoring key (sends anchor transactions) and the certifier (signs
// attestations). Each comes from its environment variable or from DATA_DIR/keys/<role>.key.

export type KeyRole = "admin" | "anchorer" | "certifier";

export interface KeySources {
  dataDir: string;
  env: Partial<Record<KeyRole, string>>;
  /** Create missing key files (local chain only: a fresh key there can be funded). */
  generate: boolean;
}

export function keyFile(dataDir: string, role: KeyRole): string {
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

/**
 * Writes `privateKey` as the key file of `role` (mode 0600 in a 0700 folder), replacing the
 * one there at once: a reader sees the old key or the new one, never a part.
 */
export function writeKeyFile(dataDir: string, role: KeyRole, privateKey: string): string {
  const wallet = new Wallet(privateKey); // refuses anything that is not a private key
  mkdirSync(join(dataDir, "keys"), { recursive: true, mode: 0o700 });
  const file = keyFile(dataDir, role);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${wallet.privateKey}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  return file;
}

/** A private key read from a file an operator names (`--key-file`): 0x and 64 hex digits. */
export function readPrivateKeyFile(file: string): Wallet {
  const text = readFileSync(file, "utf8").trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text))
    throw new Error(`${file} does not hold a private key (64 hex digits)`);
  return new Wallet(text.startsWith("0x") ? text : `0x${text}`);
}

/**
 * Every key a process may sign with for `role`, read now: the environment's, then the file's
 * and, during a rotation, the file of the key it replaces (`<role>.previous.key`). Files are
 * read afresh each call, so a key an operator rotated into DATA_DIR is seen without a
 * restart. Never generates one.
 */
export function candidateKeys(sources: KeySources, role: KeyRole): Wallet[] {
  const keys: Wallet[] = [];
  const fromEnv = sources.env[role];
  if (fromEnv) keys.push(new Wallet(fromEnv));
  for (const file of [
    keyFile(sources.dataDir, role),
    join(sources.dataDir, "keys", `${role}.previous.key`),
  ]) {
    try {
      keys.push(new Wallet(readFileSync(file, "utf8").trim()));
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
  }
  return keys;
}
