import type * as Address from "../../services/core/address";
import type * as Attestation from "../../services/core/attestation";
import { recoveredSignerStats } from "../../services/core/attestation";
import type * as Core from "../../services/core";
import { CachingChainReader } from "../../services/chain/cached-reader";
import { verifyCertificate, type ChainReader, type VerificationResult } from "../../services/core";
import { mutateCertificate, errorText, Tally } from "./harness";
import { type Json, type MutationWorld } from "./mutate";
import { caseIndices, Rng, runSeed, scaled } from "./prng";
import { buildWorld, type World } from "./world";

// The verifier's memories change no verdict. Each case, a genuine certificate mutated as the
// verifier fuzzer mutates them (harness.ts), is verified three times: twice through one
// CachingChainReader shared by every case, with the core's memos (signatures, addresses) as
// earlier cases left them (the second time every answer it can keep is in memory); and by a
// second instance of the core with its memos emptied, reading the chain directly (no cache).
// The three verdicts must be equal, for VALID and for every reason: those the mutations reach,
// and the chain's own (another chain, another block, a key the registry does not know) from
// chains that differ from the world's in one answer, each with its own cache.

const SEED = runSeed();
let world: World;
let donors: MutationWorld;
/** A second instance of the core, whose memories are emptied before each of its verifications. */
let fresh: { core: typeof Core; attestation: typeof Attestation; address: typeof Address };

beforeAll(async () => {
  world = await buildWorld();
  donors = { hashes: world.hashes, donors: world.certificates as unknown as Json[] };
  jest.isolateModules(() => {
    fresh = {
      core: jest.requireActual<typeof Core>("../../services/core"),
      attestation: jest.requireActual<typeof Attestation>("../../services/core/attestation"),
      address: jest.requireActual<typeof Address>("../../services/core/address"),
    };
  });
});

test("the same verdict with and without the chain cache and the core's memos", async () => {
  const stream = "cache-equivalence";
  const tally = new Tally(stream, SEED);
  const chains: ChainReader[] = [
    world.chain,
    { ...world.chain, chainId: async () => 1n },
    {
      ...world.chain,
      block: async (n) =>
        (await world.chain.block(n)) ? { hash: `0x${"ee".repeat(32)}`, timestamp: 1n } : null,
    },
    { ...world.chain, certifier: async () => ({ since: 0n, until: 0n }) },
  ];
  // Every block of the world is final: whatever the cache may keep, it keeps.
  const caches = chains.map(
    (chain) =>
      new CachingChainReader(chain, async () => 1_000_000, {
        confirmations: 1,
        maxEntries: 10_000,
        ttlMs: 3_600_000,
      }),
  );
  const hitsBefore = recoveredSignerStats.hits;
  for (const i of caseIndices(stream, scaled(2_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    const base = rng.pick(world.certificates);
    const [input, mutations] = rng.chance(0.2)
      ? [structuredClone(base), []]
      : mutateCertificate(rng, base, world, donors);
    const c = rng.chance(0.7) ? 0 : rng.range(1, chains.length - 1);
    const [chain, cached] = [chains[c]!, caches[c]!];
    const registry = rng.chance(0.5) ? rng.pick([world.registry, world.otherRegistry]) : undefined;
    const digest = rng.chance(0.2) ? rng.pick([base.deposit.digest, "0".repeat(64)]) : undefined;
    const options = {
      ...(registry === undefined ? {} : { registry }),
      ...(digest === undefined ? {} : { digest }),
    };
    tally.cases++;
    let results: VerificationResult[];
    try {
      // Through the caches, which hold what earlier cases left; and with none.
      const first = await verifyCertificate(input, { ...options, chain: cached });
      const second = await verifyCertificate(input, { ...options, chain: cached });
      fresh.attestation.forgetRecoveredSigners();
      fresh.address.forgetCheckedAddresses();
      const direct = await fresh.core.verifyCertificate(input, { ...options, chain });
      results = [direct, first, second];
    } catch (e) {
      tally.fail(i, "the verifier returns a verdict", errorText(e), mutations, input);
      continue;
    }
    const [direct, ...again] = results as [VerificationResult, ...VerificationResult[]];
    const label = direct.outcome === "INVALID" ? `INVALID ${direct.code}` : direct.outcome;
    tally.count(label);
    for (const other of again) {
      if (JSON.stringify(other, bigints) !== JSON.stringify(direct, bigints)) {
        tally.fail(
          i,
          "the same verdict from memory",
          `${label} became ${other.outcome} ${other.code}`,
          mutations,
          input,
        );
      }
    }
  }
  console.log(tally.summary());
  expect(tally.failures).toEqual([]);
  // The comparison covered VALID and every reason a mutation of a genuine certificate reaches.
  expect([...tally.outcomes.keys()].sort()).toEqual(
    expect.arrayContaining([
      "VALID",
      "INVALID MALFORMED",
      "INVALID DIGEST_MISMATCH",
      "INVALID PROOF_INVALID",
      "INVALID SIGNATURE_INVALID",
      "INVALID NOT_ANCHORED",
      "INVALID ANCHOR_MISMATCH",
      "INVALID CHAIN_MISMATCH",
      "INVALID SIGNER_NOT_AUTHORISED",
    ]),
  );
  // The second verification of a case found its signature in memory.
  expect(recoveredSignerStats.hits).toBeGreaterThan(hitsBefore);
  expect(caches[0]!.size).toBeGreaterThan(0);
}, 600_000);

const bigints = (_key: string, value: unknown) => (typeof value === "bigint" ? `${value}n` : value);
