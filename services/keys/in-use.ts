import { getAddress, type Wallet } from "ethers";
import type { Queryable } from "../db/pool";
import { candidateKeys, keyFile, type KeySources } from "./keys";

// Which anchoring and certifier keys the workers sign with (migration 1765310000000). Until an
// operator rotates a key there is no row and each process uses its configured key. A rotation
// (`tsd admin anchorer|certifier rotate`) records the new key's address here; every worker
// then signs with that key only, read afresh from its environment or DATA_DIR/keys, and a
// worker without it waits (its job is retried) instead of signing with the old one.
//
// The switch is exact: whatever signs takes a shared advisory lock in the transaction that
// records what it signed and checks the key in use there; the switch takes the lock
// exclusively. Once the switch commits, nothing signed by the old key is recorded any more.

export type RotatableRole = "anchorer" | "certifier";

/** Key of the advisory lock that orders signing against a switch of keys ("tsdkeys"). */
const KEYS_LOCK = 0x7473_646b_6579_73n;

/** The address of the key in use for `role`, or null when the configured key is. */
export async function keyInUse(db: Queryable, role: RotatableRole): Promise<string | null> {
  const { rows } = await db.query<{ address: string }>("SELECT address FROM keys_in_use WHERE role = $1", [
    role,
  ]);
  return rows[0] ? getAddress(rows[0].address) : null;
}

/**
 * Within a transaction: waits until nothing signed is being recorded, then makes `address`
 * the key in use for `role`. Returns the address it replaced (null: the configured key).
 */
export async function switchKeyInUse(
  db: Queryable,
  role: RotatableRole,
  address: string,
): Promise<string | null> {
  await db.query("SELECT pg_advisory_xact_lock($1)", [KEYS_LOCK.toString()]);
  const before = await keyInUse(db, role);
  await db.query(
    `INSERT INTO keys_in_use (role, address) VALUES ($1, $2)
     ON CONFLICT (role) DO UPDATE SET address = EXCLUDED.address, since = now()`,
    [role, getAddress(address)],
  );
  return before;
}

/**
 * Within the transaction that records something `signer` signed: holds off a switch until it
 * commits, and refuses when `signer` is no longer the key in use (the caller's transaction
 * rolls back and its job signs again with the new key).
 */
export async function assertKeyInUse(db: Queryable, role: RotatableRole, signer: string): Promise<void> {
  await db.query("SELECT pg_advisory_xact_lock_shared($1)", [KEYS_LOCK.toString()]);
  const inUse = await keyInUse(db, role);
  if (inUse !== null && inUse !== getAddress(signer)) {
    throw new Error(`the ${role} key was switched to ${inUse} while ${signer} signed; signing again`);
  }
}

/**
 * The key a process must sign with for `role`, asked before each signature: the configured
 * one until an operator rotated it, then the key in use, found among the process's keys
 * (the environment's, or DATA_DIR/keys/<role>.key as it is now).
 */
export function keyResolver(
  db: Queryable,
  sources: KeySources,
  role: RotatableRole,
  configured: Wallet,
): () => Promise<Wallet> {
  return async () => {
    const address = await keyInUse(db, role);
    if (address === null || address === configured.address) return configured;
    const found = candidateKeys(sources, role).find((k) => k.address === address);
    if (!found) {
      throw new Error(
        `the ${role} key in use is ${address} (rotated by an operator), but this process does not have it: ` +
          `put it in ${keyFile(sources.dataDir, role)} or set ${role.toUpperCase()}_PRIVATE_KEY`,
      );
    }
    return found;
  };
}
