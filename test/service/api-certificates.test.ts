import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { InjectOptions } from "fastify";
import { bearer, call as callApi, expectError, type TestTenant } from "../helpers/api";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  parseCertificate,
  recordLeafHash,
  signAttestation,
  verifyCertificate,
  type Certificate,
} from "../../services/core";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The public side of the HTTP API (protocol.md sections 8 and 9; OpenAPI at /docs) and the certificate route,
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

describe("GET /v1/certificates: many certificates in one call (NDJSON)", () => {
  const feed = (t: Tenant, query: string) =>
    call({ method: "GET", url: `/v1/certificates${query}`, headers: bearer(t) });
  const lines = (body: string) =>
    body
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Certificate);

  test("since=now, deposit, then since=<that cursor>: exactly the new certificates, each VALID, paged by limit", async () => {
    const t = await stack.tenant();
    await certified(t, ["before the cursor"]);
    const start = await feed(t, "?since=now");
    expect(start.statusCode).toBe(200);
    expect(start.body).toBe("");
    const cursor = start.headers["x-next-cursor"] as string;
    const { ids } = await certified(t, ["one", "two", "three"]);
    const sm3 = createHash("sm3").update("four").digest("hex");
    const extra = await call({
      method: "POST",
      url: "/v1/deposits",
      headers: bearer(t),
      payload: { digest: sm3, digestAlg: "sm3" },
    });
    ids.push(extra.json().id);
    const all = await eventually(async () => {
      const res = await feed(t, `?since=${cursor}`);
      const got = lines(res.body);
      return got.length === 4 ? { got, next: res.headers["x-next-cursor"] as string } : undefined;
    });
    expect(all.got.map((c) => c.deposit.id).sort()).toEqual([...ids].sort());
    for (const c of all.got) {
      expect((await verifyCertificate(c, { chain: stack.conn.chain })).outcome).toBe("VALID");
    }
    expect(all.got.find((c) => c.deposit.id === extra.json().id)?.deposit.digestAlg).toBe("sm3");
    // nothing new after the last cursor
    const after = await feed(t, `?since=${all.next}`);
    expect(after.body).toBe("");
    expect(after.headers["x-next-cursor"]).toBe(all.next);
    // paging: two, then the rest
    const first = await feed(t, `?since=${cursor}&limit=2`);
    const rest = await feed(t, `?since=${first.headers["x-next-cursor"]}`);
    expect([...lines(first.body), ...lines(rest.body)].map((c) => c.deposit.id)).toEqual(
      all.got.map((c) => c.deposit.id),
    );
    // another tenant sees none of them, and cannot use this tenant's cursor
    const other = await stack.tenant();
    expectError(await feed(other, `?since=${cursor}`), 400, "CURSOR_INVALID");
    expect(lines((await feed(other, "")).body)).toEqual([]);
  });

  test("a cursor the API did not issue -> 400 CURSOR_INVALID; a limit past 10,000 -> 400", async () => {
    const t = await stack.tenant();
    expectError(await feed(t, "?since=abc"), 400, "CURSOR_INVALID");
    expectError(await feed(t, "?limit=10001"), 400, "VALIDATION_FAILED");
  });
});

describe("the PDF certificate, the verify page and the downloads", () => {
  const poppler = (tool: string, ...args: string[]) =>
    execFileSync(`/usr/bin/${tool}`, args, { encoding: "utf8", maxBuffer: 1 << 24 });

  test("GET …/certificate.pdf: one bilingual page that carries the served JSON byte for byte", async () => {
    const t = await stack.tenant();
    const { ids, certificates } = await certified(t, ["exhibit A"]);
    const res = await call({
      method: "GET",
      url: `/v1/deposits/${ids[0]}/certificate.pdf`,
      headers: bearer(t),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/pdf");
    expect(res.headers["content-disposition"]).toBe(`attachment; filename="tsd-certificate-${ids[0]}.pdf"`);
    const dir = mkdtempSync(join(tmpdir(), "tsd-api-pdf-"));
    const pdf = join(dir, "certificate.pdf");
    writeFileSync(pdf, res.rawPayload);
    poppler("pdfdetach", "-save", "1", "-o", join(dir, "attached.json"), pdf);
    expect(readFileSync(join(dir, "attached.json"), "utf8")).toBe(certificates[0]);
    const cert = JSON.parse(certificates[0]!) as Certificate;
    const text = poppler("pdftotext", "-layout", pdf, "-").replace(/\s+/g, "");
    for (const value of [
      cert.deposit.digest,
      cert.anchor.txHash,
      cert.deposit.depositor,
      "区块链存证证书",
      "DEPOSITCERTIFICATE",
    ]) {
      expect(text).toContain(value);
    }
    expect(text).toContain(
      `${stack.config.PUBLIC_URL ?? "http://127.0.0.1:8080"}/verify`.replace(/\s+/g, ""),
    );
    // the same certificate, the same bytes
    const again = await call({
      method: "GET",
      url: `/v1/deposits/${ids[0]}/certificate.pdf`,
      headers: bearer(t),
    });
    expect(again.rawPayload.equals(res.rawPayload)).toBe(true);
    // another tenant's deposit does not exist for this one
    const other = await stack.tenant();
    expectError(
      await call({ method: "GET", url: `/v1/deposits/${ids[0]}/certificate.pdf`, headers: bearer(other) }),
      404,
      "DEPOSIT_NOT_FOUND",
    );
  });

  test("GET /verify: the built page, with the chain and the platform's registry prefilled by query", async () => {
    const first = await call({ method: "GET", url: "/verify" });
    expect(first.statusCode).toBe(302);
    const location = new URL(first.headers.location as string, "http://x");
    expect(location.pathname).toBe("/verify");
    expect(location.searchParams.get("registry")).toBe(stack.deployment.registry);
    // an external chain's RPC URL may carry a key: offered only when PUBLIC_CHAIN_RPC_URL says so
    expect(location.searchParams.get("rpc")).toBeNull();
    const page = await call({ method: "GET", url: `${location.pathname}${location.search}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.rawPayload.equals(readFileSync(join(__dirname, "..", "..", "dist", "verify.html")))).toBe(
      true,
    );
  });

  test.each(["tsd-verify.cjs", "verify.html", "SHA256SUMS"])(
    "GET /downloads/%s: the built file",
    async (name) => {
      // (not through `call`: the bundle names node_modules paths in its comments, as it should)
      const res = await stack.app.inject({ method: "GET", url: `/downloads/${name}` });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-disposition"]).toBe(`attachment; filename="${name}"`);
      expect(res.rawPayload.equals(readFileSync(join(__dirname, "..", "..", "dist", name)))).toBe(true);
    },
  );

  test("GET /downloads/<anything else>: 404", async () => {
    expectError(await call({ method: "GET", url: "/downloads/package.json" }), 404, "ROUTE_NOT_FOUND");
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
    expect(plain.json()).toMatchObject({
      outcome: "VALID",
      digestChecked: false,
      // it says what it checked: no file; the platform's registry, pinned; the chain, read
      checks: {
        file: "not given",
        registry: { named: stack.deployment.registry, pinned: stack.deployment.registry },
        chain: "consulted",
        certifier: stack.keys.certifier.address,
      },
    });
    expect(plain.json().code).toBeUndefined();
    expect(plain.json().statement.zh).toContain("存证");

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

  test("a signed certificate whose record is newer than its block -> INVALID ANCHOR_MISMATCH (the time invariant)", async () => {
    // Re-made from the real one: the record received a second after the block, the tree of
    // that one record, and a signature by the platform's own certifier key over the result.
    const deposit = { ...certificate.deposit, receivedAt: certificate.anchor.blockTimestamp * 1000 + 1000 };
    const root = `0x${Buffer.from(MerkleTree.fromLeafHashes([recordLeafHash(deposit)]).root).toString("hex")}`;
    const anchor = { ...certificate.anchor, root };
    const typedData = attestationTypedData(anchor, 1, certificate.attestation.typedData.message.issuedAt);
    const late = buildCertificate({
      deposit,
      leafIndex: 0,
      treeSize: 1,
      auditPath: [],
      anchor,
      attestation: { ...(await signAttestation(stack.keys.certifier, typedData)), typedData },
    });
    const res = await verify({ certificate: late });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: "INVALID", code: "ANCHOR_MISMATCH" });
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
