import {
  getAddress,
  recoverAddress,
  TypedDataEncoder,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import { checksumAddress } from "./address";
import { requireArgument } from "./errors";

// The EIP-712 AnchorAttestation of protocol.md section 7: one signature per batch by a certifier key.

/** EIP-712 domain name and version of protocol v1. */
export const EIP712_NAME = "tsd";
export const EIP712_VERSION = "1";

/** The EIP712Domain type as generic EIP-712 tools expect it in the JSON. */
export const EIP712_DOMAIN_TYPE: readonly TypedDataField[] = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];

/** The AnchorAttestation struct, field order binding. */
export const ANCHOR_ATTESTATION_TYPE: readonly TypedDataField[] = [
  { name: "root", type: "bytes32" },
  { name: "treeSize", type: "uint64" },
  { name: "batch", type: "uint64" },
  { name: "txHash", type: "bytes32" },
  { name: "blockNumber", type: "uint64" },
  { name: "blockHash", type: "bytes32" },
  { name: "blockTimestamp", type: "uint64" },
  { name: "issuedAt", type: "uint64" },
];

/** What a certifier signs: the anchor of one batch, and when it signed (seconds). */
export interface AnchorAttestationMessage {
  root: string;
  treeSize: number;
  batch: number;
  txHash: string;
  blockNumber: number;
  blockHash: string;
  blockTimestamp: number;
  issuedAt: number;
}

export interface AttestationDomain {
  name: typeof EIP712_NAME;
  version: typeof EIP712_VERSION;
  chainId: number;
  verifyingContract: string;
}

/** The standard EIP-712 JSON (as `eth_signTypedData_v4` takes it), EIP712Domain included. */
export interface AttestationTypedData {
  domain: AttestationDomain;
  types: { EIP712Domain: TypedDataField[]; AnchorAttestation: TypedDataField[] };
  primaryType: "AnchorAttestation";
  message: AnchorAttestationMessage;
}

/**
 * Anything that can sign EIP-712 data with one key: an ethers Wallet, a KMS or HSM adapter.
 * The signature is 65 bytes, 0x-prefixed hex.
 */
export interface AttestationSigner {
  readonly address: string;
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

/** Where and when a batch's root was anchored (a certificate's `anchor`). */
export interface AnchorInfo {
  chainId: number;
  /** Registry contract address (EIP-55). */
  registry: string;
  root: string;
  batch: number;
  txHash: string;
  blockNumber: number;
  blockHash: string;
  blockTimestamp: number;
}

/** The typed data a certifier signs for `anchor`, a tree of `treeSize` leaves, at `issuedAt` (seconds). */
export function attestationTypedData(
  anchor: AnchorInfo,
  treeSize: number,
  issuedAt: number,
): AttestationTypedData {
  const registry = checksumAddress(anchor.registry);
  requireArgument(registry !== null, `the registry ${anchor.registry} is not an address`);
  return {
    domain: {
      name: EIP712_NAME,
      version: EIP712_VERSION,
      chainId: anchor.chainId,
      verifyingContract: registry,
    },
    types: {
      EIP712Domain: EIP712_DOMAIN_TYPE.map((f) => ({ ...f })),
      AnchorAttestation: ANCHOR_ATTESTATION_TYPE.map((f) => ({ ...f })),
    },
    primaryType: "AnchorAttestation",
    message: {
      root: anchor.root,
      treeSize,
      batch: anchor.batch,
      txHash: anchor.txHash,
      blockNumber: anchor.blockNumber,
      blockHash: anchor.blockHash,
      blockTimestamp: anchor.blockTimestamp,
      issuedAt,
    },
  };
}

/** The order of secp256k1's group: a signature's `s` and `n - s` both verify (ECDSA malleability). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SIGNATURE_HEX = /^0x[0-9a-f]{130}$/;

/**
 * True for a signature in the one form a certificate carries (protocol.md section 7): 65 bytes
 * `r || s || v`, lowercase hex, `v` 27 or 28 and `s` in the lower half of the curve order
 * (EIP-2). Any other spelling of the same signature (`v` 0 or 1, an EIP-155 `v`, `n - s`) is
 * refused, so one attestation has one certificate form.
 */
export function isCanonicalSignature(signature: string): boolean {
  if (!SIGNATURE_HEX.test(signature)) return false;
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = signature.slice(130);
  return (v === "1b" || v === "1c") && s > 0n && s <= SECP256K1_N / 2n;
}

/**
 * `signature` written canonically (see isCanonicalSignature): `v` 0 or 1 becomes 27 or 28, an
 * upper-half `s` becomes `n - s` with `v` flipped. Both stand for the same signature, as
 * signers (KMS and HSM adapters among them) differ in which they return. INVALID_ARGUMENT
 * for anything that is not a 65-byte signature with `v` 0, 1, 27 or 28.
 */
export function canonicalSignature(signature: string): string {
  const hex = signature.toLowerCase();
  requireArgument(SIGNATURE_HEX.test(hex), "a signature is 65 bytes of 0x-prefixed hex");
  let v = parseInt(hex.slice(130), 16);
  requireArgument(v === 0 || v === 1 || v === 27 || v === 28, "a signature's v is 27 or 28 (or 0 or 1)");
  if (v < 27) v += 27;
  let s = BigInt(`0x${hex.slice(66, 130)}`);
  if (s > SECP256K1_N / 2n) {
    s = SECP256K1_N - s;
    v = v === 27 ? 28 : 27;
  }
  return `${hex.slice(0, 66)}${s.toString(16).padStart(64, "0")}${v.toString(16)}`;
}

/** Signs the attestation; returns the checksummed signer address and the signature in canonical form. */
export async function signAttestation(
  signer: AttestationSigner,
  typedData: AttestationTypedData,
): Promise<{ signer: string; signature: string }> {
  const signature = await signer.signTypedData(
    typedData.domain,
    { AnchorAttestation: typedData.types.AnchorAttestation },
    { ...typedData.message },
  );
  return { signer: getAddress(signer.address), signature: canonicalSignature(signature) };
}

/**
 * Recovered signers by the exact typed data and signature. Every certificate of a batch carries
 * the same attestation, so a verifier checking several (or the service answering the same one
 * again) recovers it once: the EIP-712 hashing (keccak256 in JavaScript) and the curve
 * arithmetic are most of a verification's CPU. The key is the input itself, written without
 * loss (below), and the address is a function of exactly that input, so the memo cannot change
 * an outcome; input it cannot write so is recovered every time.
 */
const recovered = new Map<string, string | null>();
/** Entries kept; the oldest goes first. */
export const RECOVERED_SIGNERS_KEPT = 1024;

/** How often the memo answered and how often it had to recover (for tests). */
export const recoveredSignerStats = { hits: 0, misses: 0 };

/** Empties the memo, so the next recoveries are computed (for tests comparing both). */
export function forgetRecoveredSigners(): void {
  recovered.clear();
}

/**
 * The address that signed `typedData`, or null when the signature does not recover. The
 * EIP712Domain entry is implied by the domain itself, so it is left out for the encoder.
 */
export function recoverAttestationSigner(typedData: AttestationTypedData, signature: string): string | null {
  const key = memoKey(typedData, signature);
  const known = key === null ? undefined : recovered.get(key);
  if (known !== undefined) {
    recoveredSignerStats.hits++;
    return known;
  }
  recoveredSignerStats.misses++;
  let signer: string | null;
  try {
    const digest = TypedDataEncoder.hash(
      typedData.domain,
      { AnchorAttestation: typedData.types.AnchorAttestation },
      typedData.message,
    );
    signer = recoverAddress(digest, signature);
  } catch {
    signer = null;
  }
  if (key === null) return signer;
  if (recovered.size >= RECOVERED_SIGNERS_KEPT) recovered.delete(recovered.keys().next().value as string);
  recovered.set(key, signer);
  return signer;
}

/**
 * Everything the encoder reads, as one string: the domain's and the message's own fields in
 * their order, the AnchorAttestation fields, the signature. JSON of strings and safe integers
 * only, so two inputs share a key only when the encoder sees the same values. Null for any
 * other shape (a value of another type, an object with a prototype of its own): not memoised.
 */
function memoKey(typedData: AttestationTypedData, signature: string): string | null {
  const fields = (value: unknown): [string, string | number][] | null => {
    if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
      return null;
    }
    const entries = Object.entries(value);
    return entries.every(([, v]) => typeof v === "string" || Number.isSafeInteger(v))
      ? (entries as [string, string | number][])
      : null;
  };
  const domain = fields(typedData.domain);
  const message = fields(typedData.message);
  const types: unknown = typedData.types?.AnchorAttestation;
  if (domain === null || message === null || !Array.isArray(types) || typeof signature !== "string")
    return null;
  const typeFields: [string, string | number][][] = [];
  for (const field of types) {
    const entries = fields(field);
    if (entries === null) return null;
    typeFields.push(entries);
  }
  return JSON.stringify([domain, typeFields, message, signature]);
}
