// Writes the frozen deposit-set vectors, test/vectors/set.json (protocol.md section 10). Run once per
// protocol version (`npx tsx scripts/make-set-vectors.ts`); the file is committed and
// test/core/set-vectors.test.ts checks today's code against it. Never regenerate to make a
// failing test pass: a difference means the protocol changed. Salts, ids and keys come from
// keccak of fixed labels, so a rerun writes the same bytes.
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  buildManifest,
  canonicalMember,
  createDepositRecord,
  discloseMember,
  memberLeafHash,
  to0xHex,
  type DepositRecord,
  type MemberDigestAlg,
} from "../services/core";
import { certifiedVector, labelledSeeds, writeVector } from "./vectors";

const OUT = join(__dirname, "..", "test", "vectors", "set.json");
const { seed, uuid } = labelledSeeds("tsd vector");

// A small R&D folder. "！" (U+FF01) and "😀" (U+1F600) sort one way by UTF-8 bytes and the
// other way by JS `<`, so the vector freezes which order the protocol uses.
const FILES: { path: string; digestAlg: MemberDigestAlg; content: string }[] = [
  { path: "配方/主配方.txt", digestAlg: "sha256", content: "主配方：水 70%，蔗糖 20%，秘制香料 10%。\n" },
  {
    path: "README.md",
    digestAlg: "sha256",
    content: "# 配方项目 / Formula project\n\n机密。Confidential.\n",
  },
  {
    path: "src/main.c",
    digestAlg: "sha256",
    content: '#include <stdio.h>\n\nint main(void) {\n  puts("tsd");\n  return 0;\n}\n',
  },
  {
    path: "报告/2025年/实验记录.pdf",
    digestAlg: "sm3",
    content: "%PDF-1.4\n% 实验记录 2025-03-14: stands in for a lab report; its digest is SM3\n",
  },
  { path: "empty.txt", digestAlg: "sha256", content: "" },
  { path: "！注意.txt", digestAlg: "sha256", content: "注意：本文件夹内容为商业秘密。\n" },
  { path: "😀.txt", digestAlg: "sha256", content: "🙂\n" },
];

async function main(): Promise<void> {
  const files = FILES.map((f) => {
    const data = new TextEncoder().encode(f.content);
    return { ...f, bytes: data.length, digest: createHash(f.digestAlg).update(data).digest("hex") };
  });
  const manifest = buildManifest(
    files.map((f) => ({
      path: f.path,
      digestAlg: f.digestAlg,
      digest: f.digest,
      bytes: f.bytes,
      salt: seed(`set salt ${f.path}`),
    })),
  );

  // The set is deposit 1 of a batch of three.
  const depositor = "uscc:91310115MA1K4XXXXX";
  const records: DepositRecord[] = [0, 1, 2].map((i) =>
    createDepositRecord({
      id: uuid(`set batch id ${i}`),
      depositor: i === 1 ? depositor : "tenant:acme-robotics",
      digestAlg: i === 1 ? "tsd-set/1" : "sha256",
      digest: i === 1 ? manifest.root : seed(`set batch digest ${i}`),
      salt: seed(`set batch salt ${i}`),
      receivedAt: 1_764_100_000_000 + i * 1_000,
    }),
  );

  const vector = {
    description:
      "A deposit set (DESIGN section 12): the files (UTF-8 text content, so every digest can be recomputed), " +
      "member JCS and leaf hashes in tree order, the manifest and root, disclosures of two members, and the " +
      "certificate of the set deposit with the chain state under which it is VALID. The certifier key is a " +
      "public test key. Made by scripts/make-set-vectors.ts.",
    files,
    members: manifest.members.map((m) => ({
      member: m,
      jcs: canonicalMember(m),
      leafHash: to0xHex(memberLeafHash(m)),
    })),
    root: manifest.root,
    manifest,
    disclosures: ["配方/主配方.txt", "报告/2025年/实验记录.pdf"].map((p) => discloseMember(manifest, p)),
    ...(await certifiedVector({
      records,
      leafIndex: 1,
      seed,
      batch: 18,
      txLabel: "set tx",
      block: { number: 57, label: "set block 57", timestamp: 1_764_100_060 },
      issuedAt: 1_764_100_075,
      certifierSince: 1_763_990_000,
    })),
  };
  writeVector(OUT, vector);
}

void main();
