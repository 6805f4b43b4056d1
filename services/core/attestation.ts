import { getAddress, verifyTypedData, type TypedDataDomain, type TypedDataField } from "ethers";

// The EIP-712 AnchorAttestation of DESIGN section 6: one signature per batch by a certifier key.

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
  return {
    domain: {
      name: EIP712_NAME,
      version: EIP712_VERSION,
      chainId: anchor.chainId,
      verifyingContract: getAddress(anchor.registry),
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

/** Signs the attestation; returns the checksummed signer address and the signature (lowercase hex). */
export async function signAttestation(
  signer: AttestationSigner,
  typedData: AttestationTypedData,
): Promise<{ signer: string; signature: string }> {
  const signature = await signer.signTypedData(
    typedData.domain,
    { AnchorAttestation: typedData.types.AnchorAttestation },
    { ...typedData.message },
  );
  return { signer: getAddress(signer.address), signature: signature.toLowerCase() };
}

/**
 * The address that signed `typedData`, or null when the signature does not recover. The
 * EIP712Domain entry is implied by the domain itself, so it is left out for the encoder.
 */
export function recoverAttestationSigner(typedData: AttestationTypedData, signature: string): string | null {
  try {
    return verifyTypedData(
      typedData.domain,
      { AnchorAttestation: typedData.types.AnchorAttestation },
      typedData.message,
      signature,
    );
  } catch {
    return null;
  }
}
