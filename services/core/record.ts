import canonicalize from "canonicalize";
import { toHex } from "./bytes";
import { invariant, requireWellFormed } from "./errors";
import { hashLeaf } from "./merkle";

// The deposit record of protocol.md section 3: the exact object committed in the tree.

/** The record format version this code writes and reads. */
export const RECORD_VERSION = 1;

/**
 * How a record's `digest` was made (protocol.md section 3): SHA-256 or SM3 (GB/T 32905-2016) of
 * the file, or the root of a deposit set (section 12). Record version 1 knows no others.
 */
export const DIGEST_ALGS = ["sha256", "sm3", "tsd-set/1"] as const;
export type DigestAlg = (typeof DIGEST_ALGS)[number];

/** The algorithm a deposit has when none is named. */
export const DEFAULT_DIGEST_ALG: DigestAlg = "sha256";

/** True for a digest algorithm of record version 1. */
export function isDigestAlg(value: unknown): value is DigestAlg {
  return typeof value === "string" && (DIGEST_ALGS as readonly string[]).includes(value);
}

/** A deposit record, version 1. Every string is ASCII; every number a safe integer >= 0. */
export interface DepositRecord {
  readonly v: typeof RECORD_VERSION;
  /** UUID v4, lowercase. */
  readonly id: string;
  /** The tenant's stable public identifier, e.g. `uscc:<18-char code>`. Printable ASCII. */
  readonly depositor: string;
  readonly digestAlg: DigestAlg;
  /** The file's SHA-256 or SM3, or a deposit set's root: 64 lowercase hex. */
  readonly digest: string;
  /** 32 CSPRNG bytes, 64 lowercase hex: hides the digest from holders of sibling hashes. */
  readonly salt: string;
  /** When the service accepted the deposit, ms since the epoch. */
  readonly receivedAt: number;
  /** The id of an earlier deposit this one supersedes. */
  readonly prev?: string;
}

/** What a new record is made of; `id` and `salt` are drawn from a CSPRNG when absent. */
export interface NewDepositRecord {
  depositor: string;
  digest: string;
  /** Default sha256. */
  digestAlg?: DigestAlg;
  receivedAt: number;
  prev?: string;
  id?: string;
  salt?: string;
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HEX32 = /^[0-9a-f]{64}$/;
const DEPOSITOR = /^[\x20-\x7e]{1,256}$/;
const REQUIRED_KEYS = ["v", "id", "depositor", "digestAlg", "digest", "salt", "receivedAt"] as const;
const ALLOWED_KEYS = new Set<string>([...REQUIRED_KEYS, "prev"]);

/** True for a lowercase UUID v4. */
export function isUuidV4(value: unknown): value is string {
  return typeof value === "string" && UUID_V4.test(value);
}

/** True for 64 lowercase hex characters (a SHA-256 digest or a salt). */
export function isHex32(value: unknown): value is string {
  return typeof value === "string" && HEX32.test(value);
}

/** True for a valid depositor identifier: 1 to 256 printable ASCII characters. */
export function isDepositor(value: unknown): value is string {
  return typeof value === "string" && DEPOSITOR.test(value);
}

/** Creates a record with a fresh CSPRNG salt (and id); throws MALFORMED for bad fields. */
export function createDepositRecord(input: NewDepositRecord): DepositRecord {
  const record: DepositRecord = {
    v: RECORD_VERSION,
    id: input.id ?? globalThis.crypto.randomUUID(),
    depositor: input.depositor,
    digestAlg: input.digestAlg ?? DEFAULT_DIGEST_ALG,
    digest: input.digest,
    salt: input.salt ?? toHex(globalThis.crypto.getRandomValues(new Uint8Array(32))),
    receivedAt: input.receivedAt,
    ...(input.prev === undefined ? {} : { prev: input.prev }),
  };
  return parseDepositRecord(record);
}

/**
 * Strictly validates an untrusted value as a record version 1: no missing, extra or
 * ill-typed field. Throws CoreError MALFORMED with the offending path.
 */
export function parseDepositRecord(value: unknown, path = "deposit"): DepositRecord {
  requireWellFormed(isPlainObject(value), path, "expected an object");
  for (const key of Object.keys(value)) {
    requireWellFormed(ALLOWED_KEYS.has(key), `${path}.${key}`, "unknown field");
  }
  for (const key of REQUIRED_KEYS) {
    requireWellFormed(key in value, `${path}.${key}`, "missing field");
  }
  const r = value as Record<string, unknown>;
  requireWellFormed(r.v === RECORD_VERSION, `${path}.v`, `unsupported record version`);
  requireWellFormed(isUuidV4(r.id), `${path}.id`, "expected a lowercase UUID v4");
  requireWellFormed(
    isDepositor(r.depositor),
    `${path}.depositor`,
    "expected 1-256 printable ASCII characters",
  );
  requireWellFormed(
    isDigestAlg(r.digestAlg),
    `${path}.digestAlg`,
    `expected one of ${DIGEST_ALGS.join(", ")}`,
  );
  requireWellFormed(isHex32(r.digest), `${path}.digest`, "expected 64 lowercase hex characters");
  requireWellFormed(isHex32(r.salt), `${path}.salt`, "expected 64 lowercase hex characters");
  requireWellFormed(
    isSafeNatural(r.receivedAt),
    `${path}.receivedAt`,
    "expected a non-negative safe integer",
  );
  if ("prev" in r) {
    requireWellFormed(isUuidV4(r.prev), `${path}.prev`, "expected a lowercase UUID v4");
    requireWellFormed(r.prev !== r.id, `${path}.prev`, "a deposit cannot supersede itself");
  }
  return value as unknown as DepositRecord;
}

/** The RFC 8785 (JCS) serialisation of a record: the bytes that are hashed into the leaf. */
export function canonicalRecord(record: DepositRecord): string {
  const json = canonicalize(record);
  invariant(json !== undefined, "a record always serialises");
  return json;
}

/** leafHash = SHA-256(0x00 || UTF-8(JCS(record))). */
export function recordLeafHash(record: DepositRecord): Uint8Array {
  return hashLeaf(new TextEncoder().encode(canonicalRecord(record)));
}

/** True for a non-negative safe integer. */
export function isSafeNatural(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** True for a non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
