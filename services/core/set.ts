import canonicalize from "canonicalize";
import { checksumAddress } from "./address";
import { equalBytes, fromHex, to0xHex, toHex } from "./bytes";
import { CoreError, invariant, requireArgument, requireWellFormed } from "./errors";
import { parseCertificate, type Certificate, type InclusionProof } from "./certificate";
import { hashLeaf, MerkleTree, rootFromAuditPath } from "./merkle";
import { isHex32, isPlainObject, isSafeNatural } from "./record";
import { verifyCertificate, type VerificationResult, type VerifyOptions } from "./verify";

// Deposit sets and selective disclosure (protocol.md section 10). A folder is deposited as one
// ordinary deposit whose digest is the root of an RFC 9162 tree over salted member records;
// one member is later shown with its audit path, which reveals only sibling hashes. The
// manifest and disclosures are untrusted input where they are parsed, so parsing is strict.
// Paths of errors are rooted at the document ("manifest.members[2].path", "disclosure.root")
// because verifyDisclosure reports on a disclosure and a certificate at once.

/** The member record version this code writes and reads. */
export const SET_MEMBER_VERSION = 1;

/** The format tag of a set manifest, version 1. */
export const SET_MANIFEST_FORMAT = "tsd-set-manifest/1";

/** The format tag of a disclosure, version 1. */
export const DISCLOSURE_FORMAT = "tsd-disclosure/1";

/** The `digestAlg` of the deposit that anchors a set root (protocol.md section 3). */
export const SET_DIGEST_ALG = "tsd-set/1";

/** How a member's `digest` was made: SHA-256 or SM3 of the file. */
export const MEMBER_DIGEST_ALGS = ["sha256", "sm3"] as const;
export type MemberDigestAlg = (typeof MEMBER_DIGEST_ALGS)[number];

/** Longest member path, in UTF-8 bytes: PATH_MAX on Linux, far beyond any real folder. */
export const MAX_MEMBER_PATH_BYTES = 4096;

/** One file of a set. */
export interface SetMember {
  readonly v: typeof SET_MEMBER_VERSION;
  /** Relative path, `/`-separated, NFC (see memberPathProblem). */
  readonly path: string;
  readonly digestAlg: MemberDigestAlg;
  /** The file's SHA-256 or SM3: 64 lowercase hex. */
  readonly digest: string;
  /** 32 CSPRNG bytes, 64 lowercase hex: hides the member from holders of sibling hashes. */
  readonly salt: string;
  /** The file's size in bytes. */
  readonly bytes: number;
}

/** What a new member is made of; `digestAlg` defaults to sha256, `salt` is drawn when absent. */
export interface NewSetMember {
  path: string;
  digest: string;
  bytes: number;
  digestAlg?: MemberDigestAlg;
  salt?: string;
}

/** The depositor's secret list of members, in tree order, and their root. */
export interface SetManifest {
  readonly format: typeof SET_MANIFEST_FORMAT;
  /** The set root: 64 lowercase hex, no 0x (the deposit's `digest`). */
  readonly root: string;
  readonly members: readonly SetMember[];
}

/** One member and the audit path binding it to the set root: what a court is given. */
export interface Disclosure {
  readonly format: typeof DISCLOSURE_FORMAT;
  /** The set root: 64 lowercase hex, no 0x (as in the deposit's `digest`). */
  readonly root: string;
  readonly member: SetMember;
  /** RFC 9162 audit path in the set tree; elements 0x-prefixed lowercase hex. */
  readonly proof: InclusionProof;
}

/** Options of verifyDisclosure: those of verifyCertificate, with the file's digest in place of the deposit's. */
export interface DisclosureVerifyOptions extends Omit<VerifyOptions, "digest"> {
  /** The file's digest made with the member's `digestAlg` (64 hex characters). */
  fileDigest?: string;
}

/** A certificate's verification result, with the disclosure once it parsed. */
export interface DisclosureVerificationResult extends VerificationResult {
  disclosure?: Disclosure;
}

const MEMBER_KEYS = ["v", "path", "digestAlg", "digest", "salt", "bytes"] as const;
const HEX32_0X = /^0x[0-9a-f]{64}$/;
/** A tree of 2^64 leaves needs at most 64 path elements. */
const MAX_AUDIT_PATH = 64;
// C0 controls (NUL included), DEL and C1 controls: invisible or dangerous in a court's view
// of a file name and in terminals.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// With the u flag a surrogate pair is one code point, so this matches only lone surrogates,
// which UTF-8 cannot encode (TextEncoder would silently turn them into U+FFFD).
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why `value` is not a member path, or null when it is one. A member path is a non-empty,
 * well-formed (no lone surrogate), NFC string of at most MAX_MEMBER_PATH_BYTES UTF-8 bytes,
 * relative (no leading `/`), `/`-separated (no `\`), without control characters and without
 * an empty, `.` or `..` segment (so no `//` and no trailing `/`).
 */
export function memberPathProblem(value: unknown): string | null {
  if (typeof value !== "string") return "expected a string";
  if (value.length === 0) return "expected a non-empty path";
  // Every UTF-16 unit is at least one UTF-8 byte: a cheap bound before any other work.
  if (value.length > MAX_MEMBER_PATH_BYTES || utf8Length(value) > MAX_MEMBER_PATH_BYTES)
    return `longer than ${MAX_MEMBER_PATH_BYTES} UTF-8 bytes`;
  if (LONE_SURROGATE.test(value)) return "contains a lone surrogate (not encodable as UTF-8)";
  if (CONTROL.test(value)) return "contains a control character";
  if (value.includes("\\")) return "contains a backslash (separate segments with /)";
  if (value.normalize("NFC") !== value) return "not in Unicode NFC";
  if (value.startsWith("/")) return "an absolute path (starts with /)";
  for (const segment of value.split("/")) {
    if (segment === "") return "an empty segment (// or a trailing /)";
    if (segment === "." || segment === "..") return `a "${segment}" segment`;
  }
  return null;
}

/** True for a valid member path (see memberPathProblem). */
export function isMemberPath(value: unknown): value is string {
  return memberPathProblem(value) === null;
}

/**
 * Orders strings by their UTF-8 bytes, the order of set members. This is code point order,
 * not JS `<` (UTF-16 units), which puts U+1F600 before U+FF01. Lone surrogates compare as
 * their code points, so the order stays total and consistent with `===`.
 */
export function compareUtf8(a: string, b: string): number {
  const end = Math.min(a.length, b.length);
  for (let i = 0; i < end;) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** True for a member digest algorithm. */
export function isMemberDigestAlg(value: unknown): value is MemberDigestAlg {
  return typeof value === "string" && (MEMBER_DIGEST_ALGS as readonly string[]).includes(value);
}

/** Strictly validates an untrusted value as a member record; throws CoreError MALFORMED at `path`. */
export function parseSetMember(value: unknown, path = "member"): SetMember {
  const m = object(value, path, MEMBER_KEYS);
  requireWellFormed(m.v === SET_MEMBER_VERSION, `${path}.v`, "unsupported member version");
  const problem = memberPathProblem(m.path);
  requireWellFormed(problem === null, `${path}.path`, problem as string);
  requireWellFormed(
    isMemberDigestAlg(m.digestAlg),
    `${path}.digestAlg`,
    `expected one of ${MEMBER_DIGEST_ALGS.join(", ")}`,
  );
  requireWellFormed(isHex32(m.digest), `${path}.digest`, "expected 64 lowercase hex characters");
  requireWellFormed(isHex32(m.salt), `${path}.salt`, "expected 64 lowercase hex characters");
  requireWellFormed(isSafeNatural(m.bytes), `${path}.bytes`, "expected a non-negative safe integer");
  return value as SetMember;
}

/**
 * The RFC 8785 (JCS) serialisation of a member. Non-ASCII path characters appear as
 * themselves, not as \u escapes, so their UTF-8 bytes are what is hashed.
 */
export function canonicalMember(member: SetMember): string {
  const json = canonicalize(member);
  invariant(json !== undefined, "a member always serialises");
  return json;
}

/** The member leaf: SHA-256(0x00 || UTF-8(JCS(member))). */
export function memberLeafHash(member: SetMember): Uint8Array {
  return hashLeaf(new TextEncoder().encode(canonicalMember(member)));
}

/**
 * Builds the manifest of a set: fresh CSPRNG salts where none is given, members sorted by
 * the UTF-8 bytes of their path, the RFC 9162 root. Throws MALFORMED (at `members[i]`, the
 * input index) for a bad member, INVALID_ARGUMENT for an empty set or a repeated path.
 */
export function buildManifest(members: readonly NewSetMember[]): SetManifest {
  requireArgument(members.length > 0, "a set has at least one member");
  const built = members.map((m, i) =>
    parseSetMember(
      {
        v: SET_MEMBER_VERSION,
        path: m.path,
        digestAlg: m.digestAlg ?? "sha256",
        digest: m.digest,
        salt: m.salt ?? toHex(globalThis.crypto.getRandomValues(new Uint8Array(32))),
        bytes: m.bytes,
      },
      `members[${i}]`,
    ),
  );
  built.sort((a, b) => compareUtf8(a.path, b.path));
  for (let i = 1; i < built.length; i++) {
    const path = (built[i] as SetMember).path;
    requireArgument(path !== (built[i - 1] as SetMember).path, `the path ${path} appears twice`);
  }
  return { format: SET_MANIFEST_FORMAT, root: toHex(setTree(built).root), members: built };
}

/**
 * Strictly validates an untrusted manifest: every member well-formed, paths strictly
 * increasing in UTF-8 byte order (so none repeats), and `root` the root of those members.
 * A manifest that does not hash to its root is unusable: MALFORMED.
 */
export function parseManifest(value: unknown): SetManifest {
  return checkManifest(value).manifest;
}

/**
 * The disclosure of the member at `path`: the member and its audit path, nothing else of
 * the set. Throws MALFORMED for a bad manifest, INVALID_ARGUMENT for a path not in the set.
 */
export function discloseMember(manifest: SetManifest, path: string): Disclosure {
  const { manifest: checked, tree } = checkManifest(manifest);
  const index = checked.members.findIndex((m) => m.path === path);
  requireArgument(index >= 0, `the set has no member ${JSON.stringify(path)}`);
  return {
    format: DISCLOSURE_FORMAT,
    root: checked.root,
    member: { ...(checked.members[index] as SetMember) },
    proof: { leafIndex: index, treeSize: tree.size, auditPath: tree.auditPath(index).map(to0xHex) },
  };
}

/** Strictly validates an untrusted value as a disclosure; throws CoreError MALFORMED. */
export function parseDisclosure(value: unknown): Disclosure {
  const d = object(value, "disclosure", ["format", "root", "member", "proof"]);
  requireWellFormed(d.format === DISCLOSURE_FORMAT, "disclosure.format", `expected "${DISCLOSURE_FORMAT}"`);
  requireWellFormed(isHex32(d.root), "disclosure.root", "expected 64 lowercase hex characters (no 0x)");
  parseSetMember(d.member, "disclosure.member");
  const p = object(d.proof, "disclosure.proof", ["leafIndex", "treeSize", "auditPath"]);
  requireWellFormed(
    isSafeNatural(p.leafIndex),
    "disclosure.proof.leafIndex",
    "expected a non-negative safe integer",
  );
  requireWellFormed(
    isSafeNatural(p.treeSize) && p.treeSize > 0,
    "disclosure.proof.treeSize",
    "expected a positive safe integer",
  );
  requireWellFormed(Array.isArray(p.auditPath), "disclosure.proof.auditPath", "expected an array");
  requireWellFormed(
    p.auditPath.length <= MAX_AUDIT_PATH,
    "disclosure.proof.auditPath",
    `more than ${MAX_AUDIT_PATH} elements`,
  );
  p.auditPath.forEach((h: unknown, i: number) =>
    requireWellFormed(
      typeof h === "string" && HEX32_0X.test(h),
      `disclosure.proof.auditPath[${i}]`,
      "expected 32 bytes of 0x-prefixed lowercase hex",
    ),
  );
  return value as Disclosure;
}

/**
 * Verifies an untrusted disclosure against an untrusted set certificate (protocol.md section 10):
 * both parse (MALFORMED); the file's digest, if given, is the member's (DIGEST_MISMATCH); the
 * member folds to the disclosure's root, which is the certificate's set digest
 * (PROOF_INVALID); then the certificate as verifyCertificate checks it, minus its digest step.
 * `leafIndex` and `treeSize` are not authenticated: the root commits to the member, not to
 * the set's size, so the result never states them. Throws only for a malformed file digest or
 * registry (the caller's mistake), as CoreError INVALID_ARGUMENT.
 */
export async function verifyDisclosure(
  disclosure: unknown,
  certificate: unknown,
  options: DisclosureVerifyOptions = {},
): Promise<DisclosureVerificationResult> {
  const fileDigest = options.fileDigest?.toLowerCase();
  requireArgument(fileDigest === undefined || isHex32(fileDigest), "fileDigest must be 64 hex characters");
  requireArgument(
    options.registry === undefined || checksumAddress(options.registry) !== null,
    "registry must be an address",
  );
  const digestChecked = fileDigest !== undefined;
  const invalid = (
    code: "MALFORMED" | "DIGEST_MISMATCH" | "PROOF_INVALID",
    message: string,
    found: { disclosure?: Disclosure; certificate?: Certificate } = {},
  ): DisclosureVerificationResult => ({
    outcome: "INVALID",
    code,
    message,
    digestChecked,
    chainConsulted: false,
    ...found,
  });

  // 1. strict parse of both documents; a malformed certificate reads as verifyCertificate says
  const disc = malformedOr(() => parseDisclosure(disclosure));
  if (disc instanceof CoreError) return invalid("MALFORMED", disc.message);
  const cert = malformedOr(() => parseCertificate(certificate));
  if (cert instanceof CoreError) return invalid("MALFORMED", cert.message, { disclosure: disc });
  const found = { disclosure: disc, certificate: cert };
  const { member, proof } = disc;

  // 2. the file is the member
  if (fileDigest !== undefined && fileDigest !== member.digest) {
    const alg = member.digestAlg === "sm3" ? "SM3" : "SHA-256";
    return invalid("DIGEST_MISMATCH", `the file's ${alg} differs from the member's digest`, found);
  }

  // 3. the member is in the set, and the set is the certificate's deposit
  const root = rootFromAuditPath(
    memberLeafHash(member),
    proof.leafIndex,
    proof.treeSize,
    proof.auditPath.map(fromHex),
  );
  if (root === null || !equalBytes(root, fromHex(disc.root)))
    return invalid("PROOF_INVALID", "the disclosure's audit path does not lead to its set root", found);
  if (cert.deposit.digestAlg !== SET_DIGEST_ALG)
    return invalid("PROOF_INVALID", "the certificate is not for a deposit set", found);
  if (cert.deposit.digest !== disc.root)
    return invalid("PROOF_INVALID", "the certificate deposits another set root", found);

  // 4. the certificate, with its own digest step skipped (the digest is the root, checked above)
  const result = await verifyCertificate(cert, { chain: options.chain, registry: options.registry });
  return {
    ...result,
    digestChecked,
    disclosure: disc,
    ...(result.outcome === "VALID" && { message: disclosureStatement(disc, cert) }),
  };
}

/** The sentence a court reads for a VALID disclosure. */
export function disclosureStatement(disclosure: Disclosure, certificate: Certificate): string {
  const { path, digest } = disclosure.member;
  const { deposit, anchor } = certificate;
  const when = new Date(anchor.blockTimestamp * 1000).toISOString();
  return (
    `file ${path} (digest ${digest}) belonged to the set deposited by ${deposit.depositor} ` +
    `no later than ${when} (block ${anchor.blockNumber}, chain ${anchor.chainId})`
  );
}

/** The parsed value, or the MALFORMED CoreError it raised; any other error propagates. */
function malformedOr<T>(parse: () => T): T | CoreError {
  try {
    return parse();
  } catch (e) {
    if (e instanceof CoreError && e.code === "MALFORMED") return e;
    throw e;
  }
}

function checkManifest(value: unknown): { manifest: SetManifest; tree: MerkleTree } {
  const m = object(value, "manifest", ["format", "root", "members"]);
  requireWellFormed(m.format === SET_MANIFEST_FORMAT, "manifest.format", `expected "${SET_MANIFEST_FORMAT}"`);
  requireWellFormed(isHex32(m.root), "manifest.root", "expected 64 lowercase hex characters (no 0x)");
  requireWellFormed(Array.isArray(m.members), "manifest.members", "expected an array");
  requireWellFormed(m.members.length > 0, "manifest.members", "a set has at least one member");
  const members = m.members.map((member: unknown, i: number) =>
    parseSetMember(member, `manifest.members[${i}]`),
  );
  for (let i = 1; i < members.length; i++) {
    requireWellFormed(
      compareUtf8((members[i - 1] as SetMember).path, (members[i] as SetMember).path) < 0,
      `manifest.members[${i}].path`,
      "not after the previous path in UTF-8 byte order (members are sorted, paths unique)",
    );
  }
  const tree = setTree(members);
  requireWellFormed(toHex(tree.root) === m.root, "manifest.root", "not the root of the members");
  return { manifest: value as SetManifest, tree };
}

function setTree(members: readonly SetMember[]): MerkleTree {
  return MerkleTree.fromLeafHashes(members.map(memberLeafHash));
}

function object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  requireWellFormed(isPlainObject(value), path, "expected an object");
  const allowed = new Set(keys);
  for (const key of Object.keys(value))
    requireWellFormed(allowed.has(key), `${path}.${key}`, "unknown field");
  for (const key of keys) requireWellFormed(key in value, `${path}.${key}`, "missing field");
  return value;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair (two units) is 4 bytes; a lone surrogate is refused separately.
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xe000 ? 2 : 3;
  }
  return n;
}
