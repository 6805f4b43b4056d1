import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCertificate, parseManifest } from "../../services/core";
import { buildVerifier } from "../../web/build";
import { ROOT, run, runCli, runOneFileVerifier } from "../e2e/processes";
import { startTestStack, type TestStack } from "../helpers/stack";

// The depositor's CLI as an SME's IT person runs it: against the API listening on a port, with
// TSD_API_URL and TSD_API_KEY, on a folder with Chinese and ASCII names, an empty file and a link.

jest.setTimeout(180_000);

let stack: TestStack;
let env: Record<string, string>;
let tenantId: string;
const dir = mkdtempSync(join(tmpdir(), "tsd-cli-"));
const folder = join(dir, "研发资料");
const files: Record<string, Buffer> = {
  "配方/主配方.txt": Buffer.from("配方：甲 30%，乙 70%\n"),
  "README.md": Buffer.from("# R&D\n"),
  "src/main.c": randomBytes(200_000),
  "报告/2025年/实验记录.pdf": randomBytes(50_000),
  "empty.txt": Buffer.alloc(0),
};

beforeAll(async () => {
  stack = await startTestStack();
  await stack.app.listen({ port: 0, host: "127.0.0.1" });
  const address = stack.app.server.address() as { port: number };
  const tenant = await stack.tenant();
  tenantId = tenant.id;
  env = { TSD_API_URL: `http://127.0.0.1:${address.port}`, TSD_API_KEY: tenant.apiKey };
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(folder, path, ".."), { recursive: true });
    writeFileSync(join(folder, path), data);
  }
  symlinkSync("/etc/passwd", join(folder, "a-link"));
});
afterAll(async () => stack?.close());

const tsd = (...args: string[]) => runCli(args, env);

async function depositsOfTenant(): Promise<{ digest: string; n: number }[]> {
  const { rows } = await stack.conn.db.query<{ digest: string; n: number }>(
    "SELECT encode(digest, 'hex') AS digest, count(*)::int AS n FROM deposits WHERE tenant_id = $1 GROUP BY digest",
    [tenantId],
  );
  return rows;
}

test("tsd hash agrees with sha256sum and openssl dgst -sm3; links are skipped, unreadable paths reported", async () => {
  for (const alg of ["sha256", "sm3"] as const) {
    const r = await tsd("hash", "--alg", alg, "--json", folder);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("skipped: ");
    expect(r.stderr).toContain("a-link (symbolic link, not followed)");
    const listed = JSON.parse(r.stdout) as { path: string; bytes: number; alg: string; digest: string }[];
    expect(listed.map((l) => l.path.slice(folder.length + 1)).sort()).toEqual(Object.keys(files).sort());
    for (const l of listed) {
      const tool =
        alg === "sha256"
          ? await run("sha256sum", [l.path])
          : await run("openssl", ["dgst", "-sm3", "-r", l.path]);
      expect(tool.code).toBe(0);
      expect(l).toMatchObject({ alg, digest: tool.stdout.split(" ")[0], bytes: readFileSync(l.path).length });
    }
  }
  // the empty file's SHA-256 is the well-known one
  const plain = await tsd("hash", join(folder, "empty.txt"));
  expect(plain.stdout).toBe(`${createHash("sha256").digest("hex")}  ${join(folder, "empty.txt")}\n`);
  // an unreadable path is reported, the rest hashed, and the exit code says so
  const partly = await tsd("hash", join(folder, "README.md"), join(dir, "missing"), "/proc/self/mem");
  expect(partly.code).toBe(1);
  expect(partly.stderr).toContain(`error: ${join(dir, "missing")} (no such file or folder)`);
  expect(partly.stderr).toContain("error: /proc/self/mem");
  expect(partly.stdout).toContain("README.md");
});

test("deposit --as-set --wait --out, then disclose: the member verifies with tsd verify and tsd-verify.cjs; an outsider does not", async () => {
  const out = join(dir, "evidence");
  const deposited = await tsd(
    "deposit",
    folder,
    "--as-set",
    "--wait",
    "--out",
    out,
    "--pdf",
    "--label",
    "R&D 2026",
  );
  expect(deposited.stderr).toContain("deposited 1 set");
  expect(deposited.code).toBe(0);
  const manifest = parseManifest(JSON.parse(readFileSync(join(out, "研发资料.manifest.json"), "utf8")));
  expect(manifest.members.map((m) => m.path).sort()).toEqual(Object.keys(files).sort());
  const certificate = parseCertificate(
    JSON.parse(readFileSync(join(out, "研发资料.certificate.json"), "utf8")),
  );
  expect(certificate.deposit).toMatchObject({ digestAlg: "tsd-set/1", digest: manifest.root });
  expect(readFileSync(join(out, "研发资料.certificate.pdf")).subarray(0, 5).toString()).toBe("%PDF-");

  const member = join(folder, "配方/主配方.txt");
  const disclosure = join(dir, "disclosure.json");
  const disclosed = await tsd("disclose", join(out, "研发资料.manifest.json"), member, "--out", disclosure);
  expect(disclosed.code).toBe(0);
  const text = readFileSync(disclosure, "utf8");
  for (const other of manifest.members.filter((m) => m.path !== "配方/主配方.txt")) {
    expect(text).not.toContain(other.path); // nothing of the other members but sibling hashes
    expect(text).not.toContain(other.digest);
    expect(text).not.toContain(other.salt);
  }
  const rpc = stack.chain.rpcUrl;
  const cert = join(out, "研发资料.certificate.json");
  const valid = await tsd("verify", cert, "--disclosure", disclosure, "--file", member, "--rpc", rpc);
  expect(valid.stdout).toMatch(
    /^VALID {2}file 配方\/主配方.txt \(digest [0-9a-f]{64}\) belonged to the set deposited by /,
  );
  expect(valid.code).toBe(0);

  const outsider = join(dir, "outsider.txt");
  writeFileSync(outsider, "配方：甲 31%，乙 69%\n");
  const notInSet = await tsd("disclose", join(out, "研发资料.manifest.json"), outsider);
  expect(notInSet.code).toBe(3);
  expect(notInSet.stderr).toContain("is not in this set");
  const refused = await tsd("verify", cert, "--disclosure", disclosure, "--file", outsider, "--rpc", rpc);
  expect(refused.stdout).toMatch(/^INVALID DIGEST_MISMATCH/);
  expect(refused.stdout).toMatch(/^anchored, as the certificate states \(not established\): /m);
  expect(refused.stdout).not.toMatch(/^anchored: /m);
  expect(refused.code).toBe(1);

  // the one-file verifier, alone in an empty folder, says the same
  const court = mkdtempSync(join(tmpdir(), "tsd-court-"));
  await buildVerifier(court);
  for (const f of [cert, disclosure, member, outsider]) copyFileSync(f, join(court, f.split("/").pop()!));
  const cjs = (file: string) =>
    runOneFileVerifier(court, [
      "研发资料.certificate.json",
      "--disclosure",
      "disclosure.json",
      "--file",
      file,
      "--rpc",
      rpc,
    ]);
  expect((await cjs("主配方.txt")).code).toBe(0);
  expect((await cjs("outsider.txt")).stdout).toMatch(/^INVALID DIGEST_MISMATCH/);
});

test("files deposited one by one with --wait --out: a certificate per file, named after it", async () => {
  const out = join(dir, "per-file");
  const r = await tsd(
    "deposit",
    join(folder, "配方"),
    join(folder, "README.md"),
    "--alg",
    "sm3",
    "--wait",
    "--out",
    out,
    "--json",
  );
  expect(r.code).toBe(0);
  const listed = JSON.parse(r.stdout) as { name: string; digestAlg: string; certified: boolean }[];
  expect(listed.map((l) => [l.name, l.digestAlg, l.certified])).toEqual([
    ["配方/主配方.txt", "sm3", true],
    ["README.md", "sm3", true],
  ]);
  const cert = parseCertificate(
    JSON.parse(readFileSync(join(out, "配方/主配方.txt.certificate.json"), "utf8")),
  );
  expect(cert.deposit.digestAlg).toBe("sm3");
  expect(existsSync(join(out, "README.md.certificate.json"))).toBe(true);
  const verified = await tsd(
    "verify",
    join(out, "README.md.certificate.json"),
    "--file",
    join(folder, "README.md"),
    "--rpc",
    stack.chain.rpcUrl,
  );
  expect(verified.stdout).toContain("file: compared (SM3 of");
  expect(verified.code).toBe(0);
});

test("an interrupted deposit of 1,000 files resumes without a duplicate deposit", async () => {
  const many = join(dir, "many");
  mkdirSync(many);
  for (let i = 0; i < 1000; i++)
    writeFileSync(join(many, `file-${String(i).padStart(4, "0")}.bin`), randomBytes(64));
  const out = join(dir, "many-out");
  const journal = join(out, ".tsd-journal.jsonl");
  const accepted = () =>
    existsSync(journal)
      ? readFileSync(journal, "utf8")
          .split("\n")
          .filter((l) => l.includes('"accepted"')).length
      : 0;

  // killed outright as soon as the first of 20 requests is answered
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "tsd.js"), "deposit", many, "--out", out, "--bulk-size", "50"],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: "ignore",
    },
  );
  const exited = new Promise((r) => child.once("exit", r));
  while (accepted() === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  child.kill("SIGKILL");
  await exited;
  const before = accepted();
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(20);

  // also a request answered by the server whose answer never reached the journal
  const lines = readFileSync(journal, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  const lastAccepted = lines.map((l) => l.includes('"accepted"')).lastIndexOf(true);
  writeFileSync(journal, `${lines.filter((_, i) => i !== lastAccepted).join("\n")}\n`);

  const resumed = await tsd("deposit", many, "--out", out, "--bulk-size", "50");
  expect(resumed.code).toBe(0);
  const digests = new Set(
    (await tsd("hash", many)).stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split(" ")[0]),
  );
  const stored = (await depositsOfTenant()).filter((d) => digests.has(d.digest));
  expect(stored.length).toBe(1000);
  expect(stored.every((d) => d.n === 1)).toBe(true);
  // and a third run deposits nothing new
  expect((await tsd("deposit", many, "--out", out, "--bulk-size", "50")).code).toBe(0);
  expect((await depositsOfTenant()).filter((d) => digests.has(d.digest)).every((d) => d.n === 1)).toBe(true);
});

test("every subcommand's help has a description and an example", async () => {
  for (const command of ["hash", "deposit", "status", "certificate", "list", "disclose", "verify"]) {
    const help = await tsd(command, "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tsd /);
    expect(help.stdout).toContain("Example");
  }
  expect((await tsd("--version")).stdout.trim()).toBe(
    (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version,
  );
});
