import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  MerkleTree,
  canonicalRecord,
  digestStream,
  parseCertificate,
  parseDepositRecord,
  recordLeafHash,
  to0xHex,
  verifyCertificate,
  type DepositRecord,
} from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

// The project's own frozen vectors (test/vectors, made once by scripts/make-core-vectors.ts).
// If one of these fails, the protocol changed: that needs a new format version, not new vectors.
const load = <T>(name: string): T =>
  JSON.parse(readFileSync(join(__dirname, "..", "vectors", name), "utf8")) as T;

test("records: JCS and leaf hash are unchanged", () => {
  const { cases } = load<{ cases: { record: unknown; jcs: string; leafHash: string }[] }>("record.json");
  expect(cases.length).toBeGreaterThanOrEqual(4);
  for (const c of cases) {
    const record = parseDepositRecord(c.record);
    expect(canonicalRecord(record)).toBe(c.jcs);
    expect(to0xHex(recordLeafHash(record))).toBe(c.leafHash);
  }
});

test("batch: root and every audit path are unchanged", () => {
  const batch = load<{
    records: DepositRecord[];
    leafHashes: string[];
    root: string;
    auditPaths: string[][];
  }>("batch.json");
  const leaves = batch.records.map((r) => recordLeafHash(parseDepositRecord(r)));
  expect(leaves.map(to0xHex)).toEqual(batch.leafHashes);
  const tree = MerkleTree.fromLeafHashes(leaves);
  expect(to0xHex(tree.root)).toBe(batch.root);
  expect(leaves.map((_, i) => tree.auditPath(i).map(to0xHex))).toEqual(batch.auditPaths);
});

test("certificate: still parses and verifies VALID under its chain facts", async () => {
  const { certificate, chain } = load<{
    certificate: { anchor: { registry: string; root: string } };
    chain: ChainFacts;
  }>("certificate.json");
  expect(parseCertificate(certificate)).toBe(certificate);
  const result = await verifyCertificate(certificate, { chain: memoryChain(chain, certificate.anchor) });
  expect(result.outcome).toBe("VALID");
  expect(result.message).toBe(
    "digest 858bc03ff4d76434c33c3ee90ee58537fee08193d6351c7d6e057deb3f3db6d9 was deposited by " +
      "tenant:acme-robotics no later than 2025-11-24T16:01:00.000Z (block 42, chain 31337)",
  );
});

test("SM3 deposits: the digests, JCS, leaf hashes and a certificate are unchanged, and VALID", async () => {
  const v = load<{
    files: { content: string; sm3: string }[];
    records: { record: unknown; jcs: string; leafHash: string }[];
    root: string;
    certificate: { anchor: { registry: string; root: string } };
    chain: ChainFacts;
  }>("sm3.json");
  // GB/T 32905-2016, appendix A: the SM3 of "abc", as the standard prints it
  expect(v.files[0]).toEqual({
    content: "abc",
    sm3: "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
  });
  for (const [i, f] of v.files.entries()) {
    async function* bytes() {
      yield new TextEncoder().encode(f.content);
    }
    expect(await digestStream(bytes(), "sm3")).toBe(f.sm3);
    const record = parseDepositRecord(v.records[i]!.record);
    expect(record).toMatchObject({ digestAlg: "sm3", digest: f.sm3 });
    expect(canonicalRecord(record)).toBe(v.records[i]!.jcs);
    expect(to0xHex(recordLeafHash(record))).toBe(v.records[i]!.leafHash);
  }
  const tree = MerkleTree.fromLeafHashes(v.records.map((r) => recordLeafHash(parseDepositRecord(r.record))));
  expect(to0xHex(tree.root)).toBe(v.root);
  const chain = memoryChain(v.chain, v.certificate.anchor);
  expect((await verifyCertificate(v.certificate, { chain, digest: v.files[1]!.sm3 })).outcome).toBe("VALID");
  expect((await verifyCertificate(v.certificate, { chain, digest: v.files[0]!.sm3 })).code).toBe(
    "DIGEST_MISMATCH",
  );
});
