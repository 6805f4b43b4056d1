// tsd protocol core, version 1 (DESIGN sections 3 to 8). Pure: no network, database or chain;
// only what its arguments give it. This file is its whole public surface.

export { CoreError, type CoreErrorCode } from "./errors";
export { toHex, to0xHex, fromHex, equalBytes } from "./bytes";
export { sha256 } from "./sha256";
export { digestStream, type ProgressListener } from "./digest";
export {
  RECORD_VERSION,
  DIGEST_ALG,
  createDepositRecord,
  parseDepositRecord,
  canonicalRecord,
  recordLeafHash,
  isUuidV4,
  isHex32,
  isDepositor,
  type DepositRecord,
  type NewDepositRecord,
} from "./record";
export { hashLeaf, hashChildren, MerkleTree, rootFromAuditPath, verifyInclusion } from "./merkle";
export {
  EIP712_NAME,
  EIP712_VERSION,
  attestationTypedData,
  signAttestation,
  recoverAttestationSigner,
  type AnchorAttestationMessage,
  type AnchorInfo,
  type AttestationTypedData,
  type AttestationSigner,
} from "./attestation";
export {
  CERTIFICATE_FORMAT,
  buildCertificate,
  parseCertificate,
  type Certificate,
  type InclusionProof,
  type CertificateAttestation,
} from "./certificate";
export {
  verifyCertificate,
  validStatement,
  type ChainReader,
  type VerifyOptions,
  type VerificationResult,
  type Outcome,
  type ReasonCode,
} from "./verify";
