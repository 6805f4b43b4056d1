import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { InjectOptions } from "fastify";
import { bearer, call as callApi, expectError, type TestTenant } from "../helpers/api";
import { parseCertificate, verifyCertificate, type Certificate } from "../../services/core";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The public side of the HTTP API (DESIGN sections 7, 8 and 10) and the certificate route,
// with the workers running: deposits are sealed, anchored on anvil and attested within about
// a second. Errors are matched by status and code, never by message.

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.close());

type Tenant = TestTenant;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const call = (options: InjectOptions) => callApi(stack.app, options);

const verify = (payload: unknown) => call({ method: "POST", url: "/v1/verify", payload: payload as object });

/** Deposits `names` (one single, the rest in bulk) and waits for their certificates. */
async function certified(t: Tenant, names: string[]): Promise<{ ids: string[]; certificates: string[] }> {
  const [first, ...rest] = names.map(sha);
  const single = await call({
    method: "POST",
    url: "/v1/deposits",
    headers: bearer(t),
    payload: { digest: first },
  });
  expect(single.statusCode).toBe(202);
  const ids: string[] = [single.json().id];
  if (rest.length > 0) {
    const bulk = await call({
      method: "POST",
      url: "/v1/deposits/bulk",
      headers: bearer(t),
      payload: { items: rest.map((digest) => ({ digest })) },
    });
    expect(bulk.statusCode).toBe(202);
    ids.push(...bulk.json().deposits.map((d: { id: string }) => d.id));
  }
  const certificates = await eventually(
    async () => {
      const got = await Promise.all(
        ids.map((id) => call({ method: "GET", url: `/v1/deposits/${id}/certificate`, headers: bearer(t) })),
      );
      for (const r of got) if (r.statusCode !== 200) expectError(r, 409, "CERTIFICATE_NOT_READY");
      return got.every((r) => r.statusCode === 200) ? got.map((r) => r.body) : undefined;
    },
    30_000,
    "certificates",
  );
  return { ids, certificates };
}

describe("GET /v1/deposits/:id/certificate once certified", () => {
  test("200: a tsd-certificate/1 that parses strictly and verifies VALID against the chain", async () => {
    const t = await stack.tenant();
    const { ids, certificates } = await certified(t, ["alpha", "beta", "gamma"]);
    for (const [i, text] of certificates.entries()) {
      const body = JSON.parse(text) as Certificate;
      expect(parseCertificate(body)).toEqual(body);
      expect(body.format).toBe("tsd-certificate/1");
      expect(body.deposit).toMatchObject({
        id: ids[i],
        depositor: t.depositor,
        digest: sha(["alpha", "beta", "gamma"][i]!),
      });
      expect(body.anchor).toMatchObject({ chainId: 31337, registry: stack.deployment.registry });
      const result = await verifyCertificate(body, { chain: stack.conn.chain });
      expect(result).toMatchObject({ outcome: "VALID" });
    }

    // The same deposit always yields the same bytes, and its detail and list agree.
    const again = await call({
      method: "GET",
      url: `/v1/deposits/${ids[0]}/certificate`,
      headers: bearer(t),
    });
    expect(again.statusCode).toBe(200);
    expect(again.headers["content-type"]).toMatch(/^application\/json/);
    expect(again.body).toBe(certificates[0]);

    const cert = JSON.parse(certificates[0]!) as Certificate;
    const detail = await call({ method: "GET", url: `/v1/deposits/${ids[0]}`, headers: bearer(t) });
    expect(detail.json()).toMatchObject({
      status: "certified",
      record: cert.deposit,
      batch: {
        root: cert.anchor.root,
        treeSize: cert.proof.treeSize,
        leafIndex: cert.proof.leafIndex,
        chainId: 31337,
        txHash: cert.anchor.txHash,
        blockNumber: cert.anchor.blockNumber,
      },
    });
    expect(detail.json().times.certifiedAt).not.toBeNull();
  });

  test("status filters follow certification; another tenant still gets 404", async () => {
    const t = await stack.tenant();
    const { ids } = await certified(t, ["delta", "epsilon"]);
    const list = async (status: string) =>
      (await call({ method: "GET", url: `/v1/deposits?status=${status}`, headers: bearer(t) })).json()
        .items as {
        id: string;
        status: string;
      }[];
    const done = await list("certified");
    expect(done.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(done.every((d) => d.status === "certified")).toBe(true);
    for (const status of ["pending", "batched", "anchored"]) expect(await list(status)).toEqual([]);

    const other = await stack.tenant();
    const res = await call({
      method: "GET",
      url: `/v1/deposits/${ids[0]}/certificate`,
      headers: bearer(other),
    });
    expectError(res, 404, "DEPOSIT_NOT_FOUND");
  });
});

describe("POST /v1/verify (public)", () => {
  let certificate: Certificate;
  const digest = sha("court exhibit");
  beforeAll(async () => {
    const t = await stack.tenant();
    certificate = JSON.parse((await certified(t, ["court exhibit"])).certificates[0]!) as Certificate;
  });

  test("a well-signed certificate of another registry -> INVALID NOT_ANCHORED: the platform vouches for its own", async () => {
    const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "certificate.json"), "utf8")) as {
      certificate: Certificate;
    };
    const res = await verify({ certificate: vector.certificate });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: "INVALID", code: "NOT_ANCHORED" });
  });

  test("a valid certificate -> VALID, with or without the digest; no API key needed", async () => {
    const plain = await verify({ certificate });
    expect(plain.statusCode).toBe(200);
    expect(plain.json()).toMatchObject({ outcome: "VALID", digestChecked: false });
    expect(plain.json().code).toBeUndefined();

    for (const d of [digest, digest.toUpperCase()]) {
      const res = await verify({ certificate, digest: d });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ outcome: "VALID", digestChecked: true });
    }
  });

  test("the wrong digest -> 200 INVALID DIGEST_MISMATCH", async () => {
    const res = await verify({ certificate, digest: sha("another file") });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: "INVALID", code: "DIGEST_MISMATCH", digestChecked: true });
  });

  test("a changed salt -> 200 INVALID PROOF_INVALID", async () => {
    const tampered = structuredClone(certificate) as any;
    tampered.deposit.salt = sha("another salt");
    const res = await verify({ certificate: tampered, digest });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: "INVALID", code: "PROOF_INVALID" });
  });

  // A broken certificate is a finding about the certificate, not a bad request.
  test.each<[string, (c: any) => unknown]>([
    ["that is a string", () => "garbage"],
    ["that is null", () => null],
    ["that is an empty object", () => ({})],
    ["of an unknown format", (c) => ({ ...c, format: "tsd-certificate/2" })],
    ["with an extra field", (c) => ({ ...c, note: "x" })],
    ["without its attestation", ({ attestation: _a, ...c }) => c],
    [
      "with an uppercase salt",
      (c) => ({ ...c, deposit: { ...c.deposit, salt: c.deposit.salt.toUpperCase() } }),
    ],
  ])("a certificate %s -> 200 INVALID MALFORMED", async (_what, mangle) => {
    const res = await verify({ certificate: mangle(structuredClone(certificate)) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: "INVALID", code: "MALFORMED" });
  });

  // The request itself is wrong here: a digest that cannot be a SHA-256 is the caller's
  // mistake (400 DIGEST_INVALID), an ill-typed or missing field a schema violation.
  test.each<[string, number, string, () => unknown]>([
    ["a short digest", 400, "DIGEST_INVALID", () => ({ certificate, digest: "abc" })],
    ["a non-hex digest", 400, "DIGEST_INVALID", () => ({ certificate, digest: "x".repeat(64) })],
    ["a digest that is a number", 400, "VALIDATION_FAILED", () => ({ certificate, digest: 7 })],
    ["no certificate", 400, "VALIDATION_FAILED", () => ({ digest })],
    ["an unknown field", 400, "VALIDATION_FAILED", () => ({ certificate, file: "secret.txt" })],
  ])("%s -> %i %s", async (_what, status, code, payload) => {
    expectError(await verify(payload()), status, code);
  });

  test("malformed JSON -> 400 MALFORMED_JSON; text/plain -> 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    const bad = await call({
      method: "POST",
      url: "/v1/verify",
      headers: { "content-type": "application/json" },
      payload: '{"certificate": ',
    });
    expectError(bad, 400, "MALFORMED_JSON");
    const text = await call({
      method: "POST",
      url: "/v1/verify",
      headers: { "content-type": "text/plain" },
      payload: JSON.stringify({ certificate }),
    });
    expectError(text, 415, "UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("GET /v1/registry (public)", () => {
  test("the chain, the registry and its active certifier key", async () => {
    const res = await call({ method: "GET", url: "/v1/registry" });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      chainId: number;
      registry: string;
      certifiers: { address: string; since: number; until: number | null; active: boolean }[];
    };
    expect(body.chainId).toBe(31337);
    expect(body.registry.toLowerCase()).toBe(stack.deployment.registry.toLowerCase());
    const mine = body.certifiers.filter(
      (c) => c.address.toLowerCase() === stack.keys.certifier.address.toLowerCase(),
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ active: true, until: null });
    expect(mine[0]!.since).toBeGreaterThan(0);
  });
});

describe("health, documentation, unknown routes", () => {
  test("/healthz and /readyz need no key; readiness reports each backing service up", async () => {
    const health = await call({ method: "GET", url: "/healthz" });
    expect(health.statusCode).toBe(200);
    const ready = await call({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ postgres: "up", redis: "up", chain: "up" });
  });

  test("GET /docs is the browsable API page, served from the package (no network)", async () => {
    const page = await stack.app.inject({ method: "GET", url: "/docs" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    const script = await stack.app.inject({ method: "GET", url: "/docs/static/swagger-ui-bundle.js" });
    expect(script.statusCode).toBe(200);
  });

  test("GET /docs/json is an OpenAPI document of the v1 routes", async () => {
    const res = await call({ method: "GET", url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths["/v1/deposits"] ?? {}).sort()).toEqual(["get", "post"]);
    for (const path of [
      "/v1/deposits/bulk",
      "/v1/deposits/{id}",
      "/v1/deposits/{id}/certificate",
      "/v1/verify",
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
  });

  test.each<[string, string]>([
    ["GET", "/nope"],
    ["GET", "/v1"],
    ["GET", "/v2/deposits"],
    ["DELETE", "/v1/deposits"],
    ["GET", "/v1/verify"],
    ["POST", "/v1/registry"],
  ])("%s %s -> 404 ROUTE_NOT_FOUND", async (method, url) => {
    expectError(await call({ method: method as "GET", url }), 404, "ROUTE_NOT_FOUND");
  });
});
