import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import canonicalize from "canonicalize";
import { Interface, keccak256, toUtf8Bytes } from "ethers";
import {
  MerkleTree,
  createDepositRecord,
  hashLeaf,
  to0xHex,
  toHex,
  type Certificate,
  type DepositRecord,
} from "../../services/core";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { foundryBinary } from "../../services/chain/local-node";
import { VERIFYING_GUIDE, certifyLike, codeBlocks, guideScript } from "../helpers/guide";

// docs/verifying.md is for a court clerk: its Python scripts and its commands must work as
// printed. They run here against the worked example (docs/examples) and variants of it.

const ROOT = join(__dirname, "..", "..");
const EXAMPLES = join(ROOT, "docs", "examples");
const guide = readFileSync(VERIFYING_GUIDE, "utf8");
const example = JSON.parse(readFileSync(join(EXAMPLES, "certificate.json"), "utf8")) as Certificate;
const worked = JSON.parse(readFileSync(join(EXAMPLES, "worked-example.json"), "utf8")) as {
  testCertifierKey: string;
  leafHash: string;
  root: string;
  chain: { certifier: { since: number } };
};
const documentPath = join(EXAMPLES, "document.txt");
const documentBytes = readFileSync(documentPath);

const dir = mkdtempSync(join(tmpdir(), "tsd-guide-"));
const checkCertificate = guideScript("check-certificate.py", dir);
const checkDisclosure = guideScript("check-disclosure.py", dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function python(script: string, ...args: string[]) {
  const run = spawnSync("python3", [script, ...args], { cwd: dir, encoding: "utf8" });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

let files = 0;
/** Writes `value` as JSON into the test folder; returns its path. */
function jsonFile(value: unknown): string {
  const path = join(dir, `file-${++files}.json`);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

const failures = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("FAIL  "));
const tampered = (change: (c: any) => void): string => {
  const copy = structuredClone(example) as any;
  change(copy);
  return jsonFile(copy);
};
const seed = (label: string) => keccak256(toUtf8Bytes(`tsd guide test ${label}`)).slice(2);
const uuid = (label: string) => {
  const h = seed(label);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const record = (label: string, fields: Partial<DepositRecord> = {}): DepositRecord =>
  createDepositRecord({
    id: uuid(label),
    depositor: "uscc:91310115MA1K4XXXXX",
    digest: seed(`digest ${label}`),
    salt: seed(`salt ${label}`),
    receivedAt: example.deposit.receivedAt,
    ...fields,
  });

describe("check-certificate.py, as printed in the guide", () => {
  test("on the worked example: the leaf hash and the root of docs/protocol.md, exit 0", () => {
    const run = python(checkCertificate, join(EXAMPLES, "certificate.json"), documentPath);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain(`leaf hash: ${worked.leafHash}\n`);
    expect(run.stdout).toContain(`computed root: ${worked.root}\n`);
    expect(run.stdout).toContain(`sha256 of the document: ${example.deposit.digest}\n`);
    expect(run.stdout).toContain("anchored:   2026-03-16T02:30:07+00:00 = 2026-03-16T10:30:07+08:00");
    expect(failures(run.stdout)).toEqual([]);
    expect(run.stdout).toMatch(/passed: now check the signature and the chain\n$/);
    expect(run.code).toBe(0);
  });

  test("without the document it passes, and says the document was not compared", () => {
    const run = python(checkCertificate, join(EXAMPLES, "certificate.json"));
    expect(run.stdout).toContain("no document given: the document itself was NOT compared");
    expect(run.code).toBe(0);
  });

  test("one changed byte of the document fails the digest", () => {
    const changed = Buffer.from(documentBytes);
    changed[10] = (changed[10] as number) ^ 0x01;
    const file = join(dir, "changed.txt");
    writeFileSync(file, changed);
    const run = python(checkCertificate, join(EXAMPLES, "certificate.json"), file);
    expect(failures(run.stdout)).toEqual(["FAIL  the document's digest equals deposit.digest"]);
    expect(run.code).toBe(1);
  });

  test("one changed character of the salt fails the proof", () => {
    const cert = tampered((c) => {
      const salt = c.deposit.salt as string;
      c.deposit.salt = (salt[0] === "0" ? "1" : "0") + salt.slice(1);
    });
    const run = python(checkCertificate, cert, documentPath);
    expect(run.stdout).not.toContain(worked.root);
    expect(failures(run.stdout)).toEqual(["FAIL  the audit path leads to anchor.root"]);
    expect(run.code).toBe(1);
  });

  test("a receivedAt later than blockTimestamp * 1000 fails the time rule (and the proof)", () => {
    const cert = tampered((c) => (c.deposit.receivedAt = c.anchor.blockTimestamp * 1000 + 1));
    const run = python(checkCertificate, cert, documentPath);
    expect(failures(run.stdout)).toEqual([
      "FAIL  the audit path leads to anchor.root",
      "FAIL  receivedAt <= anchor.blockTimestamp * 1000",
    ]);
    expect(run.code).toBe(1);
  });

  test("a correctly proven and signed record received after its block fails the time rule alone", async () => {
    const late = record("late", { receivedAt: example.anchor.blockTimestamp * 1000 + 1 });
    const { certificate } = await certifyLike(
      example,
      [record("early"), late],
      1,
      worked.testCertifierKey,
      worked.chain.certifier.since,
    );
    const run = python(checkCertificate, jsonFile(certificate));
    expect(failures(run.stdout)).toEqual(["FAIL  receivedAt <= anchor.blockTimestamp * 1000"]);
    expect(run.code).toBe(1);
  });

  test("a message that differs from the anchor, or another domain, fails", () => {
    const batch = python(
      checkCertificate,
      tampered((c) => (c.attestation.typedData.message.batch += 1)),
    );
    expect(failures(batch.stdout)).toEqual([
      "FAIL  the signed message is this certificate's anchor and tree size",
    ]);
    const domain = python(
      checkCertificate,
      tampered((c) => (c.attestation.typedData.domain.chainId = 1)),
    );
    expect(failures(domain.stdout)).toEqual([
      "FAIL  the signed domain is tsd version 1 of this chain and registry",
    ]);
    expect([batch.code, domain.code]).toEqual([1, 1]);
  });

  test("an SM3 deposit is compared with SM3", async () => {
    const sm3 = createHash("sm3").update(documentBytes).digest("hex");
    const { certificate } = await certifyLike(
      example,
      [record("a"), record("sm3", { digestAlg: "sm3", digest: sm3 }), record("b")],
      1,
      worked.testCertifierKey,
      worked.chain.certifier.since,
    );
    const run = python(checkCertificate, jsonFile(certificate), documentPath);
    expect(run.stdout).toContain(`sm3 of the document: ${sm3}\n`);
    expect(failures(run.stdout)).toEqual([]);
    expect(run.code).toBe(0);
  });

  test("a certificate that is not a record v1 fails (an extra member)", () => {
    const run = python(
      checkCertificate,
      tampered((c) => (c.deposit.note = "x")),
    );
    expect(failures(run.stdout)).toContain("FAIL  a tsd-certificate/1 with a deposit record v1");
    expect(run.code).toBe(1);
  });
});

describe("check-disclosure.py, as printed in the guide", () => {
  // A deposit set of five files, Chinese names among them, ordered by the UTF-8 bytes of path.
  const disclosedPath = "配方/LX-7 涂料.txt";
  const paths = ["README.md", disclosedPath, "src/mix.c", "图纸/泵体.dwg", "配方/LX-6.txt"];
  const members = paths
    .map((path, i) => ({
      v: 1,
      path,
      digestAlg: "sha256",
      digest:
        path === disclosedPath
          ? createHash("sha256").update(documentBytes).digest("hex")
          : seed(`member ${i}`),
      salt: seed(`member salt ${i}`),
      bytes: path === disclosedPath ? documentBytes.length : 1000 + i,
    }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.path, "utf8"), Buffer.from(b.path, "utf8")));
  const leaves = members.map((m) => hashLeaf(new TextEncoder().encode(canonicalize(m) as string)));
  const tree = MerkleTree.fromLeafHashes(leaves);
  const index = members.findIndex((m) => m.path === disclosedPath);
  const disclosure = {
    format: "tsd-disclosure/1",
    root: toHex(tree.root),
    member: members[index],
    proof: { leafIndex: index, treeSize: tree.size, auditPath: tree.auditPath(index).map(to0xHex) },
  };
  const file = join(dir, "涂料.txt");
  let setCertificate: string;

  beforeAll(async () => {
    copyFileSync(documentPath, file);
    const { certificate } = await certifyLike(
      example,
      [record("x"), record("set", { digestAlg: "tsd-set/1", digest: toHex(tree.root) }), record("y")],
      1,
      worked.testCertifierKey,
      worked.chain.certifier.since,
    );
    setCertificate = jsonFile(certificate);
  });

  test("the member leaf (JCS with raw UTF-8) and the set root; then the certificate without the file", () => {
    const run = python(checkDisclosure, jsonFile(disclosure), setCertificate, file);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain(`member leaf hash: ${to0xHex(leaves[index] as Uint8Array)}\n`);
    expect(run.stdout).toContain(`computed set root: ${toHex(tree.root)}\n`);
    expect(failures(run.stdout)).toEqual([]);
    expect(run.code).toBe(0);
    const cert = python(checkCertificate, setCertificate);
    expect(failures(cert.stdout)).toEqual([]);
    expect(cert.code).toBe(0);
  });

  test("another file fails the digest", () => {
    const run = python(
      checkDisclosure,
      jsonFile(disclosure),
      setCertificate,
      join(EXAMPLES, "certificate.json"),
    );
    expect(failures(run.stdout)).toEqual(["FAIL  the file's digest equals member.digest"]);
    expect(run.code).toBe(1);
  });

  test("a path not in NFC fails the path rules and the proof", () => {
    const nfd = { ...disclosure, member: { ...disclosure.member, path: "re\u0301sume\u0301.txt" } };
    const run = python(checkDisclosure, jsonFile(nfd), setCertificate, file);
    expect(failures(run.stdout)).toEqual([
      "FAIL  the path is NFC, separated by /, with no empty, . or .. segment",
      "FAIL  the audit path leads to the disclosure's root",
    ]);
    expect(run.code).toBe(1);
  });

  test("a '..' segment fails the path rules", () => {
    const dotdot = { ...disclosure, member: { ...disclosure.member, path: "配方/../涂料.txt" } };
    const run = python(checkDisclosure, jsonFile(dotdot), setCertificate, file);
    expect(failures(run.stdout)).toContain(
      "FAIL  the path is NFC, separated by /, with no empty, . or .. segment",
    );
    expect(run.code).toBe(1);
  });

  test("a certificate of another deposit fails: the root is not its digest", () => {
    const run = python(checkDisclosure, jsonFile(disclosure), join(EXAMPLES, "certificate.json"), file);
    expect(failures(run.stdout)).toEqual([
      "FAIL  the root is the certificate's deposit (digestAlg tsd-set/1)",
    ]);
    expect(run.code).toBe(1);
  });
});

describe("the guide's commands", () => {
  const registry = new Interface(REGISTRY_ABI);
  const castCalls = [guide, readFileSync(join(ROOT, "docs", "protocol.md"), "utf8")]
    .flatMap((text) => text.split("\n"))
    .filter((line) => /\bcast call\b/.test(line));

  test("every `cast call` names a signature of the registry's ABI", () => {
    expect(castCalls.length).toBeGreaterThanOrEqual(4);
    const named = castCalls.map((line) => {
      const signature = /\bcast call\s+\S+\s+"([^"]+)"/.exec(line)?.[1];
      expect(signature).toBeDefined();
      const [, name, inputs, outputs] = /^(\w+)\(([^)]*)\)(?:\(([^)]*)\))?$/.exec(signature as string) ?? [];
      const fn = registry.getFunction(name as string);
      expect(fn).not.toBeNull();
      expect(inputs).toBe(fn!.inputs.map((p) => p.type).join(","));
      expect(outputs).toBe(fn!.outputs.map((p) => p.type).join(","));
      return name;
    });
    expect(new Set(named)).toEqual(new Set(["anchorOf", "certifier"]));
  });

  test("the selectors for plain eth_call are those of the ABI", () => {
    const text = guide.replace(/\s+/g, " ");
    expect(text).toContain(`data is \`${registry.getFunction("anchorOf")!.selector}\` followed by the root`);
    expect(text).toContain(`for \`certifier\`, \`${registry.getFunction("certifier")!.selector}\` followed`);
  });

  test("the typed-data one-liner writes what `cast wallet verify` accepts for the example", () => {
    const line = codeBlocks(guide)
      .flatMap((b) => b.code.split("\n"))
      .find((l) => l.startsWith("python3 -c") && l.includes("typed-data.json"));
    expect(line).toBeDefined();
    const work = mkdtempSync(join(dir, "typed-"));
    copyFileSync(join(EXAMPLES, "certificate.json"), join(work, "certificate.json"));
    expect(spawnSync("sh", ["-c", line as string], { cwd: work }).status).toBe(0);
    const typedData = JSON.parse(readFileSync(join(work, "typed-data.json"), "utf8"));
    expect(typedData).toEqual(example.attestation.typedData);
    const { signer, signature } = example.attestation;
    const cast = spawnSync(
      foundryBinary("cast"),
      ["wallet", "verify", "--data", "--from-file", "--address", signer, "typed-data.json", signature],
      { cwd: work, encoding: "utf8" },
    );
    expect(cast.stdout.trim()).toBe(`Validation succeeded. Address ${signer} signed this message.`);
    expect(cast.status).toBe(0);
  });

  test("the guide never points to the repository's scripts", () => {
    expect(guide).not.toMatch(/test\/e2e|scripts\/|generic-verify/);
  });
});
