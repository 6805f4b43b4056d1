import { getAddress } from "ethers";

// Addresses in their EIP-55 form, remembered: a verifier sees the same registry and certifier
// in every certificate, and each checksum costs a keccak256 in JavaScript.

/**
 * Addresses already judged: the EIP-55 form, or null for a value that is not an address. A
 * function of the string alone, so remembering it cannot change a result.
 */
const judged = new Map<string, string | null>();
/** Entries kept; the oldest goes first. */
export const CHECKED_ADDRESSES_KEPT = 256;

/** Empties the memo, so the next judgements are computed (for tests comparing both). */
export function forgetCheckedAddresses(): void {
  judged.clear();
}

/**
 * `value` in EIP-55 form (ethers' getAddress), or null when it is not an address: not 20 bytes
 * of hex, or mixed case with a wrong checksum.
 */
export function checksumAddress(value: string): string | null {
  const known = judged.get(value);
  if (known !== undefined) return known;
  let address: string | null;
  try {
    address = getAddress(value);
  } catch {
    address = null;
  }
  if (judged.size >= CHECKED_ADDRESSES_KEPT) judged.delete(judged.keys().next().value as string);
  judged.set(value, address);
  return address;
}
