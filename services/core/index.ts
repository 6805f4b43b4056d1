// tsd protocol core, version 1 (docs/protocol.md sections 3 to 10). Pure: no network, database or chain;
// only what its arguments give it. This file is its whole public surface.

export { CoreError, type CoreErrorCode } from "./errors";
export { toHex, to0xHex, fromHex, equalBytes } from "./bytes";
export { sha256 } from "./hashing";
export { digestStream, type ProgressListener } from "./digest";
export { type FileDigestAlg } from "./hashing";
export {
  RECORD_VERSION,
  DIGEST_ALGS,
  DEFAULT_DIGEST_ALG,
  isDigestAlg,
  createDepositRecord,
  parseDepositRecord,
  canonicalRecord,
  recordLeafHash,
  isUuidV4,
  isHex32,
  isDepositor,
  type DepositRecord,
  type DigestAlg,
  type NewDepositRecord,
} from "./record";
export {
  hashLeaf,
  hashChildren,
  MerkleTree,
  rootFromAuditPath,
  verifyInclusion,
  type MerkleTreeBuilder,
} from "./merkle";
export {
  EIP712_NAME,
  EIP712_VERSION,
  attestationTypedData,
  signAttestation,
  recoverAttestationSigner,
  isCanonicalSignature,
  canonicalSignature,
  type AnchorAttestationMessage,
  type AnchorInfo,
  type AttestationTypedData,
  type AttestationSigner,
} from "./attestation";
export {
  CERTIFICATE_FORMAT,
  buildCertificate,
  serializeCertificate,
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
export {
  formatTime,
  isFormattableTime,
  certificateStatement,
  reasonText,
  memberStatement,
  DIGEST_ALG_LABELS,
  type Bilingual,
  type FormattedTime,
  type Finding,
} from "./present";
export {
  SET_MEMBER_VERSION,
  SET_MANIFEST_FORMAT,
  DISCLOSURE_FORMAT,
  SET_DIGEST_ALG,
  MEMBER_DIGEST_ALGS,
  MAX_MEMBER_PATH_BYTES,
  memberPathProblem,
  isMemberPath,
  isMemberDigestAlg,
  compareUtf8,
  parseSetMember,
  canonicalMember,
  memberLeafHash,
  buildManifest,
  parseManifest,
  discloseMember,
  parseDisclosure,
  verifyDisclosure,
  disclosureStatement,
  type SetMember,
  type NewSetMember,
  type MemberDigestAlg,
  type SetManifest,
  type Disclosure,
  type DisclosureVerifyOptions,
  type DisclosureVerificationResult,
} from "./set";
export {
  fileDigestAlg,
  claimedChainId,
  claimsSet,
  verifyEvidence,
  type EvidenceInput,
  type Checks,
  type Verdict,
} from "./verdict";
