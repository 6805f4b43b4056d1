import { type TypedDataField } from "ethers";
import { checksumAddress } from "./address";
import { fromHex } from "./bytes";
import { CoreError, requireArgument } from "./errors";
import {
  ANCHOR_ATTESTATION_TYPE,
  EIP712_DOMAIN_TYPE,
  attestationTypedData,
  EIP712_NAME,
  EIP712_VERSION,
  isCanonicalSignature,
  recoverAttestationSigner,
  type AttestationTypedData,
} from "./attestation";
import { parseCertificate, type Certificate } from "./certificate";
import { verifyInclusion } from "./merkle";
import { isHex32, recordLeafHash } from "./record";

// Verification in the order of protocol.md section 9. Pure: the chain enters only through the
// ChainReader the caller passes; the tsd API is never called.

/** Why a certificate is INVALID (protocol.md section 9). */
export type ReasonCode =
  | "MALFORMED"
  | "DIGEST_MISMATCH"
  | "PROOF_INVALID"
  | "SIGNATURE_INVALID"
  | "CHAIN_MISMATCH"
  | "NOT_ANCHORED"
  | "ANCHOR_MISMATCH"
  | "SIGNER_NOT_AUTHORISED";

/**
 * VALID: every check passed, the chain included. UNANCHORED_CHECK_ONLY: steps 1 to 4 passed
 * but the chain was not consulted (none given, or unreachable). INVALID: see `code`.
 */
export type Outcome = "VALID" | "INVALID" | "UNANCHORED_CHECK_ONLY";

/** Read access to the registry's chain; its ethers implementation lives outside the core. */
export interface ChainReader {
  /** The chain id the node serves. */
  chainId(): Promise<bigint>;
  /** `EvidenceRegistry.anchorOf(root)` at `registry`; all zero for an unknown root. */
  anchorOf(
    registry: string,
    root: string,
  ): Promise<{ timestamp: bigint; blockNumber: bigint; treeSize: bigint; batch: bigint }>;
  /** Hash and timestamp of block `blockNumber`, or null when the chain has no such block. */
  block(blockNumber: number): Promise<{ hash: string; timestamp: bigint } | null>;
  /** `EvidenceRegistry.certifier(signer)` at `registry`. */
  certifier(registry: string, signer: string): Promise<{ since: bigint; until: bigint }>;
}

export interface VerifyOptions {
  /** The SHA-256 of the file the certificate is claimed for (64 hex characters). */
  digest?: string;
  /** A reader of the chain named in the certificate; without it, VALID cannot be reached. */
  chain?: ChainReader;
  /**
   * The registry the verifier trusts (the platform's published address). Anyone can deploy
   * a registry and certify in it; a certificate naming another one is NOT_ANCHORED here.
   */
  registry?: string;
}

export interface VerificationResult {
  outcome: Outcome;
  /** Set when `outcome` is INVALID. */
  code?: ReasonCode;
  /** One sentence for a person: the finding or what failed. */
  message: string;
  /** Set once the certificate parsed. */
  certificate?: Certificate;
  /** Whether step 2 compared a digest. */
  digestChecked: boolean;
  /** Whether the chain was read (and answered): false when none was given, none was reached or it failed. */
  chainConsulted: boolean;
  /** Why the chain was not consulted, when a reader was given but failed. */
  chainError?: string;
}

/**
 * Verifies an untrusted certificate: parse, digest, inclusion proof, attestation signature,
 * then the chain. Throws only for a malformed `options.digest` or `options.registry` (the
 * caller's mistake), as CoreError INVALID_ARGUMENT.
 */
export async function verifyCertificate(
  input: unknown,
  options: VerifyOptions = {},
): Promise<VerificationResult> {
  const digest = options.digest?.toLowerCase();
  requireArgument(digest === undefined || isHex32(digest), "digest must be 64 hex characters");
  const trustedRegistry = options.registry === undefined ? undefined : checksumAddress(options.registry);
  requireArgument(trustedRegistry !== null, "registry must be an address");
  const digestChecked = digest !== undefined;
  const invalid = (
    code: ReasonCode,
    message: string,
    certificate?: Certificate,
    chainConsulted = false,
  ): VerificationResult => ({
    outcome: "INVALID",
    code,
    message,
    digestChecked,
    chainConsulted,
    ...(certificate && { certificate }),
  });

  // 1. strict parse
  let cert: Certificate;
  try {
    cert = parseCertificate(input);
  } catch (e) {
    if (e instanceof CoreError && e.code === "MALFORMED") return invalid("MALFORMED", e.message);
    throw e;
  }

  // 2. the file's digest
  if (digest !== undefined && digest !== cert.deposit.digest) {
    const alg = cert.deposit.digestAlg === "sm3" ? "SM3" : "SHA-256";
    return invalid("DIGEST_MISMATCH", `the file's ${alg} differs from the deposited digest`, cert);
  }

  // 3. the deposit is in the anchored tree
  const included = verifyInclusion(
    recordLeafHash(cert.deposit),
    cert.proof.leafIndex,
    cert.proof.treeSize,
    cert.proof.auditPath.map(fromHex),
    fromHex(cert.anchor.root),
  );
  if (!included)
    return invalid("PROOF_INVALID", "the inclusion proof does not lead to the anchored root", cert);

  // 4. the certifier's signature over exactly this anchor
  const signatureProblem = checkAttestation(cert);
  if (signatureProblem) return invalid("SIGNATURE_INVALID", signatureProblem, cert);

  // 5. the anchor. First what needs no chain: the time invariant (protocol.md section 11), then the
  // registry the verifier trusts; then the chain itself.
  if (cert.deposit.receivedAt > cert.anchor.blockTimestamp * 1000) {
    return invalid(
      "ANCHOR_MISMATCH",
      "the deposit was received after its anchor block's time: the certificate contradicts itself",
      cert,
    );
  }
  if (trustedRegistry !== undefined && !sameAddress(trustedRegistry, cert.anchor.registry)) {
    return invalid(
      "NOT_ANCHORED",
      `the certificate names registry ${cert.anchor.registry}, not the trusted ${trustedRegistry}`,
      cert,
    );
  }
  if (!options.chain) {
    return {
      outcome: "UNANCHORED_CHECK_ONLY",
      message: "the certificate is intact and signed, but the chain was not consulted",
      certificate: cert,
      digestChecked,
      chainConsulted: false,
    };
  }
  let chainFinding: { code: ReasonCode; message: string } | null;
  try {
    chainFinding = await checkChain(cert, options.chain);
  } catch (e) {
    return {
      outcome: "UNANCHORED_CHECK_ONLY",
      message: "the certificate is intact and signed, but the chain could not be read",
      certificate: cert,
      digestChecked,
      chainConsulted: false,
      chainError: e instanceof Error ? e.message : String(e),
    };
  }
  if (chainFinding) return invalid(chainFinding.code, chainFinding.message, cert, true);
  return {
    outcome: "VALID",
    message: validStatement(cert),
    certificate: cert,
    digestChecked,
    chainConsulted: true,
  };
}

/** The sentence a court reads for a VALID certificate. */
export function validStatement(cert: Certificate): string {
  const { deposit, anchor } = cert;
  const when = new Date(anchor.blockTimestamp * 1000).toISOString();
  return (
    `digest ${deposit.digest} was deposited by ${deposit.depositor} no later than ${when} ` +
    `(block ${anchor.blockNumber}, chain ${anchor.chainId})`
  );
}

function checkAttestation(cert: Certificate): string | null {
  const { typedData, signer, signature } = cert.attestation;
  const { anchor, proof } = cert;
  if (
    typedData.primaryType !== "AnchorAttestation" ||
    !sameFields(typedData, EIP712_DOMAIN_TYPE, ANCHOR_ATTESTATION_TYPE)
  ) {
    return "the signed data is not a tsd AnchorAttestation";
  }
  const d = typedData.domain;
  if (
    d.name !== EIP712_NAME ||
    d.version !== EIP712_VERSION ||
    d.chainId !== anchor.chainId ||
    !sameAddress(d.verifyingContract, anchor.registry)
  ) {
    return "the signature's domain is not this registry on this chain";
  }
  // The message must be exactly this certificate's anchor and size (issuedAt is the signer's own).
  const m = typedData.message;
  const expected = attestationTypedData(anchor, proof.treeSize, m.issuedAt).message;
  if ((Object.keys(expected) as (keyof typeof expected)[]).some((key) => m[key] !== expected[key])) {
    return "the signed message differs from the certificate's anchor";
  }
  // ethers also takes v = 0, 1 or any EIP-155 v, and s up to 2^255: other spellings of the
  // signature that would make another, equally "valid" certificate.
  if (!isCanonicalSignature(signature)) {
    return "the signature is not in canonical form (v 27 or 28, s in the lower half: EIP-2)";
  }
  const recovered = recoverAttestationSigner(typedData, signature);
  if (recovered === null || !sameAddress(recovered, signer)) {
    return "the signature was not made by the named signer";
  }
  return null;
}

/**
 * Addresses compared as 20-byte values (protocol.md section 8), without the checksum's keccak:
 * both are well-formed addresses here (parsed, or checked as an option).
 */
function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function sameFields(
  typedData: AttestationTypedData,
  domainType: readonly TypedDataField[],
  attestationType: readonly TypedDataField[],
): boolean {
  const text = (fields: readonly TypedDataField[]) => fields.map((f) => `${f.type} ${f.name}`).join(",");
  return (
    text(typedData.types.EIP712Domain) === text(domainType) &&
    text(typedData.types.AnchorAttestation) === text(attestationType)
  );
}

async function checkChain(
  cert: Certificate,
  chain: ChainReader,
): Promise<{ code: ReasonCode; message: string } | null> {
  const { anchor, proof } = cert;
  const chainId = await chain.chainId();
  if (chainId !== BigInt(anchor.chainId)) {
    return { code: "CHAIN_MISMATCH", message: `the node serves chain ${chainId}, not ${anchor.chainId}` };
  }
  const onChain = await chain.anchorOf(anchor.registry, anchor.root);
  if (
    onChain.timestamp === 0n ||
    onChain.blockNumber !== BigInt(anchor.blockNumber) ||
    onChain.treeSize !== BigInt(proof.treeSize) ||
    onChain.batch !== BigInt(anchor.batch)
  ) {
    return { code: "NOT_ANCHORED", message: "the registry holds no matching anchor for this root" };
  }
  const block = await chain.block(anchor.blockNumber);
  if (
    !block ||
    block.hash.toLowerCase() !== anchor.blockHash ||
    block.timestamp !== BigInt(anchor.blockTimestamp)
  ) {
    return {
      code: "ANCHOR_MISMATCH",
      message: "the chain's block differs from the certificate's anchor block",
    };
  }
  const issuedAt = BigInt(cert.attestation.typedData.message.issuedAt);
  const period = await chain.certifier(anchor.registry, cert.attestation.signer);
  if (period.since === 0n || period.since > issuedAt || (period.until !== 0n && issuedAt >= period.until)) {
    return {
      code: "SIGNER_NOT_AUTHORISED",
      message: "the signer was not an active certifier when it signed",
    };
  }
  return null;
}
