import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  MerkleTree,
  buildManifest,
  canonicalMember,
  compareUtf8,
  digestStream,
  discloseMember,
  memberLeafHash,
  parseCertificate,
  parseDisclosure,
  parseManifest,
  parseSetMember,
  to0xHex,
  verifyCertificate,
  verifyDisclosure,
  type Certificate,
  type Disclosure,
  type MemberDigestAlg,
  type SetManifest,
} from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

// The frozen deposit-set vectors (test/vectors/set.json, made once by scripts/make-set-vectors.ts).
// If one of these fails, the protocol changed: that needs a new format version, not new vectors.
const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "set.json"), "utf8")) as {
  files: { path: string; digestAlg: MemberDigestAlg; content: string; bytes: number; digest: string }[];
  members: { member: unknown; jcs: string; leafHash: string }[];
  root: string;
  manifest: SetManifest;
  disclosures: Disclosure[];
  chain: ChainFacts;
  certificate: Certificate;
};
const chain = memoryChain(vector.chain, vector.certificate.anchor);

test("files: every digest and size is recomputable from the stated content (SHA-256 and SM3)", () => {
  expect(vector.files.length).toBeGreaterThanOrEqual(5);
  expect(new Set(vector.files.map((f) => f.digestAlg))).toEqual(new Set(["sha256", "sm3"]));
  for (const f of vector.files) {
    const data = new TextEncoder().encode(f.content);
    expect(f.bytes).toBe(data.length);
    expect(f.digest).toBe(createHash(f.digestAlg).update(data).digest("hex"));
  }
  const empty = vector.files.find((f) => f.bytes === 0)!;
  expect(empty.digest).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("files: the core's streaming SHA-256 and SM3 (what the CLI hashes files with) give the same digests", async () => {
  expect(new Set(vector.files.map((f) => f.digestAlg))).toEqual(new Set(["sha256", "sm3"]));
  for (const f of vector.files) {
    const data = new TextEncoder().encode(f.content);
    async function* chunks() {
      for (let i = 0; i < data.length; i += 7) yield data.subarray(i, i + 7);
    }
    const seen: number[] = [];
    expect(await digestStream(chunks(), f.digestAlg as "sha256" | "sm3", (n) => seen.push(n))).toBe(f.digest);
    expect(seen.at(-1) ?? 0).toBe(f.bytes);
  }
});

test("members: JCS (non-ASCII as itself) and leaf hashes are unchanged", () => {
  for (const c of vector.members) {
    const member = parseSetMember(c.member);
    expect(canonicalMember(member)).toBe(c.jcs);
    expect(to0xHex(memberLeafHash(member))).toBe(c.leafHash);
  }
  expect(vector.members.map((c) => c.jcs).join("")).not.toContain("\\u");
});

test("order: members sorted by the UTF-8 bytes of their path, which here differs from JS string order", () => {
  const paths = vector.members.map((c) => parseSetMember(c.member).path);
  expect(paths).toEqual(vector.files.map((f) => f.path).sort(compareUtf8));
  expect(paths).not.toEqual([...paths].sort());
  expect(paths.slice(-2)).toEqual(["！注意.txt", "😀.txt"]);
});

test("manifest: parses, its root is the RFC 9162 root of the leaves, and rebuilding it gives the same bytes", () => {
  expect(parseManifest(vector.manifest)).toBe(vector.manifest);
  expect(vector.manifest.root).toBe(vector.root);
  expect(vector.manifest.members).toEqual(vector.members.map((c) => c.member));
  const leaves = vector.members.map((c) => memberLeafHash(parseSetMember(c.member)));
  expect(to0xHex(MerkleTree.fromLeafHashes(leaves).root)).toBe(`0x${vector.root}`);
  const salts = new Map(vector.manifest.members.map((m) => [m.path, m.salt]));
  const rebuilt = buildManifest(
    vector.files.map((f) => ({
      path: f.path,
      digestAlg: f.digestAlg,
      digest: f.digest,
      bytes: f.bytes,
      salt: salts.get(f.path)!,
    })),
  );
  expect(JSON.stringify(rebuilt)).toBe(JSON.stringify(vector.manifest));
});

test("disclosures: unchanged, and VALID with the file against the set's certificate", async () => {
  expect(parseCertificate(vector.certificate)).toBe(vector.certificate);
  expect(vector.certificate.deposit).toMatchObject({ digestAlg: "tsd-set/1", digest: vector.root });
  expect((await verifyCertificate(vector.certificate, { chain })).outcome).toBe("VALID");
  expect(vector.disclosures.length).toBe(2);
  for (const d of vector.disclosures) {
    expect(parseDisclosure(d)).toBe(d);
    expect(JSON.stringify(discloseMember(vector.manifest, d.member.path))).toBe(JSON.stringify(d));
    const file = vector.files.find((f) => f.path === d.member.path)!;
    const fileDigest = createHash(d.member.digestAlg)
      .update(new TextEncoder().encode(file.content))
      .digest("hex");
    const r = await verifyDisclosure(d, vector.certificate, { chain, fileDigest });
    expect(r).toMatchObject({ outcome: "VALID", digestChecked: true });
    expect(r.message).toBe(
      `file ${d.member.path} (digest ${file.digest}) belonged to the set deposited by ` +
        "uscc:91310115MA1K4XXXXX no later than 2025-11-25T19:47:40.000Z (block 57, chain 31337)",
    );
  }
  expect(vector.disclosures.map((d) => d.member.path)).toEqual([
    "配方/主配方.txt",
    "报告/2025年/实验记录.pdf",
  ]);
  expect(vector.disclosures[1]!.member.digestAlg).toBe("sm3");
});
