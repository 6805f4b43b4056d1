import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance } from "fastify";
import { installErrorHandling } from "../../services/api/error-handler";
import { ErrorBody } from "../../services/api/schemas";
import { verifyRoutes } from "../../services/verify/routes";
import {
  checkCertificateResult,
  checkDisclosureResult,
  mutateCertificate,
  mutateDisclosure,
  Tally,
} from "./harness";
import { mutateText, writeJson, type Json, type MutationWorld } from "./mutate";
import { caseIndices, Rng, runSeed, scaled } from "./prng";
import { buildWorld, type World } from "./world";

// Issue 9 item 5: POST /v1/verify's input, fuzzed in process (Fastify's inject, no socket):
// the route as the API mounts it (TypeBox validation, the error catalogue, JSON only) over the
// in-memory chain, trusting the platform's registry. Every answer is a verdict (200) or a 4xx
// with a code of the catalogue, never a 5xx; a VALID answer is held to the properties of
// verifier.fuzz.test.ts and disclosure.fuzz.test.ts. Seeds as there.

const SEED = runSeed();
let world: World;
let app: FastifyInstance;
let certificateDonors: MutationWorld;
let disclosureDonors: MutationWorld;

beforeAll(async () => {
  world = await buildWorld();
  certificateDonors = { hashes: world.hashes, donors: world.certificates as unknown as Json[] };
  disclosureDonors = {
    hashes: world.hashes,
    donors: world.disclosures.map((d) => d.disclosure) as unknown as Json[],
  };
  const api = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  api.setValidatorCompiler(TypeBoxValidatorCompiler);
  api.addSchema(ErrorBody);
  installErrorHandling(api);
  api.removeContentTypeParser("text/plain");
  await api.register(
    async (v1) =>
      v1.register(verifyRoutes, {
        chain: world.chain,
        registry: world.registry,
        concurrency: 4,
        queueMax: 1000,
      }),
    { prefix: "/v1" },
  );
  app = api;
});
afterAll(async () => app?.close());

const CODES_4XX = new Set([
  "VALIDATION_FAILED",
  "BAD_REQUEST",
  "MALFORMED_JSON",
  "DIGEST_INVALID",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
]);

test("POST /v1/verify: mutated bodies get a verdict or a 4xx, never a 5xx or a false VALID", async () => {
  const stream = "verify-route";
  const tally = new Tally(stream, SEED);
  for (const i of caseIndices(stream, scaled(2_000))) {
    const rng = Rng.forCase(SEED, stream, i);
    let body: Record<string, Json>;
    let mutations: string[];
    let digest: string | undefined;
    const single = rng.chance(0.6);
    if (single) {
      const base = rng.pick(world.certificates);
      let certificate: Json;
      [certificate, mutations] = rng.chance(0.8)
        ? mutateCertificate(rng, base, world, certificateDonors)
        : [base as unknown as Json, []];
      digest = rng.chance(0.3)
        ? rng.pick([base.deposit.digest, base.deposit.digest.toUpperCase(), "abc"])
        : undefined;
      body = { certificate, ...(digest === undefined ? {} : { digest }) };
    } else {
      const base = rng.pick(world.disclosures);
      const m = rng.chance(0.8)
        ? mutateDisclosure(rng, base, world, disclosureDonors, certificateDonors)
        : {
            disclosure: base.disclosure as unknown as Json,
            certificate: base.certificate as unknown as Json,
            mutations: [],
          };
      mutations = m.mutations;
      digest = rng.chance(0.3) ? rng.pick([base.disclosure.member.digest, "0".repeat(64)]) : undefined;
      body = {
        certificate: m.certificate,
        disclosure: m.disclosure,
        ...(digest === undefined ? {} : { digest }),
      };
    }
    if (rng.chance(0.05)) {
      body = {
        ...body,
        [rng.pick(["extra", "__proto__", "constructor", "registry", "chain"])]: rng.pick([1, "x", {}, null]),
      };
      mutations = [...mutations, "an extra top-level member"];
    }
    let payload = writeJson(rng, body as Json);
    if (rng.chance(0.3)) {
      const [next, what] = mutateText(rng, payload, certificateDonors);
      payload = next;
      mutations = [...mutations, what];
    }
    const contentType = rng.chance(0.97)
      ? "application/json"
      : rng.pick(["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"]);
    tally.cases++;
    const res = await app.inject({
      method: "POST",
      url: "/v1/verify",
      payload,
      headers: { "content-type": contentType },
    });
    const answer = res.json() as {
      outcome?: string;
      code?: string;
      message?: string;
      error?: { code: string };
    };
    if (res.statusCode !== 200) {
      tally.count(`${res.statusCode} ${answer.error?.code}`);
      if (res.statusCode >= 500 || !CODES_4XX.has(answer.error?.code ?? "")) {
        tally.fail(i, "a verdict or a catalogued 4xx", `${res.statusCode} ${res.body}`, mutations, payload);
      }
      continue;
    }
    // as Fastify read it (secure-json-parse drops a leading BOM)
    const sent = JSON.parse(payload.replace(/^\uFEFF/, "")) as Record<string, unknown>;
    const result = {
      outcome: answer.outcome as "VALID",
      code: answer.code as "MALFORMED",
      message: answer.message ?? "",
    };
    const k = { tally, index: i, mutations, world, registry: world.registry, digest, fileDigest: digest };
    if (sent.disclosure === undefined) checkCertificateResult(k, sent.certificate, result);
    else checkDisclosureResult(k, sent.disclosure, sent.certificate, result);
  }
  console.log(tally.summary());
  expect(tally.failures).toEqual([]);
}, 600_000);
