import canonicalize from "canonicalize";
import { getAddress, Signature } from "ethers";
import { CoreError, type Certificate, type Disclosure, type VerificationResult } from "../../services/core";
import { copy, describe, mutate, type Json, type MutationWorld } from "./mutate";
import type { Rng } from "./prng";
import { canonicalCertificate, memberKey, type DisclosureCase, type World } from "./world";

// What every fuzz stream shares: the tally of cases and outcomes, the failure log, and the
// mutations that know what a certificate is.

/** A property that failed on one case, with what it takes to replay it. */
export interface Failure {
  /** `stream:index`: FUZZ_SEED=<seed> FUZZ_CASE=<this> replays it alone. */
  replay: string;
  property: string;
  detail: string;
  mutations: string[];
  input: string;
}

export class Tally {
  readonly started = performance.now();
  readonly cpuStarted = process.cpuUsage();
  cases = 0;
  readonly outcomes = new Map<string, number>();
  readonly failures: Failure[] = [];
  readonly notes = new Map<string, number>();

  constructor(
    readonly stream: string,
    readonly seed: number,
  ) {}

  count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  note(what: string): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + 1);
  }

  fail(index: number, property: string, detail: string, mutations: string[], input: unknown): void {
    if (this.failures.length >= 20) return;
    this.failures.push({
      replay: `${this.stream}:${index}`,
      property,
      detail,
      mutations,
      input: preview(input),
    });
  }

  /** One line per stream: seed, cases, time, and how the cases ended. */
  summary(): string {
    const ms = Math.round(performance.now() - this.started);
    const cpu = process.cpuUsage(this.cpuStarted);
    const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
    const sorted = (m: Map<string, number>) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(", ");
    return (
      `fuzz ${this.stream}: seed ${this.seed} (0x${this.seed.toString(16)}), ${this.cases} cases in ${ms} ms (CPU ${cpuMs} ms); ` +
      `outcomes: ${sorted(this.outcomes)}` +
      (this.notes.size > 0 ? `; ${sorted(this.notes)}` : "") +
      `; failures ${this.failures.length}`
    );
  }
}

/** A short, safe rendering of any input for a failure report. */
export function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch (e) {
    text = `(not serialisable: ${(e as Error).name})`;
  }
  return text.length > 1500 ? `${text.slice(0, 1500)}… (${text.length} characters)` : text;
}

/** An error as a failure report names it. */
export function errorText(e: unknown): string {
  if (e instanceof CoreError) return `CoreError ${e.code}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return `thrown ${describe(e)}`;
}

/** The secp256k1 group order: n - s is the other valid s of a signature (ECDSA malleability). */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Mutations that know a certificate: its signature, its addresses, its signed fields, its batch. */
export function mutateCertificate(
  rng: Rng,
  base: Certificate,
  world: World,
  donors: MutationWorld,
): [Json, string[]] {
  const kind = rng.weighted<string>([
    [78, "generic"],
    [8, "signature"],
    [5, "address case"],
    [6, "splice"],
    [1, "issuedAt"],
    [2, "anchor and message alike"],
  ]);
  if (kind === "generic") return mutate(rng, base as unknown as Json, donors);
  const c = copy(base as unknown as Json) as any;
  switch (kind) {
    case "signature": {
      const sig = c.attestation.signature as string;
      const r = sig.slice(2, 66);
      const s = BigInt(`0x${sig.slice(66, 130)}`);
      const v = parseInt(sig.slice(130), 16);
      const hex32 = (x: bigint) => x.toString(16).padStart(64, "0").slice(-64);
      const what = rng.weighted<string>([
        [5, "v"],
        [2, "malleated s"],
        [1, "zero r"],
        [1, "zero s"],
        [1, "s + n"],
        [1, "compact (64 bytes)"],
      ]);
      if (what === "v") {
        const nv = rng.pick([
          0,
          1,
          27,
          28,
          29,
          26,
          35,
          36,
          37,
          38,
          0x3b,
          0x3c,
          0x9b,
          0x9c,
          0xfe,
          0xff,
          rng.int(256),
        ]);
        c.attestation.signature = `0x${r}${hex32(s)}${nv.toString(16).padStart(2, "0")}`;
        return [c, [`signature v ${v} -> ${nv}`]];
      }
      if (what === "malleated s") {
        c.attestation.signature = `0x${r}${hex32(N - s)}${(v === 27 ? 28 : 27).toString(16)}`;
        return [c, ["signature s -> n - s, v flipped"]];
      }
      if (what === "zero r") c.attestation.signature = `0x${"0".repeat(64)}${sig.slice(66)}`;
      else if (what === "zero s") c.attestation.signature = `0x${r}${"0".repeat(64)}${sig.slice(130)}`;
      else if (what === "s + n") c.attestation.signature = `0x${r}${hex32(s + N)}${sig.slice(130)}`;
      else c.attestation.signature = Signature.from(sig).compactSerialized;
      return [c, [`signature: ${what}`]];
    }
    case "address case": {
      const which = rng.pick(["registry", "signer", "verifyingContract"]);
      const holder =
        which === "registry" ? c.anchor : which === "signer" ? c.attestation : c.attestation.typedData.domain;
      const a = holder[which] as string;
      const form = rng.pick(["lower", "upper", "checksum", "random case"]);
      holder[which] =
        form === "lower"
          ? a.toLowerCase()
          : form === "upper"
            ? `0x${a.slice(2).toUpperCase()}`
            : form === "checksum"
              ? getAddress(a)
              : `0x${[...a.slice(2)].map((ch) => (rng.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase())).join("")}`;
      return [c, [`${which} in ${form}`]];
    }
    case "splice": {
      const sameBatch = world.certificates.filter((x) => x.anchor.root === base.anchor.root && x !== base);
      const other = rng.pick(world.certificates);
      const part = rng.pick([
        "deposit",
        "proof",
        "deposit and proof",
        "anchor",
        "attestation",
        "anchor and attestation",
      ]);
      const donor = sameBatch.length > 0 && rng.chance(0.6) ? rng.pick(sameBatch) : other;
      for (const key of part.split(" and ")) c[key] = copy((donor as any)[key]);
      return [
        c,
        [`${part} from ${donor === other ? "another certificate" : "a certificate of the same batch"}`],
      ];
    }
    case "issuedAt": {
      const delta = rng.pick([-1, 1, -86400, 3600, 10 ** 9]);
      c.attestation.typedData.message.issuedAt += delta;
      return [c, [`issuedAt ${delta > 0 ? "+" : ""}${delta}`]];
    }
    default: {
      const field = rng.pick([
        "blockNumber",
        "blockTimestamp",
        "batch",
        "txHash",
        "blockHash",
        "root",
        "chainId",
        "treeSize",
      ]);
      const tweak = (x: any) =>
        typeof x === "number" ? x + rng.pick([1, -1, 1000]) : rng.pick(world.hashes);
      if (field === "chainId") {
        c.anchor.chainId = tweak(c.anchor.chainId);
        c.attestation.typedData.domain.chainId = c.anchor.chainId;
      } else if (field === "treeSize") {
        c.proof.treeSize = tweak(c.proof.treeSize);
        c.attestation.typedData.message.treeSize = c.proof.treeSize;
      } else {
        c.anchor[field] = tweak(c.anchor[field]);
        c.attestation.typedData.message[field] = c.anchor[field];
      }
      return [c, [`anchor.${field} and the signed one alike`]];
    }
  }
}

/** What a stream knows of the case it checks a verification of. */
export interface CertificateCase {
  tally: Tally;
  index: number;
  mutations: string[];
  world: World;
  /** The options the verifier was given. */
  registry?: string | undefined;
  digest?: string | undefined;
}

/** Canonical form -> genuine certificate, and the signatures and deposit ids of all of them, for the checks below. */
const indexes = new WeakMap<World, { byForm: Map<string, Certificate>; ids: Set<string> }>();
function genuine(world: World): { byForm: Map<string, Certificate>; ids: Set<string> } {
  let m = indexes.get(world);
  if (!m) {
    m = {
      byForm: new Map(world.certificates.map((c) => [canonicalCertificate(c), c])),
      ids: new Set(world.certificates.map((c) => `${c.deposit.id} ${c.attestation.signature}`)),
    };
    indexes.set(world, m);
  }
  return m;
}

/** The strict form: JCS alone, addresses as written. */
const strictForm = (value: unknown) => canonicalize(value) as string;

/**
 * The properties of one verification of a certificate `input`:
 * - (a) VALID only for a genuine certificate (same canonical form), and only when the options
 *   allow it (a pinned registry is the one named, a given digest is the deposited one);
 * - a genuine certificate written with the same JCS, under options that allow it, is VALID;
 * - the chain (in memory, never failing) is always consulted once steps 1 to 5.2 pass.
 */
export function checkCertificateResult(
  k: CertificateCase,
  input: unknown,
  result: Pick<VerificationResult, "outcome" | "code" | "message" | "chainError">,
): void {
  const { tally, index, mutations } = k;
  const fail = (property: string, detail: string) => tally.fail(index, property, detail, mutations, input);
  tally.count(result.outcome === "INVALID" ? `${result.code}` : result.outcome);
  if (result.outcome === "UNANCHORED_CHECK_ONLY") {
    fail(
      "the chain is consulted",
      `UNANCHORED_CHECK_ONLY with a chain that never fails: ${result.chainError}`,
    );
  }
  if (result.code === "MALFORMED") return;
  const cert = input as Certificate;
  const known = genuine(k.world);
  // Only a certificate with a genuine deposit id and signature can have a genuine form: the
  // canonical form (a JCS of the whole) is computed for those alone, and for every VALID.
  if (result.outcome !== "VALID" && !known.ids.has(`${cert.deposit.id} ${cert.attestation.signature}`))
    return;
  const match = known.byForm.get(canonicalCertificate(input));
  const allowed =
    match !== undefined &&
    (k.registry === undefined || getAddress(k.registry) === getAddress(match.anchor.registry)) &&
    (k.digest === undefined || k.digest.toLowerCase() === match.deposit.digest);
  if (result.outcome === "VALID") {
    if (!match)
      fail("(a) no false VALID", `VALID for a certificate that was never issued: ${result.message}`);
    else if (!allowed)
      fail("(a) no false VALID", `VALID despite registry ${k.registry} or digest ${k.digest}`);
    else
      tally.note(
        strictForm(input) === strictForm(match) ? "VALID, same JCS" : "VALID, addresses in another case",
      );
    if (cert.deposit.receivedAt > cert.anchor.blockTimestamp * 1000)
      fail("(a) no false VALID", "VALID against the time invariant");
  } else if (allowed && strictForm(input) === strictForm(match)) {
    fail(
      "genuine stays VALID",
      `a genuine certificate (same JCS) was ${result.code ?? result.outcome}: ${result.message}`,
    );
  }
}

/** Mutations that know a disclosure: its member, its proof, its root, and the certificate it comes with. */
export function mutateDisclosure(
  rng: Rng,
  base: DisclosureCase,
  world: World,
  disclosureDonors: MutationWorld,
  certificateDonors: MutationWorld,
): { disclosure: Json; certificate: Json; mutations: string[] } {
  const kind = rng.weighted<string>([
    [70, "disclosure"],
    [8, "certificate"],
    [6, "both"],
    [6, "another certificate"],
    [6, "member of another"],
    [4, "leafIndex and treeSize"],
  ]);
  let disclosure = base.disclosure as unknown as Json;
  let certificate = base.certificate as unknown as Json;
  let mutations: string[] = [];
  if (kind === "disclosure" || kind === "both") {
    const [d, log] = mutate(rng, disclosure, disclosureDonors);
    disclosure = d;
    mutations = log.map((m) => `disclosure ${m}`);
  }
  if (kind === "certificate" || kind === "both") {
    const [c, log] = mutateCertificate(rng, base.certificate, world, certificateDonors);
    certificate = c;
    mutations = [...mutations, ...log.map((m) => `certificate ${m}`)];
  }
  if (kind === "another certificate") {
    const other = rng.pick(world.certificates);
    certificate = other as unknown as Json;
    mutations = [
      `the certificate of ${other.deposit.digestAlg === "tsd-set/1" ? "another set" : "a single file"}`,
    ];
  }
  if (kind === "member of another") {
    const other = rng.pick(world.disclosures);
    const d = copy(disclosure) as any;
    d.member = copy(other.disclosure.member as unknown as Json);
    const withProof = rng.chance(0.5);
    if (withProof) d.proof = copy(other.disclosure.proof as unknown as Json);
    disclosure = d;
    mutations = [`member${withProof ? " and proof" : ""} of another disclosure`];
  }
  if (kind === "leafIndex and treeSize") {
    // Not authenticated (protocol.md section 10): another pair that folds alike may stay VALID.
    const d = copy(disclosure) as any;
    d.proof.leafIndex = rng.pick([
      d.proof.leafIndex + 1,
      d.proof.leafIndex - 1,
      d.proof.leafIndex ^ 1,
      0,
      rng.int(16),
    ]);
    d.proof.treeSize = rng.pick([
      d.proof.treeSize,
      d.proof.treeSize + 1,
      d.proof.treeSize - 1,
      d.proof.treeSize * 2,
      rng.range(1, 16),
    ]);
    disclosure = d;
    mutations = [`proof at ${d.proof.leafIndex} of ${d.proof.treeSize}`];
  }
  return { disclosure, certificate, mutations };
}

/** What a stream knows of a disclosure case it checks. */
export interface DisclosureCheck extends CertificateCase {
  fileDigest?: string | undefined;
}

const memberIndexes = new WeakMap<World, { salts: Set<string>; byKey: Map<string, DisclosureCase> }>();
function genuineMembers(world: World): { salts: Set<string>; byKey: Map<string, DisclosureCase> } {
  let m = memberIndexes.get(world);
  if (!m) {
    m = {
      salts: new Set(
        world.disclosures.map((d) => `${d.disclosure.member.salt} ${d.certificate.attestation.signature}`),
      ),
      byKey: new Map(world.disclosures.map((d) => [memberKey(d.disclosure.member, d.certificate), d])),
    };
    memberIndexes.set(world, m);
  }
  return m;
}

/**
 * The properties of one verification of a disclosure with a certificate:
 * - (a) VALID only when the member belonged to the set of a genuine certificate (memberKey),
 *   and the options allow it (pinned registry, the file's digest is the member's);
 * - a genuine pair, written with the same JCS, under options that allow it, is VALID;
 * - the chain (never failing) is consulted once the documents pass the offline steps.
 */
export function checkDisclosureResult(
  k: DisclosureCheck,
  disclosure: unknown,
  certificate: unknown,
  result: Pick<VerificationResult, "outcome" | "code" | "message" | "chainError">,
): void {
  const { tally, index, mutations } = k;
  const fail = (property: string, detail: string) =>
    tally.fail(index, property, detail, mutations, { disclosure, certificate });
  tally.count(result.outcome === "INVALID" ? `${result.code}` : result.outcome);
  if (result.outcome === "UNANCHORED_CHECK_ONLY") {
    fail(
      "the chain is consulted",
      `UNANCHORED_CHECK_ONLY with a chain that never fails: ${result.chainError}`,
    );
  }
  if (result.code === "MALFORMED") return;
  const d = disclosure as Disclosure;
  const c = certificate as Certificate;
  if (
    result.outcome !== "VALID" &&
    (typeof d?.member?.salt !== "string" ||
      typeof c?.attestation?.signature !== "string" ||
      !genuineMembers(k.world).salts.has(`${d.member.salt} ${c.attestation.signature}`))
  ) {
    return;
  }
  const pair = genuineMembers(k.world).byKey.get(memberKey(d.member, c));
  const allowed =
    pair !== undefined &&
    (k.registry === undefined || getAddress(k.registry) === getAddress(pair.certificate.anchor.registry)) &&
    (k.fileDigest === undefined || k.fileDigest.toLowerCase() === pair.disclosure.member.digest);
  if (result.outcome === "VALID") {
    if (!pair) fail("(a) no false VALID", `VALID for a member of no genuine set: ${result.message}`);
    else if (!allowed)
      fail("(a) no false VALID", `VALID despite registry ${k.registry} or file digest ${k.fileDigest}`);
    else if (d.root !== c.deposit.digest)
      fail("(a) no false VALID", "VALID for a disclosure of another root");
    else
      tally.note(
        strictForm(d) === strictForm(pair.disclosure) ? "VALID, same JCS" : "VALID, another proof position",
      );
  } else if (
    allowed &&
    strictForm(d) === strictForm(pair.disclosure) &&
    strictForm(c) === strictForm(pair.certificate)
  ) {
    fail(
      "genuine stays VALID",
      `a genuine disclosure (same JCS) was ${result.code ?? result.outcome}: ${result.message}`,
    );
  }
}
