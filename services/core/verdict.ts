import { checksumAddress } from "./address";
import { requireArgument } from "./errors";
import type { FileDigestAlg } from "./hashing";
import {
  certificateStatement,
  formatTime,
  isFormattableTime,
  memberStatement,
  reasonText,
  type Bilingual,
  type FormattedTime,
} from "./present";
import { isPlainObject } from "./record";
import { verifyDisclosure, type Disclosure, type DisclosureVerificationResult } from "./set";
import { verifyCertificate, type ChainReader, type Outcome, type ReasonCode } from "./verify";
import type { Certificate } from "./certificate";

// One verification as every verifier form reports it (the tsd CLI, the one-file verifier, the
// court page): the outcome, the statement or the reason in both languages, and — always — what
// was and was not checked. The forms differ only in how they show it.

/** What a verifier was given. Untrusted documents stay `unknown` until parsed. */
export interface EvidenceInput {
  certificate: unknown;
  /** A tsd-disclosure/1 for one file of a deposit set. */
  disclosure?: unknown;
  /** The document's digest, made with `fileDigestAlg(certificate, disclosure)`. */
  fileDigest?: string;
  chain?: ChainReader;
  /** The registry the verifier trusts (the platform's published address). */
  registry?: string;
}

/** What was checked, stated for a person; never left implicit. */
export interface Checks {
  /** Whether a document was compared with the deposited digest. */
  file: "compared" | "not given";
  /** The registry the certificate names, and whether it was pinned to a trusted one. */
  registry: { named: string | null; pinned: string | null };
  /** Whether the chain was read, and if not, why. */
  chain: "consulted" | "not given" | "unreachable" | "not reached";
  /** The certifier key that signed, once the certificate parsed. */
  certifier: string | null;
}

export interface Verdict {
  outcome: Outcome;
  code?: ReasonCode;
  /** One English sentence: the finding, or what failed. */
  message: string;
  /** For VALID: what it proves. Otherwise: what the outcome means and what to do. */
  explanation: Bilingual;
  /** For VALID only: the statement the certificate (or disclosure) supports. */
  statement?: Bilingual;
  checks: Checks;
  /** The node's error when the chain could not be read. */
  chainError?: string;
  /**
   * When it was anchored and received, once the certificate parsed; absent when a time is past
   * year 9999 (well-formed, but no such block exists yet: the certificate cannot be VALID).
   */
  times?: { anchored: FormattedTime; received: FormattedTime };
  certificate?: Certificate;
  disclosure?: Disclosure;
}

/**
 * The algorithm a document must be hashed with to be compared: the member's for a disclosure,
 * else the deposit's. Null when no document can be compared: a deposit set's certificate alone
 * (its digest is a set root: compare a file through its disclosure), or an unreadable input.
 */
export function fileDigestAlg(certificate: unknown, disclosure?: unknown): FileDigestAlg | null {
  const alg = (value: unknown): FileDigestAlg | null =>
    value === "sha256" || value === "sm3" ? value : null;
  if (disclosure !== undefined) {
    return isPlainObject(disclosure) && isPlainObject(disclosure.member)
      ? alg(disclosure.member.digestAlg)
      : null;
  }
  return isPlainObject(certificate) && isPlainObject(certificate.deposit)
    ? alg(certificate.deposit.digestAlg)
    : null;
}

/** The chain id an unparsed certificate names (to pick a node before verifying), if any. */
export function claimedChainId(certificate: unknown): number | undefined {
  const anchor = isPlainObject(certificate) ? certificate.anchor : undefined;
  const id = isPlainObject(anchor) ? anchor.chainId : undefined;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** True when an unparsed certificate claims to deposit a set of files (tsd-set/1). */
export function claimsSet(certificate: unknown): boolean {
  return (
    isPlainObject(certificate) &&
    isPlainObject(certificate.deposit) &&
    certificate.deposit.digestAlg === "tsd-set/1"
  );
}

/** Verifies a certificate, or a disclosure with its set's certificate, and says what was checked. */
export async function verifyEvidence(input: EvidenceInput): Promise<Verdict> {
  requireArgument(
    input.fileDigest === undefined || fileDigestAlg(input.certificate, input.disclosure) !== null,
    "a deposit set's certificate compares a file only through that file's disclosure",
  );
  const result =
    input.disclosure === undefined
      ? await verifyCertificate(input.certificate, {
          ...(input.fileDigest === undefined ? {} : { digest: input.fileDigest }),
          ...(input.chain ? { chain: input.chain } : {}),
          ...(input.registry === undefined ? {} : { registry: input.registry }),
        })
      : await verifyDisclosure(input.disclosure, input.certificate, {
          ...(input.fileDigest === undefined ? {} : { fileDigest: input.fileDigest }),
          ...(input.chain ? { chain: input.chain } : {}),
          ...(input.registry === undefined ? {} : { registry: input.registry }),
        });
  const cert = result.certificate;
  const disclosure = (result as DisclosureVerificationResult).disclosure;
  const chain: Checks["chain"] = !input.chain
    ? "not given"
    : result.chainConsulted
      ? "consulted"
      : result.chainError !== undefined
        ? "unreachable"
        : "not reached";
  const valid = result.outcome === "VALID" && cert;
  return {
    outcome: result.outcome,
    ...(result.code === undefined ? {} : { code: result.code }),
    message: result.message,
    explanation: reasonText(result.code ?? (result.outcome as Exclude<Outcome, "INVALID">)),
    ...(valid
      ? { statement: disclosure ? memberStatement(disclosure, cert) : certificateStatement(cert) }
      : {}),
    checks: {
      file: result.digestChecked ? "compared" : "not given",
      registry: {
        named: cert?.anchor.registry ?? null,
        pinned: input.registry === undefined ? null : checksumAddress(input.registry),
      },
      chain,
      certifier: cert?.attestation.signer ?? null,
    },
    ...(result.chainError === undefined ? {} : { chainError: result.chainError }),
    ...(cert &&
    isFormattableTime(cert.anchor.blockTimestamp) &&
    isFormattableTime(cert.deposit.receivedAt / 1000)
      ? {
          times: {
            anchored: formatTime(cert.anchor.blockTimestamp),
            received: formatTime(cert.deposit.receivedAt / 1000),
          },
        }
      : {}),
    ...(cert ? { certificate: cert } : {}),
    ...(disclosure ? { disclosure } : {}),
  };
}
