import { randomBytes, randomUUID } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryAt } from "../../services/chain/reader";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  createDepositRecord,
  recordLeafHash,
  serializeCertificate,
  signAttestation,
  to0xHex,
  type Certificate,
} from "../../services/core";
import { buildVerifier } from "../../web/build";
import { runCli, runOneFileVerifier } from "../e2e/processes";
import { startTestStack, type TestStack } from "../helpers/stack";

// `tsd verify DIR`, and the one-file verifier given a folder: every *.certificate.json under it
// (recursively) verified against the anvil node, one line each and a summary, or a JSON array;
// the exit code is 0 only when all are VALID. The certificates are the certifier's own, of
// batches anchored on the node directly (the service's batching is not what is tested here).

jest.setTimeout(180_000);

let stack: TestStack;
let rpc: string;
let registry: string;
const folder = mkdtempSync(join(tmpdir(), "tsd-folder-"));
const court = mkdtempSync(join(tmpdir(), "tsd-court-"));
const certificates = new Map<string, Certificate>();

/** Anchors one batch of `size` deposits and writes its certificates as `dir/NN.certificate.json`. */
async function issueBatch(dir: string, size: number, batch: number): Promise<void> {
  const provider = stack.conn.provider;
  const latest = await provider.getBlock("latest");
  const records = Array.from({ length: size }, () =>
    createDepositRecord({
      id: randomUUID(),
      salt: randomBytes(32).toString("hex"),
      depositor: "uscc:91310115MA1K4XXXXX",
      digestAlg: "sha256",
      digest: randomBytes(32).toString("hex"),
      receivedAt: (latest!.timestamp - 5) * 1000,
    }),
  );
  const tree = MerkleTree.fromLeafHashes(records.map(recordLeafHash));
  const root = to0xHex(tree.root);
  const contract = registryAt(registry, stack.keys.anchorer.connect(provider));
  const tx = (await contract.getFunction("anchor")(root, tree.size, batch)) as {
    wait(): Promise<{ blockNumber: number; hash: string } | null>;
  };
  const receipt = (await tx.wait())!;
  const block = (await provider.getBlock(receipt.blockNumber))!;
  const anchor = {
    chainId: stack.deployment.chainId,
    registry,
    root,
    batch,
    txHash: receipt.hash,
    blockNumber: receipt.blockNumber,
    blockHash: block.hash!,
    blockTimestamp: block.timestamp,
  };
  const typedData = attestationTypedData(anchor, tree.size, block.timestamp + 1);
  const attestation = { ...(await signAttestation(stack.keys.certifier, typedData)), typedData };
  mkdirSync(join(folder, dir), { recursive: true });
  records.forEach((deposit, i) => {
    const certificate = buildCertificate({
      deposit,
      leafIndex: i,
      treeSize: tree.size,
      auditPath: tree.auditPath(i),
      anchor,
      attestation,
    });
    const path = join(dir, `${String(i).padStart(2, "0")}.certificate.json`);
    certificates.set(path, certificate);
    writeFileSync(join(folder, path), serializeCertificate(certificate));
  });
}

beforeAll(async () => {
  stack = await startTestStack({ workers: false });
  rpc = stack.chain.rpcUrl;
  registry = stack.deployment.registry;
  const built = mkdtempSync(join(tmpdir(), "tsd-build-"));
  const building = buildVerifier(built);
  // One after another: they are sent from one key.
  await issueBatch("2025", 5, 1);
  await issueBatch("2026/一月", 3, 2);
  await issueBatch("2026/二月/深", 1, 3);
  await building;
  copyFileSync(join(built, "tsd-verify.cjs"), join(court, "tsd-verify.cjs"));
  // Not certificates by name: not read.
  writeFileSync(join(folder, "notes.json"), "{}");
  writeFileSync(join(folder, "2025", "README.txt"), "not a certificate");
});
afterAll(async () => stack?.close());

const oneFile = (...args: string[]) => runOneFileVerifier(court, args);

const paths = () => [...certificates.keys()].sort().map((p) => join(folder, p));

test("all VALID: one line each in path order, a summary, exit 0 (tsd and the one-file verifier alike)", async () => {
  for (const run of [
    () => runCli(["verify", folder, "--rpc", rpc, "--registry", registry]),
    () => oneFile(folder, "--rpc", rpc, "--registry", registry),
  ]) {
    const { code, stdout, stderr } = await run();
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.trim().split("\n");
    expect(lines.slice(0, 9)).toEqual(paths().map((p) => `${p}  VALID`));
    expect(lines[9]).toBe("9 certificates: 9 VALID");
    expect(lines[10]).toBe(`registry: ${registry}  (trusted, --registry)`);
    expect(lines[11]).toBe(`chain: ${rpc}  (--rpc)`);
  }
});

test("one tampered certificate: named with its reason, exit 1; --json gives an array", async () => {
  const tampered = join("2026", "一月", "01.certificate.json");
  const c = structuredClone(certificates.get(tampered)!);
  c.deposit = { ...c.deposit, digest: "0".repeat(64) };
  const bad = join(folder, "2026", "一月", "01-tampered.certificate.json");
  writeFileSync(bad, JSON.stringify(c));
  try {
    const { code, stdout } = await runCli(["verify", folder, "--rpc", rpc, "--registry", registry]);
    expect(code).toBe(1);
    const lines = stdout.trim().split("\n");
    expect(lines.filter((l) => !l.endsWith("  VALID") && l.startsWith(folder))).toEqual([
      `${bad}  INVALID PROOF_INVALID  the inclusion proof does not lead to the anchored root`,
    ]);
    expect(lines).toContain("10 certificates: 1 INVALID, 9 VALID");

    const json = await oneFile(folder, "--rpc", rpc, "--registry", registry, "--json");
    expect(json.code).toBe(1);
    const rows = JSON.parse(json.stdout) as { path: string; outcome: string; code?: string }[];
    expect(rows.map((r) => r.path)).toEqual([...paths(), bad].sort());
    expect(rows.filter((r) => r.outcome !== "VALID")).toEqual([
      expect.objectContaining({ path: bad, outcome: "INVALID", code: "PROOF_INVALID" }),
    ]);
  } finally {
    rmSync(bad);
  }
});

test("a certificate that cannot be read (a dangling link): UNREADABLE, exit 3; not JSON: MALFORMED, exit 1", async () => {
  const dangling = join(folder, "2025", "gone.certificate.json");
  symlinkSync(join(folder, "nowhere"), dangling);
  try {
    const { code, stdout } = await runCli(["verify", folder, "--rpc", rpc, "--registry", registry]);
    expect(code).toBe(3);
    expect(stdout).toContain(`${dangling}  UNREADABLE  cannot read ${dangling}`);
    expect(stdout).toContain("10 certificates: 1 UNREADABLE, 9 VALID");
    const text = join(folder, "2025", "text.certificate.json");
    writeFileSync(text, "not JSON");
    const both = await oneFile(folder, "--rpc", rpc, "--registry", registry);
    rmSync(text);
    expect(both.code).toBe(1);
    expect(both.stdout).toContain(`${text}  INVALID MALFORMED`);
    expect(both.stdout).toContain("11 certificates: 1 INVALID, 1 UNREADABLE, 9 VALID");
  } finally {
    rmSync(dangling);
  }
});

test("another registry pinned: every certificate NOT_ANCHORED, exit 1; no node: UNANCHORED_CHECK_ONLY, exit 2", async () => {
  const other = await runCli(["verify", folder, "--rpc", rpc, "--registry", `0x${"11".repeat(20)}`]);
  expect(other.code).toBe(1);
  expect(other.stdout).toContain("INVALID NOT_ANCHORED");

  const unread = await oneFile(join(folder, "2025"));
  expect(unread.code).toBe(2);
  expect(unread.stdout).toContain("5 certificates: 5 UNANCHORED_CHECK_ONLY");
  expect(unread.stdout).toContain("chain: not consulted");
});

test("usage: a folder with no certificates, or --file with a folder, exits 3", async () => {
  const empty = mkdtempSync(join(tmpdir(), "tsd-empty-"));
  const none = await runCli(["verify", empty, "--rpc", rpc]);
  expect(none.code).toBe(3);
  expect(none.stderr).toContain("no *.certificate.json");
  const withFile = await runCli(["verify", folder, "--file", join(folder, "notes.json"), "--rpc", rpc]);
  expect(withFile.code).toBe(3);
  expect(withFile.stderr).toContain("for one certificate, not a folder");
});
