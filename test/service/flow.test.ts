import { createHash } from "node:crypto";
import { verifyCertificate, type Certificate } from "../../services/core";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The flow of protocol.md section 1 end to end, in one process: deposit -> seal -> anchor -> attest ->
// certificate -> VALID, on real PostgreSQL, Redis (BullMQ) and anvil.

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.close());

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

test("deposits become certificates that verify VALID against the chain", async () => {
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const digests = ["one", "two", "three", "four", "five"].map(sha);
  const single = await stack.app.inject({
    method: "POST",
    url: "/v1/deposits",
    headers: auth,
    payload: { digest: digests[0] },
  });
  expect(single.statusCode).toBe(202);
  const bulk = await stack.app.inject({
    method: "POST",
    url: "/v1/deposits/bulk",
    headers: auth,
    payload: { items: digests.slice(1).map((digest) => ({ digest })) },
  });
  expect(bulk.statusCode).toBe(202);
  const ids = [single.json().id, ...bulk.json().deposits.map((d: { id: string }) => d.id)] as string[];

  const certificates = await eventually(
    async () => {
      const got = await Promise.all(
        ids.map((id) =>
          stack.app.inject({ method: "GET", url: `/v1/deposits/${id}/certificate`, headers: auth }),
        ),
      );
      return got.every((r) => r.statusCode === 200) ? got.map((r) => r.json() as Certificate) : undefined;
    },
    30_000,
    "certificates",
  );

  for (const [i, cert] of certificates.entries()) {
    const result = await verifyCertificate(cert, { chain: stack.conn.chain, digest: digests[i] });
    expect(result).toMatchObject({ outcome: "VALID", digestChecked: true });
    expect(cert.deposit.depositor).toBe(tenant.depositor);
    expect(cert.anchor.registry).toBe(stack.deployment.registry);
  }
  const wrong = await verifyCertificate(certificates[0], { chain: stack.conn.chain, digest: sha("one!") });
  expect(wrong).toMatchObject({ outcome: "INVALID", code: "DIGEST_MISMATCH" });

  const detail = await stack.app.inject({ method: "GET", url: `/v1/deposits/${ids[0]}`, headers: auth });
  expect(detail.json()).toMatchObject({ status: "certified", batch: { chainId: 31337 } });
});
