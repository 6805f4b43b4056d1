import canonicalize from "canonicalize";
import {
  CoreError,
  parseManifest,
  verifyDisclosure,
  verifyEvidence,
  type VerificationResult,
} from "../../services/core";
import { checkDisclosureResult, errorText, mutateDisclosure, Tally, type DisclosureCheck } from "./harness";
import { mutate, mutateText, writeJson, type Json, type MutationWorld } from "./mutate";
import { caseIndices, Rng, runSeed, scaled } from "./prng";
import { buildWorld, type DisclosureCase, type World } from "./world";

// Issue 9 item 5: deposit sets (tsd-set/1). Disclosures, with their set's certificate, fuzzed
// through verifyDisclosure and the verdict layer against the in-memory chain; manifests
// through parseManifest. (a) VALID only for a member of a genuine set with that set's genuine
// certificate (leafIndex and treeSize are not authenticated, protocol.md section 10, so another
// position that folds alike may stay VALID); (b) a verdict, never a throw. Seeds as in
// verifier.fuzz.test.ts.

const SEED = runSeed();
let world: World;
let disclosureDonors: MutationWorld;
let certificateDonors: MutationWorld;

beforeAll(async () => {
  world = await buildWorld();
  disclosureDonors = {
    hashes: world.hashes,
    donors: world.disclosures.map((d) => d.disclosure) as unknown as Json[],
  };
  certificateDonors = { hashes: world.hashes, donors: world.certificates as unknown as Json[] };
});

async function verifyAndCheck(
  rng: Rng,
  base: DisclosureCase,
  disclosure: unknown,
  certificate: unknown,
  tally: Tally,
  index: number,
  mutations: string[],
): Promise<void> {
  const registry = rng.chance(0.4) ? rng.pick([world.registry, world.otherRegistry]) : undefined;
  const member = base.disclosure.member;
  const fileDigest = rng.chance(0.4)
    ? rng.pick([member.digest, member.digest.toUpperCase(), "1".repeat(64)])
    : undefined;
  const k: DisclosureCheck = { tally, index, mutations, world, registry, fileDigest };
  let result: Pick<VerificationResult, "outcome" | "code" | "message" | "chainError">;
  try {
    if (rng.chance(0.3)) {
      // As the service, the CLI and the pages call it. A file is compared only through a
      // disclosure whose member names its algorithm (the route checks this first).
      const withDigest =
        fileDigest !== undefined &&
        typeof disclosure === "object" &&
        disclosure !== null &&
        typeof (disclosure as any).member === "object" &&
        ["sha256", "sm3"].includes((disclosure as any).member?.digestAlg);
      if (!withDigest) k.fileDigest = undefined;
      const verdict = await verifyEvidence({
        certificate,
        disclosure,
        chain: world.chain,
        ...(registry === undefined ? {} : { registry }),
        ...(withDigest ? { fileDigest } : {}),
      });
      if (verdict.outcome === "VALID" && !verdict.statement?.en.includes((disclosure as any).member.path)) {
        tally.fail(
          index,
          "a VALID verdict states the member",
          JSON.stringify(verdict.statement),
          mutations,
          disclosure,
        );
      }
      result = verdict;
      tally.note("through verifyEvidence");
    } else {
      result = await verifyDisclosure(disclosure, certificate, {
        chain: world.chain,
        ...(registry === undefined ? {} : { registry }),
        ...(fileDigest === undefined ? {} : { fileDigest }),
      });
    }
  } catch (e) {
    tally.count("threw");
    tally.fail(index, "(b) the verifier returns a verdict", errorText(e), mutations, {
      disclosure,
      certificate,
    });
    return;
  }
  checkDisclosureResult(k, disclosure, certificate, result);
}

function report(tally: Tally): void {
  console.log(tally.summary());
  expect(tally.failures).toEqual([]);
}

test("disclosures: mutated values, with their certificate or another, mutated or not", async () => {
  const stream = "disclosure-value";
  const tally = new Tally(stream, SEED);
  for (const i of caseIndices(stream, scaled(31_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    const base = rng.pick(world.disclosures);
    const { disclosure, certificate, mutations } = mutateDisclosure(
      rng,
      base,
      world,
      disclosureDonors,
      certificateDonors,
    );
    tally.cases++;
    await verifyAndCheck(rng, base, disclosure, certificate, tally, i, mutations);
  }
  report(tally);
}, 600_000);

test("disclosures: mutated JSON text", async () => {
  const stream = "disclosure-text";
  const tally = new Tally(stream, SEED);
  for (const i of caseIndices(stream, scaled(7_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    const base = rng.pick(world.disclosures);
    let value = base.disclosure as unknown as Json;
    let mutations: string[] = [];
    if (rng.chance(0.3)) [value, mutations] = mutate(rng, value, disclosureDonors);
    let text = writeJson(rng, value);
    for (
      let e = rng.weighted<number>([
        [25, 0],
        [55, 1],
        [20, 2],
      ]);
      e > 0;
      e--
    ) {
      const [next, what] = mutateText(rng, text, disclosureDonors);
      text = next;
      mutations = [...mutations, what];
    }
    tally.cases++;
    let disclosure: unknown;
    try {
      disclosure = JSON.parse(text);
    } catch (e) {
      if (!(e instanceof SyntaxError))
        tally.fail(i, "JSON.parse throws SyntaxError", errorText(e), mutations, text);
      tally.count("not JSON");
      continue;
    }
    await verifyAndCheck(rng, base, disclosure, base.certificate, tally, i, mutations);
  }
  report(tally);
}, 600_000);

test("manifests: parseManifest accepts a genuine manifest alone, and throws nothing but MALFORMED", () => {
  const stream = "manifest";
  const tally = new Tally(stream, SEED);
  const donors: MutationWorld = { hashes: world.hashes, donors: world.manifests as unknown as Json[] };
  for (const i of caseIndices(stream, scaled(5_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    const [input, mutations] = mutate(rng, rng.pick(world.manifests) as unknown as Json, donors);
    tally.cases++;
    try {
      parseManifest(input);
    } catch (e) {
      if (e instanceof CoreError && e.code === "MALFORMED") {
        tally.count("MALFORMED");
        continue;
      }
      tally.count("threw");
      tally.fail(i, "(b) only CoreError MALFORMED from the parser", errorText(e), mutations, input);
      continue;
    }
    tally.count("accepted");
    if (!world.genuineManifests.has(canonicalize(input) as string)) {
      tally.fail(i, "(a) a manifest is accepted only when it is genuine", "accepted", mutations, input);
    }
  }
  report(tally);
});
