import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CoreError,
  claimedChainId,
  claimsSet,
  fileDigestAlg,
  verifyEvidence,
  type Certificate,
  type ChainReader,
  type Disclosure,
} from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

// One verification as every verifier form reports it: outcome, statement or reason in both
// languages, and what was and was not checked.

const load = <T>(name: string): T =>
  JSON.parse(readFileSync(join(__dirname, "..", "vectors", name), "utf8")) as T;
const single = load<{ certificate: Certificate; chain: ChainFacts }>("certificate.json");
const set = load<{ certificate: Certificate; chain: ChainFacts; disclosures: Disclosure[] }>("set.json");
const singleChain = memoryChain(single.chain, single.certificate.anchor);
const setChain = memoryChain(set.chain, set.certificate.anchor);

describe("fileDigestAlg: how a document must be hashed to be compared", () => {
  test.each<[string, unknown, unknown, string | null]>([
    ["a sha256 deposit", single.certificate, undefined, "sha256"],
    ["an sm3 deposit", { deposit: { digestAlg: "sm3" } }, undefined, "sm3"],
    ["a deposit set alone (compare through a disclosure)", set.certificate, undefined, null],
    ["a disclosure's member", set.certificate, set.disclosures[0], set.disclosures[0]!.member.digestAlg],
    ["an sm3 member", set.certificate, { member: { digestAlg: "sm3" } }, "sm3"],
    ["not a certificate", "text", undefined, null],
    ["a certificate without a deposit", {}, undefined, null],
    ["not a disclosure", set.certificate, [], null],
    ["a disclosure without a member", set.certificate, {}, null],
  ])("%s", (_, certificate, disclosure, alg) => {
    expect(fileDigestAlg(certificate, disclosure)).toBe(alg);
  });
});

test.each<[unknown, number | undefined, boolean]>([
  [single.certificate, 31337, false],
  [set.certificate, set.certificate.anchor.chainId, true],
  [{ anchor: { chainId: 0 }, deposit: {} }, undefined, false],
  [{ anchor: { chainId: "1" } }, undefined, false],
  [{ anchor: [] }, undefined, false],
  [null, undefined, false],
])("claimedChainId and claimsSet read an unparsed certificate (%#)", (certificate, chainId, isSet) => {
  expect(claimedChainId(certificate)).toBe(chainId);
  expect(claimsSet(certificate)).toBe(isSet);
});

describe("verifyEvidence", () => {
  const { certificate } = single;
  const registry = certificate.anchor.registry;

  test("VALID: the statement in both languages, both times, and every check named", async () => {
    const v = await verifyEvidence({
      certificate,
      fileDigest: certificate.deposit.digest,
      chain: singleChain,
      registry: registry.toLowerCase(),
    });
    expect(v).toMatchObject({
      outcome: "VALID",
      checks: {
        file: "compared",
        registry: { named: registry, pinned: registry },
        chain: "consulted",
        certifier: certificate.attestation.signer,
      },
      times: {
        anchored: { utc: "2025-11-24 16:01:00 UTC", shanghai: "2025-11-25 00:01:00 (UTC+8, Asia/Shanghai)" },
        received: { utc: "2025-11-24 16:00:03 UTC" },
      },
    });
    expect(v.statement?.en).toContain(`was deposited by ${certificate.deposit.depositor}`);
    expect(v.statement?.zh).toContain("存证");
    expect(v.explanation.en).toMatch(/^Valid/);
    expect(v.code).toBeUndefined();
  });

  test("without a chain: UNANCHORED_CHECK_ONLY, the chain 'not given', the registry not pinned", async () => {
    const v = await verifyEvidence({ certificate });
    expect(v).toMatchObject({
      outcome: "UNANCHORED_CHECK_ONLY",
      checks: { file: "not given", chain: "not given", registry: { named: registry, pinned: null } },
    });
    expect(v.statement).toBeUndefined();
  });

  test("a chain that fails: 'unreachable', with the node's error", async () => {
    const down: ChainReader = { ...singleChain, chainId: () => Promise.reject(new Error("ECONNREFUSED")) };
    const v = await verifyEvidence({ certificate, chain: down });
    expect(v).toMatchObject({
      outcome: "UNANCHORED_CHECK_ONLY",
      chainError: "ECONNREFUSED",
      checks: { chain: "unreachable" },
    });
  });

  test("a finding before the chain: it was 'not reached'", async () => {
    const v = await verifyEvidence({ certificate, fileDigest: "0".repeat(64), chain: singleChain });
    expect(v).toMatchObject({
      outcome: "INVALID",
      code: "DIGEST_MISMATCH",
      checks: { file: "compared", chain: "not reached" },
    });
    expect(v.explanation.zh).toContain("摘要");
  });

  test("a finding of the chain: it was 'consulted'", async () => {
    const other = memoryChain({ ...single.chain, chainId: 1 }, certificate.anchor);
    expect((await verifyEvidence({ certificate, chain: other })).checks.chain).toBe("consulted");
  });

  test("MALFORMED: nothing named that the document did not give", async () => {
    const v = await verifyEvidence({ certificate: "not json" });
    expect(v).toMatchObject({
      outcome: "INVALID",
      code: "MALFORMED",
      checks: { registry: { named: null, pinned: null }, certifier: null },
    });
    expect(v.times).toBeUndefined();
    expect(v.certificate).toBeUndefined();
  });

  test("a disclosure: the member's statement, and the set's certificate checked", async () => {
    const disclosure = set.disclosures[0]!;
    const v = await verifyEvidence({
      certificate: set.certificate,
      disclosure,
      fileDigest: disclosure.member.digest,
      chain: setChain,
    });
    expect(v).toMatchObject({
      outcome: "VALID",
      checks: { file: "compared", chain: "consulted" },
      disclosure,
    });
    expect(v.statement?.en).toContain(`The file ${disclosure.member.path}`);
    expect(v.statement?.zh).toContain(`文件 ${disclosure.member.path}`);
  });

  test("a disclosure alone, no document and no chain: checked offline, the registry pinned", async () => {
    const v = await verifyEvidence({
      certificate: set.certificate,
      disclosure: set.disclosures[0],
      registry: set.certificate.anchor.registry,
    });
    expect(v).toMatchObject({
      outcome: "UNANCHORED_CHECK_ONLY",
      checks: {
        file: "not given",
        chain: "not given",
        registry: { pinned: set.certificate.anchor.registry },
      },
    });
  });

  test("an SM3 deposit's mismatch names SM3", async () => {
    const sm3 = structuredClone(certificate);
    (sm3.deposit as { digestAlg: string }).digestAlg = "sm3";
    const v = await verifyEvidence({ certificate: sm3, fileDigest: "0".repeat(64) });
    expect(v).toMatchObject({
      code: "DIGEST_MISMATCH",
      message: "the file's SM3 differs from the deposited digest",
    });
  });

  test("a set's certificate with a document but no disclosure is the caller's mistake", async () => {
    await expect(
      verifyEvidence({ certificate: set.certificate, fileDigest: "a".repeat(64) }),
    ).rejects.toThrow(
      expect.objectContaining({
        constructor: CoreError,
        code: "INVALID_ARGUMENT",
        message: "a deposit set's certificate compares a file only through that file's disclosure",
      }),
    );
  });

  // Found by test/fuzz: a well-formed certificate whose times no calendar shows made
  // verifyEvidence throw (CoreError INVALID_ARGUMENT from formatTime), so POST /v1/verify
  // answered 500 instead of a verdict.
  test.each([
    ["an anchor time past year 9999", { blockTimestamp: 253_402_300_800 }, {}],
    ["the largest anchor time", { blockTimestamp: Number.MAX_SAFE_INTEGER }, {}],
    ["a receipt time past year 9999", {}, { receivedAt: Number.MAX_SAFE_INTEGER }],
  ])("%s: a verdict, without times", async (_, anchor, deposit) => {
    const c = structuredClone(certificate);
    Object.assign(c.anchor, anchor);
    Object.assign(c.deposit, deposit);
    const v = await verifyEvidence({ certificate: c, chain: singleChain });
    expect(v).toMatchObject({ outcome: "INVALID", checks: { certifier: certificate.attestation.signer } });
    expect(v.certificate).toEqual(c);
    expect(v.times).toBeUndefined();
  });
});
