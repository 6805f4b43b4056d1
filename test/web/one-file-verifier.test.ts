import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Certificate } from "../../services/core";
import { buildVerifier, type BuiltFile } from "../../web/build";
import { runOneFileVerifier } from "../e2e/processes";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// dist/tsd-verify.cjs as a court uses it: copied alone into an empty folder and run with plain
// `node`, against a real certificate of the service and the anvil node.

jest.setTimeout(120_000);

let stack: TestStack;
let built: BuiltFile[];
let buildDir: string;
const court = mkdtempSync(join(tmpdir(), "tsd-court-")); // nothing but the verifier and the evidence
const document = randomBytes(50_000);
let certificate: Certificate;

beforeAll(async () => {
  buildDir = mkdtempSync(join(tmpdir(), "tsd-build-"));
  [built, stack] = await Promise.all([buildVerifier(buildDir), startTestStack()]);
  copyFileSync(join(buildDir, "tsd-verify.cjs"), join(court, "tsd-verify.cjs"));
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const digest = createHash("sha256").update(document).digest("hex");
  const id = (
    await stack.app.inject({ method: "POST", url: "/v1/deposits", headers: auth, payload: { digest } })
  ).json().id as string;
  const body = await eventually(async () => {
    const got = await stack.app.inject({
      method: "GET",
      url: `/v1/deposits/${id}/certificate`,
      headers: auth,
    });
    return got.statusCode === 200 ? got.body : undefined;
  });
  certificate = JSON.parse(body) as Certificate;
  writeFileSync(join(court, "certificate.json"), body);
  writeFileSync(join(court, "document.bin"), document);
});
afterAll(async () => stack?.close());

const verify = (...args: string[]) => runOneFileVerifier(court, args);

function tampered(name: string, change: (c: any) => void): string {
  const c = structuredClone(certificate) as any;
  change(c);
  writeFileSync(join(court, name), JSON.stringify(c));
  return name;
}

test("the build is reproducible and its checksums are the files'", async () => {
  const again = mkdtempSync(join(tmpdir(), "tsd-build-"));
  const second = await buildVerifier(again);
  expect(second).toEqual(built);
  for (const f of built) {
    expect(readFileSync(join(again, f.name)).equals(readFileSync(join(buildDir, f.name)))).toBe(true);
    expect(
      createHash("sha256")
        .update(readFileSync(join(buildDir, f.name)))
        .digest("hex"),
    ).toBe(f.sha256);
  }
  expect(readFileSync(join(buildDir, "SHA256SUMS"), "utf8")).toBe(
    built.map((f) => `${f.sha256}  ${f.name}\n`).join(""),
  );
});

test("alone in an empty folder with plain node: VALID for a real certificate and its document", async () => {
  expect(readdirSync(court).sort()).toEqual(["certificate.json", "document.bin", "tsd-verify.cjs"]);
  const r = await verify(
    "certificate.json",
    "--file",
    "document.bin",
    "--rpc",
    stack.chain.rpcUrl,
    "--registry",
    stack.deployment.registry,
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^VALID {2}digest [0-9a-f]{64} was deposited by /);
  expect(r.stdout).toContain("file: compared (SHA-256 of document.bin)");
  expect(r.stdout).toContain(`registry: ${stack.deployment.registry}  (trusted, --registry)`);
  expect(r.stdout).toContain(`chain: consulted ${stack.chain.rpcUrl}`);
  expect(r.stdout).toContain("证明事项: ");
});

test("--json gives the verdict and what was checked", async () => {
  const r = await verify(
    "certificate.json",
    "--digest",
    certificate.deposit.digest,
    "--rpc",
    stack.chain.rpcUrl,
    "--json",
  );
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({
    outcome: "VALID",
    checks: {
      file: "compared",
      chain: "consulted",
      registry: { named: certificate.anchor.registry, pinned: null },
    },
    fileDigestAlg: "sha256",
  });
});

test.each<[string, () => string[], number, string]>([
  ["another document", () => ["certificate.json", "--digest", "0".repeat(64)], 1, "INVALID DIGEST_MISMATCH"],
  [
    "a changed salt",
    () => [tampered("salt.json", (c) => (c.deposit.salt = "0".repeat(64)))],
    1,
    "INVALID PROOF_INVALID",
  ],
  [
    "a changed block number",
    () => [tampered("block.json", (c) => (c.anchor.blockNumber += 1))],
    1,
    "INVALID SIGNATURE_INVALID",
  ],
  ["not a certificate", () => [tampered("format.json", (c) => (c.format = "x"))], 1, "INVALID MALFORMED"],
  [
    "another trusted registry",
    () => ["certificate.json", "--registry", `0x${"11".repeat(20)}`],
    1,
    "INVALID NOT_ANCHORED",
  ],
])("%s: exit 1 and its reason code", async (_, args, code, head) => {
  const r = await verify(...args(), "--rpc", stack.chain.rpcUrl);
  expect(r.stdout.split("\n")[0]).toMatch(new RegExp(`^${head} `));
  expect(r.code).toBe(code);
});

test("without a node: UNANCHORED_CHECK_ONLY (exit 2), and it says the chain was not consulted", async () => {
  const r = await verify("certificate.json");
  expect(r.code).toBe(2);
  expect(r.stdout).toContain("chain: not consulted: pass --rpc URL");
  expect(r.stdout).toContain("file: no file or digest given");
});

test("usage errors exit 3", async () => {
  expect((await verify("missing.json")).code).toBe(3);
  expect((await verify("certificate.json", "--digest", "xyz")).code).toBe(3);
  expect((await verify("certificate.json", "--file", "document.bin", "--digest", "0".repeat(64))).code).toBe(
    3,
  );
});

test("a deposit set's member, with its disclosure and file (frozen vectors, offline)", async () => {
  const set = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "set.json"), "utf8")) as {
    certificate: unknown;
    disclosures: { member: { path: string } }[];
    files: { path: string; content: string }[];
  };
  const disclosure = set.disclosures[0]!;
  const file = set.files.find((f) => f.path === disclosure.member.path)!;
  writeFileSync(join(court, "set-certificate.json"), JSON.stringify(set.certificate));
  writeFileSync(join(court, "disclosure.json"), JSON.stringify(disclosure));
  writeFileSync(join(court, "member.bin"), file.content);
  writeFileSync(join(court, "outsider.bin"), "not in the set");
  const member = await verify(
    "set-certificate.json",
    "--disclosure",
    "disclosure.json",
    "--file",
    "member.bin",
  );
  expect(member.code).toBe(2); // no chain given: the best is UNANCHORED_CHECK_ONLY, with the file compared
  expect(member.stdout).toContain("file: compared");
  const outsider = await verify(
    "set-certificate.json",
    "--disclosure",
    "disclosure.json",
    "--file",
    "outsider.bin",
  );
  expect(outsider.stdout).toMatch(/^INVALID DIGEST_MISMATCH/);
  expect(outsider.code).toBe(1);
  const noDisclosure = await verify("set-certificate.json", "--file", "member.bin");
  expect(noDisclosure.code).toBe(3);
  expect(noDisclosure.stderr).toContain("give the file's disclosure (--disclosure)");
});
