import {
  fileDigestAlg,
  verifyCertificate,
  verifyEvidence,
  type Certificate,
  type VerificationResult,
} from "../../services/core";
import { checkCertificateResult, errorText, mutateCertificate, Tally, type CertificateCase } from "./harness";
import { mutateText, writeJson, type Json, type MutationWorld } from "./mutate";
import { caseIndices, Rng, runSeed, scaled } from "./prng";
import { buildWorld, type World } from "./world";

// Issue 9 item 5: certificates fuzzed through the parser and the one verifier (services/core),
// against an in-memory chain holding every genuine anchor (world.ts). Each case starts from a
// genuine certificate, mutates it, and checks: (a) VALID only for a certificate that was issued
// (compared by canonical form, so a no-op mutation may stay VALID, and a genuine certificate
// written alike must stay VALID), (b) the verifier returns a verdict: nothing thrown, not even a
// CoreError, since its options are always valid here (its step 1 is parseCertificate, which it
// lets throw anything but CoreError MALFORMED).
//
// The streams, about 102,000 cases and a minute of CPU in all, every case fully verified unless
// it is not JSON:
//   certificate-value  45,000  here: values mutated (mutate.ts, harness.ts)
//   certificate-text   12,000  here: JSON text written and mutated
//   disclosure-value   31,000  disclosure.fuzz.test.ts
//   disclosure-text     7,000  disclosure.fuzz.test.ts
//   manifest            5,000  disclosure.fuzz.test.ts (parseManifest alone)
//   verify-route        2,000  verify-route.fuzz.test.ts (POST /v1/verify in process)
// Seeded (prng.ts): each stream prints its seed and counts. FUZZ_SEED=<n> (or "random") runs
// another seed, FUZZ_CASE=<stream>:<i> replays the one case a failure names, FUZZ_SCALE=<x>
// runs x times as many cases.

const SEED = runSeed();
let world: World;
let donors: MutationWorld;

beforeAll(async () => {
  world = await buildWorld();
  donors = { hashes: world.hashes, donors: world.certificates as unknown as Json[] };
});

/** Verifies `input` with random options (registry pinned or not, a digest or not, the verdict layer or not), and checks it. */
async function verifyAndCheck(
  rng: Rng,
  base: Certificate,
  input: unknown,
  tally: Tally,
  index: number,
  mutations: string[],
): Promise<void> {
  const registry = rng.chance(0.5)
    ? rng.pick([world.registry, world.registry.toLowerCase(), world.otherRegistry])
    : undefined;
  const digest = rng.chance(0.3)
    ? rng.pick([base.deposit.digest, base.deposit.digest.toUpperCase(), "0".repeat(64)])
    : undefined;
  const k: CertificateCase = { tally, index, mutations, world, registry, digest };
  let result: Pick<VerificationResult, "outcome" | "code" | "message" | "chainError">;
  try {
    if (rng.chance(0.25)) {
      // the verdict layer, as the CLI, the pages and the service call it
      const withDigest = digest !== undefined && fileDigestAlg(input) !== null;
      if (!withDigest) k.digest = undefined;
      result = await verifyEvidence({
        certificate: input,
        chain: world.chain,
        ...(registry === undefined ? {} : { registry }),
        ...(withDigest ? { fileDigest: digest } : {}),
      });
      tally.note("through verifyEvidence");
    } else {
      result = await verifyCertificate(input, {
        chain: world.chain,
        ...(registry === undefined ? {} : { registry }),
        ...(digest === undefined ? {} : { digest }),
      });
    }
  } catch (e) {
    tally.count("threw");
    tally.fail(index, "(b) the verifier returns a verdict", errorText(e), mutations, input);
    return;
  }
  checkCertificateResult(k, input, result);
}

function report(tally: Tally): void {
  console.log(tally.summary());
  expect(tally.failures).toEqual([]);
}

test("certificates: mutated values (fields changed, removed, added, retyped, reordered, spliced)", async () => {
  const stream = "certificate-value";
  const tally = new Tally(stream, SEED);
  for (const i of caseIndices(stream, scaled(45_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    const base = rng.pick(world.certificates);
    const [input, mutations] = mutateCertificate(rng, base, world, donors);
    tally.cases++;
    await verifyAndCheck(rng, base, input, tally, i, mutations);
  }
  report(tally);
}, 600_000);

test("certificates: mutated JSON text (layout, escapes, repeated keys, __proto__, bytes, truncation, nesting)", async () => {
  const stream = "certificate-text";
  const tally = new Tally(stream, SEED);
  for (const i of caseIndices(stream, scaled(12_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    const base = rng.pick(world.certificates);
    let value = base as unknown as Json;
    let mutations: string[] = [];
    if (rng.chance(0.3)) [value, mutations] = mutateCertificate(rng, base, world, donors);
    let text = writeJson(rng, value);
    const edits = rng.weighted<number>([
      [25, 0],
      [55, 1],
      [20, 2],
    ]);
    for (let e = 0; e < edits; e++) {
      const [next, what] = mutateText(rng, text, donors);
      text = next;
      mutations = [...mutations, what];
    }
    tally.cases++;
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch (e) {
      // Every verifier form reads the file first; unreadable JSON never reaches the core.
      if (!(e instanceof SyntaxError))
        tally.fail(i, "JSON.parse throws SyntaxError", errorText(e), mutations, text);
      tally.count("not JSON");
      continue;
    }
    await verifyAndCheck(rng, base, input, tally, i, mutations);
  }
  report(tally);
}, 600_000);
