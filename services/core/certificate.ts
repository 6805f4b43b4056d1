import { getAddress } from "ethers";
import { checksumAddress } from "./address";
import { to0xHex } from "./bytes";
import { requireWellFormed } from "./errors";
import type { AnchorAttestationMessage, AnchorInfo, AttestationTypedData } from "./attestation";
import { isPlainObject, isSafeNatural, parseDepositRecord, type DepositRecord } from "./record";

// Certificate v1 (protocol.md section 8). Parsing is strict because certificates are attacker-
// controlled input: any missing, extra or ill-typed field is MALFORMED.

/** The format tag of certificate version 1. */
export const CERTIFICATE_FORMAT = "tsd-certificate/1";

export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  /** RFC 9162 audit path, leaf sibling first, 0x-prefixed lowercase hex. */
  auditPath: string[];
}

export interface CertificateAttestation {
  /** Certifier address (EIP-55). */
  signer: string;
  /** 65-byte signature, 0x-prefixed lowercase hex. */
  signature: string;
  typedData: AttestationTypedData;
}

export interface Certificate {
  format: typeof CERTIFICATE_FORMAT;
  deposit: DepositRecord;
  proof: InclusionProof;
  anchor: AnchorInfo;
  attestation: CertificateAttestation;
}

/** Assembles a certificate; the result is re-parsed, so a bad part fails here, not at a court. */
export function buildCertificate(parts: {
  deposit: DepositRecord;
  leafIndex: number;
  treeSize: number;
  auditPath: readonly Uint8Array[];
  anchor: AnchorInfo;
  attestation: CertificateAttestation;
}): Certificate {
  return parseCertificate({
    format: CERTIFICATE_FORMAT,
    deposit: parts.deposit,
    proof: { leafIndex: parts.leafIndex, treeSize: parts.treeSize, auditPath: parts.auditPath.map(to0xHex) },
    anchor: { ...parts.anchor, registry: getAddress(parts.anchor.registry) },
    attestation: parts.attestation,
  });
}

/**
 * A certificate as a file: JSON indented by two spaces, and a final newline. The API serves
 * these bytes, the PDF carries them as its attachment, and the CLI writes them; any parser
 * reads them, but one form means one file to compare and checksum.
 */
export function serializeCertificate(certificate: Certificate): string {
  return `${JSON.stringify(certificate, null, 2)}\n`;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
const SIGNATURE = /^0x[0-9a-f]{130}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** A tree of 2^64 leaves needs at most 64 path elements. */
const MAX_PATH = 64;

/** Strictly validates an untrusted value as a certificate v1; throws CoreError MALFORMED. */
export function parseCertificate(value: unknown): Certificate {
  const c = object(value, "certificate", ["format", "deposit", "proof", "anchor", "attestation"]);
  requireWellFormed(c.format === CERTIFICATE_FORMAT, "format", `expected "${CERTIFICATE_FORMAT}"`);
  parseDepositRecord(c.deposit, "deposit");

  const p = object(c.proof, "proof", ["leafIndex", "treeSize", "auditPath"]);
  natural(p.leafIndex, "proof.leafIndex");
  positive(p.treeSize, "proof.treeSize");
  requireWellFormed(Array.isArray(p.auditPath), "proof.auditPath", "expected an array");
  requireWellFormed(p.auditPath.length <= MAX_PATH, "proof.auditPath", `more than ${MAX_PATH} elements`);
  p.auditPath.forEach((h, i) => hex32(h, `proof.auditPath[${i}]`));

  const a = object(c.anchor, "anchor", [
    "chainId",
    "registry",
    "root",
    "batch",
    "txHash",
    "blockNumber",
    "blockHash",
    "blockTimestamp",
  ]);
  positive(a.chainId, "anchor.chainId");
  address(a.registry, "anchor.registry");
  hex32(a.root, "anchor.root");
  natural(a.batch, "anchor.batch");
  hex32(a.txHash, "anchor.txHash");
  natural(a.blockNumber, "anchor.blockNumber");
  hex32(a.blockHash, "anchor.blockHash");
  natural(a.blockTimestamp, "anchor.blockTimestamp");

  const s = object(c.attestation, "attestation", ["signer", "signature", "typedData"]);
  address(s.signer, "attestation.signer");
  requireWellFormed(
    typeof s.signature === "string" && SIGNATURE.test(s.signature),
    "attestation.signature",
    "expected 65 bytes of 0x-prefixed lowercase hex",
  );
  parseTypedData(s.typedData, "attestation.typedData");
  return value as Certificate;
}

function parseTypedData(value: unknown, path: string): void {
  const t = object(value, path, ["domain", "types", "primaryType", "message"]);
  const d = object(t.domain, `${path}.domain`, ["name", "version", "chainId", "verifyingContract"]);
  string(d.name, `${path}.domain.name`);
  string(d.version, `${path}.domain.version`);
  positive(d.chainId, `${path}.domain.chainId`);
  address(d.verifyingContract, `${path}.domain.verifyingContract`);
  const types = object(t.types, `${path}.types`, ["EIP712Domain", "AnchorAttestation"]);
  for (const [name, fields] of Object.entries(types)) {
    requireWellFormed(Array.isArray(fields), `${path}.types.${name}`, "expected an array");
    fields.forEach((f: unknown, i: number) => {
      const field = object(f, `${path}.types.${name}[${i}]`, ["name", "type"]);
      string(field.name, `${path}.types.${name}[${i}].name`);
      string(field.type, `${path}.types.${name}[${i}].type`);
    });
  }
  string(t.primaryType, `${path}.primaryType`);
  const messageKeys: (keyof AnchorAttestationMessage)[] = [
    "root",
    "treeSize",
    "batch",
    "txHash",
    "blockNumber",
    "blockHash",
    "blockTimestamp",
    "issuedAt",
  ];
  const m = object(t.message, `${path}.message`, messageKeys);
  for (const key of messageKeys) {
    if (key === "root" || key === "txHash" || key === "blockHash") hex32(m[key], `${path}.message.${key}`);
    else natural(m[key], `${path}.message.${key}`);
  }
}

function object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  requireWellFormed(isPlainObject(value), path, "expected an object");
  const allowed = new Set(keys);
  for (const key of Object.keys(value))
    requireWellFormed(allowed.has(key), `${path}.${key}`, "unknown field");
  for (const key of keys) requireWellFormed(key in value, `${path}.${key}`, "missing field");
  return value;
}

function natural(value: unknown, path: string): void {
  requireWellFormed(isSafeNatural(value), path, "expected a non-negative safe integer");
}

function positive(value: unknown, path: string): void {
  requireWellFormed(isSafeNatural(value) && value > 0, path, "expected a positive safe integer");
}

function string(value: unknown, path: string): void {
  requireWellFormed(typeof value === "string", path, "expected a string");
}

function hex32(value: unknown, path: string): void {
  requireWellFormed(
    typeof value === "string" && HEX32.test(value),
    path,
    "expected 32 bytes of 0x-prefixed lowercase hex",
  );
}

function address(value: unknown, path: string): void {
  requireWellFormed(
    typeof value === "string" && ADDRESS.test(value) && isChecksumValid(value),
    path,
    "expected an address",
  );
}

/** All-lowercase, all-uppercase or a correct EIP-55 checksum. */
function isChecksumValid(value: string): boolean {
  return checksumAddress(value) !== null;
}
