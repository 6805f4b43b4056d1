import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Wallet } from "ethers";
import {
  CoreError,
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  createDepositRecord,
  recordLeafHash,
  signAttestation,
  verifyCertificate,
  type Certificate,
  type ChainReader,
} from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "certificate.json"), "utf8")) as {
  certificate: Certificate;
  chain: ChainFacts;
  certifierPrivateKey: string;
};
const cert = (): Certificate => structuredClone(vector.certificate);
const facts = (): ChainFacts => structuredClone(vector.chain);
const chain = memoryChain(vector.chain, vector.certificate.anchor);

/** The reason code, or the outcome when not INVALID; `null` verifies without a chain. */
async function codeOf(c: unknown, chainReader: ChainReader | null = chain, digest?: string) {
  const r = await verifyCertificate(c, {
    ...(chainReader && { chain: chainReader }),
    ...(digest && { digest }),
  });
  return r.outcome === "INVALID" ? r.code : r.outcome;
}

describe("1. parse: MALFORMED", () => {
  const mutate = (f: (c: Record<string, any>) => void) => {
    const c = cert() as unknown as Record<string, any>;
    f(c);
    return c;
  };
  test.each([
    ["not JSON object", () => "certificate"],
    ["an unknown format", () => mutate((c) => (c.format = "tsd-certificate/2"))],
    ["an extra top-level field", () => mutate((c) => (c.note = "x"))],
    ["a missing proof", () => mutate((c) => delete c.proof)],
    ["an extra deposit field", () => mutate((c) => (c.deposit.label = "x"))],
    ["a string leaf index", () => mutate((c) => (c.proof.leafIndex = "3"))],
    ["a zero tree size", () => mutate((c) => (c.proof.treeSize = 0))],
    ["an audit path that is not an array", () => mutate((c) => (c.proof.auditPath = "0x"))],
    [
      "an audit path of 65 elements",
      () => mutate((c) => (c.proof.auditPath = Array(65).fill(c.anchor.root))),
    ],
    [
      "uppercase hex in the path",
      () => mutate((c) => (c.proof.auditPath[0] = c.proof.auditPath[0].toUpperCase())),
    ],
    ["a root without 0x", () => mutate((c) => (c.anchor.root = c.anchor.root.slice(2)))],
    ["a zero chain id", () => mutate((c) => (c.anchor.chainId = 0))],
    ["a short registry address", () => mutate((c) => (c.anchor.registry = "0x1234"))],
    [
      "a registry with a bad checksum",
      () => mutate((c) => (c.anchor.registry = c.anchor.registry.replace("F", "f").replace("b", "B"))),
    ],
    ["a missing block hash", () => mutate((c) => delete c.anchor.blockHash)],
    [
      "a 64-byte signature",
      () => mutate((c) => (c.attestation.signature = c.attestation.signature.slice(0, 130))),
    ],
    ["a numeric signer", () => mutate((c) => (c.attestation.signer = 1))],
    ["typed data without types", () => mutate((c) => delete c.attestation.typedData.types)],
    ["a numeric domain name", () => mutate((c) => (c.attestation.typedData.domain.name = 1))],
    ["an extra domain field", () => mutate((c) => (c.attestation.typedData.domain.salt = "0x00"))],
    [
      "types that are not arrays",
      () => mutate((c) => (c.attestation.typedData.types.AnchorAttestation = {})),
    ],
    [
      "a type field that is not an object",
      () => mutate((c) => (c.attestation.typedData.types.EIP712Domain[0] = "name")),
    ],
    [
      "a type field without a type",
      () => mutate((c) => delete c.attestation.typedData.types.EIP712Domain[0].type),
    ],
    ["an extra type", () => mutate((c) => (c.attestation.typedData.types.Other = []))],
    ["a numeric primary type", () => mutate((c) => (c.attestation.typedData.primaryType = 1))],
    ["a message without issuedAt", () => mutate((c) => delete c.attestation.typedData.message.issuedAt)],
    ["a message with a short txHash", () => mutate((c) => (c.attestation.typedData.message.txHash = "0x12"))],
    [
      "a negative blockNumber in the message",
      () => mutate((c) => (c.attestation.typedData.message.blockNumber = -1)),
    ],
  ])("%s", async (_, make) => {
    expect(await codeOf(make())).toBe("MALFORMED");
  });

  test("says where the problem is", async () => {
    const c = cert() as unknown as Record<string, any>;
    c.anchor.txHash = "0xZZ";
    expect((await verifyCertificate(c)).message).toMatch(/^anchor\.txHash: /);
  });

  test("accepts addresses in all-lowercase form", async () => {
    const c = cert();
    c.anchor.registry = c.anchor.registry.toLowerCase();
    c.attestation.signer = c.attestation.signer.toLowerCase();
    expect(await codeOf(c)).toBe("VALID");
  });
});

describe("2. digest", () => {
  test("DIGEST_MISMATCH for another file's digest; a matching one in any case passes", async () => {
    expect(await codeOf(cert(), chain, "0".repeat(64))).toBe("DIGEST_MISMATCH");
    expect(await codeOf(cert(), chain, cert().deposit.digest.toUpperCase())).toBe("VALID");
    expect((await verifyCertificate(cert(), { digest: cert().deposit.digest })).digestChecked).toBe(true);
  });

  test("a malformed digest or registry is the caller's mistake, not a finding", async () => {
    const mistake = (message: string) =>
      expect.objectContaining({ constructor: CoreError, code: "INVALID_ARGUMENT", message });
    await expect(verifyCertificate(cert(), { digest: "abc" })).rejects.toThrow(
      mistake("digest must be 64 hex characters"),
    );
    for (const registry of ["0x1234", "0x5FbDB2315678afecb367f032d93F642f64180AA3", "registry"]) {
      await expect(verifyCertificate(cert(), { chain, registry })).rejects.toThrow(
        mistake("registry must be an address"),
      );
    }
  });
});

describe("3. inclusion proof: PROOF_INVALID", () => {
  test.each([
    ["the salt", (c: Certificate) => ({ ...c, deposit: { ...c.deposit, salt: "0".repeat(64) } })],
    ["the depositor", (c: Certificate) => ({ ...c, deposit: { ...c.deposit, depositor: "someone else" } })],
    [
      "the time",
      (c: Certificate) => ({ ...c, deposit: { ...c.deposit, receivedAt: c.deposit.receivedAt - 1 } }),
    ],
    ["the leaf index", (c: Certificate) => ({ ...c, proof: { ...c.proof, leafIndex: 2 } })],
    ["a leaf index past the size", (c: Certificate) => ({ ...c, proof: { ...c.proof, leafIndex: 7 } })],
    [
      "a path element",
      (c: Certificate) => ({
        ...c,
        proof: { ...c.proof, auditPath: [c.anchor.root, ...c.proof.auditPath.slice(1)] },
      }),
    ],
    ["the root", (c: Certificate) => ({ ...c, anchor: { ...c.anchor, root: c.proof.auditPath[0]! } })],
  ])("a changed %s", async (_, change) => {
    expect(await codeOf(change(cert()))).toBe("PROOF_INVALID");
  });
});

describe("4. attestation: SIGNATURE_INVALID", () => {
  const mutate = (f: (c: Certificate) => void) => {
    const c = cert();
    f(c);
    return c;
  };
  const td = (c: Certificate) => c.attestation.typedData;
  test.each([
    [
      "another signer named",
      (c: Certificate) => (c.attestation.signer = new Wallet(`0x${"11".repeat(32)}`).address),
    ],
    [
      "a signature that does not recover",
      (c: Certificate) => (c.attestation.signature = `0x${"00".repeat(65)}`),
    ],
    [
      "a flipped signature byte",
      (c: Certificate) =>
        (c.attestation.signature = c.attestation.signature.replace(
          /^0x(.)/,
          (_, d) => `0x${d === "0" ? "1" : "0"}`,
        )),
    ],
    ["another primary type", (c: Certificate) => (td(c).primaryType = "Other" as "AnchorAttestation")],
    ["a renamed field", (c: Certificate) => (td(c).types.AnchorAttestation[0]!.name = "merkleRoot")],
    ["a dropped field", (c: Certificate) => td(c).types.AnchorAttestation.pop()],
    ["a changed domain type", (c: Certificate) => (td(c).types.EIP712Domain[2]!.type = "uint64")],
    ["another domain name", (c: Certificate) => (td(c).domain.name = "other" as "tsd")],
    ["another domain version", (c: Certificate) => (td(c).domain.version = "2" as "1")],
    ["another domain chain", (c: Certificate) => (td(c).domain.chainId = 1)],
    [
      "another verifying contract",
      (c: Certificate) => (td(c).domain.verifyingContract = "0x0000000000000000000000000000000000000001"),
    ],
    ["a message root", (c: Certificate) => (td(c).message.root = c.proof.auditPath[0]!)],
    ["a message tree size", (c: Certificate) => (td(c).message.treeSize = 8)],
    ["a message batch", (c: Certificate) => (td(c).message.batch = 18)],
    ["a message tx hash", (c: Certificate) => (td(c).message.txHash = c.anchor.root)],
    ["a message block number", (c: Certificate) => (td(c).message.blockNumber = 43)],
    ["a message block hash", (c: Certificate) => (td(c).message.blockHash = c.anchor.root)],
    ["a message block time", (c: Certificate) => (td(c).message.blockTimestamp += 1)],
    ["an issuedAt the signer did not sign", (c: Certificate) => (td(c).message.issuedAt += 1)],
    ["anchor fields that differ from the signed ones", (c: Certificate) => (c.anchor.blockNumber = 43)],
  ])("%s", async (_, f) => {
    expect(await codeOf(mutate(f))).toBe("SIGNATURE_INVALID");
  });
});

describe("4. attestation: one spelling of a signature (found by test/fuzz)", () => {
  // ethers recovers the signer from v = 0 or 1, from any EIP-155 v (35 and up) and from an s
  // up to 2^255: all of these were VALID, so anybody could turn one certificate into others
  // that verify. Only v 27 or 28 and s in the lower half (EIP-2) are the protocol's form.
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const withSignature = (f: (r: string, s: bigint, v: number) => string) => {
    const c = cert();
    const sig = c.attestation.signature;
    c.attestation.signature = f(
      sig.slice(2, 66),
      BigInt(`0x${sig.slice(66, 130)}`),
      parseInt(sig.slice(130), 16),
    );
    return c;
  };
  const hex = (s: bigint) => s.toString(16).padStart(64, "0");

  test("the frozen certificate's own signature is v 28 and low s", () => {
    expect(cert().attestation.signature.slice(130)).toBe("1c");
  });

  test.each([1, 36, 38, 60, 156, 254, 0, 35, 255])("v %i instead of 28", async (v) => {
    const c = withSignature((r, s) => `0x${r}${hex(s)}${v.toString(16).padStart(2, "0")}`);
    const r = await verifyCertificate(c, { chain });
    expect(r).toMatchObject({ outcome: "INVALID", code: "SIGNATURE_INVALID" });
    expect(r.message).toMatch(/canonical form/);
  });

  test("the other s (n - s, v flipped): the same signature, another spelling", async () => {
    const c = withSignature((r, s, v) => `0x${r}${hex(N - s)}${(v === 27 ? 28 : 27).toString(16)}`);
    const r = await verifyCertificate(c, { chain });
    expect(r).toMatchObject({ outcome: "INVALID", code: "SIGNATURE_INVALID" });
    expect(r.message).toMatch(/canonical form/);
  });

  test("a zero s is no signature", async () => {
    const c = withSignature((r) => `0x${r}${hex(0n)}1b`);
    expect((await verifyCertificate(c, { chain })).message).toMatch(/canonical form/);
  });

  test("a canonical signature that recovers nothing (r = 0)", async () => {
    const c = withSignature((_, s, v) => `0x${hex(0n)}${hex(s)}${v.toString(16)}`);
    const r = await verifyCertificate(c, { chain });
    expect(r).toMatchObject({ outcome: "INVALID", code: "SIGNATURE_INVALID" });
    expect(r.message).toBe("the signature was not made by the named signer");
  });
});

describe("5. chain", () => {
  const withFacts = (f: (x: ChainFacts) => void) => {
    const x = facts();
    f(x);
    return memoryChain(x, vector.certificate.anchor);
  };
  test.each([
    ["CHAIN_MISMATCH", "another chain", (x: ChainFacts) => (x.chainId = 1)],
    [
      "NOT_ANCHORED",
      "an unknown root",
      (x: ChainFacts) => (x.anchorOf = { timestamp: 0, blockNumber: 0, treeSize: 0, batch: 0 }),
    ],
    ["NOT_ANCHORED", "another block number", (x: ChainFacts) => (x.anchorOf.blockNumber = 41)],
    ["NOT_ANCHORED", "another tree size", (x: ChainFacts) => (x.anchorOf.treeSize = 8)],
    ["NOT_ANCHORED", "another batch", (x: ChainFacts) => (x.anchorOf.batch = 16)],
    ["ANCHOR_MISMATCH", "a missing block", (x: ChainFacts) => (x.block = null)],
    [
      "ANCHOR_MISMATCH",
      "another block hash (a reorg)",
      (x: ChainFacts) => (x.block!.hash = `0x${"ab".repeat(32)}`),
    ],
    ["ANCHOR_MISMATCH", "another block time", (x: ChainFacts) => (x.block!.timestamp += 1)],
    [
      "SIGNER_NOT_AUTHORISED",
      "a signer never registered",
      (x: ChainFacts) => (x.certifier.address = "0x0000000000000000000000000000000000000001"),
    ],
    [
      "SIGNER_NOT_AUTHORISED",
      "a signer registered after signing",
      (x: ChainFacts) => (x.certifier.since = 1_764_000_076),
    ],
    [
      "SIGNER_NOT_AUTHORISED",
      "a signer retired before signing",
      (x: ChainFacts) => (x.certifier.until = 1_764_000_070),
    ],
    [
      "SIGNER_NOT_AUTHORISED",
      "a signer retired the second it signed",
      (x: ChainFacts) => (x.certifier.until = 1_764_000_075),
    ],
    ["VALID", "a signer retired after signing", (x: ChainFacts) => (x.certifier.until = 1_764_000_076)],
    [
      "VALID",
      "a signer registered the second it signed",
      (x: ChainFacts) => (x.certifier.since = 1_764_000_075),
    ],
  ])("%s for %s", async (code, _, f) => {
    expect(await codeOf(cert(), withFacts(f))).toBe(code);
  });

  test("the block hash from a node is compared without regard to case", async () => {
    expect(
      await codeOf(
        cert(),
        withFacts((x) => (x.block!.hash = x.block!.hash.toUpperCase().replace("0X", "0x"))),
      ),
    ).toBe("VALID");
  });

  test("without a chain, or with one that fails, the best is UNANCHORED_CHECK_ONLY", async () => {
    expect(await codeOf(cert(), null)).toBe("UNANCHORED_CHECK_ONLY");
    const down: ChainReader = { ...chain, chainId: () => Promise.reject(new Error("connect ECONNREFUSED")) };
    const r = await verifyCertificate(cert(), { chain: down });
    expect(r).toMatchObject({ outcome: "UNANCHORED_CHECK_ONLY", chainError: "connect ECONNREFUSED" });
    const odd: ChainReader = { ...chain, block: () => Promise.reject("socket hang up") };
    expect((await verifyCertificate(cert(), { chain: odd })).chainError).toBe("socket hang up");
  });
});

test("a trusted registry pins where the anchor must be", async () => {
  const registry = cert().anchor.registry;
  expect((await verifyCertificate(cert(), { chain, registry: registry.toLowerCase() })).outcome).toBe(
    "VALID",
  );
  const other = await verifyCertificate(cert(), {
    chain,
    registry: "0x0000000000000000000000000000000000000001",
  });
  expect(other).toMatchObject({ outcome: "INVALID", code: "NOT_ANCHORED" });
  expect(other.message).toContain(registry);
  // named in its checksummed spelling, whatever the caller's
  expect(other.message).toContain("not the trusted 0x0000000000000000000000000000000000000001");
  // decided before the chain is consulted
  expect(
    (await verifyCertificate(cert(), { registry: "0x0000000000000000000000000000000000000001" })).code,
  ).toBe("NOT_ANCHORED");
});

test("the order of protocol.md section 9: the first failing step decides", async () => {
  const c = cert();
  c.deposit = { ...c.deposit, salt: "0".repeat(64) }; // step 3 fails
  c.attestation.signature = `0x${"00".repeat(65)}`; // step 4 would too
  expect(await codeOf(c, chain, "0".repeat(64))).toBe("DIGEST_MISMATCH");
  expect(await codeOf(c)).toBe("PROOF_INVALID");
});

test("a parse error that is not MALFORMED is not swallowed", async () => {
  const hostile = new Proxy(
    {},
    {
      ownKeys: () => {
        throw new TypeError("trap");
      },
    },
  );
  await expect(verifyCertificate(hostile)).rejects.toThrow("trap");
});

test("property: a one-bit change to leafIndex or treeSize never verifies", async () => {
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.integer({ min: 0, max: 20 }), async (onIndex, bit) => {
      const c = cert();
      if (onIndex) c.proof.leafIndex ^= 1 << bit;
      else c.proof.treeSize ^= 1 << bit;
      return (await codeOf(c)) !== "VALID";
    }),
  );
});

test("round trip: every deposit of a fresh batch gets a VALID certificate", async () => {
  const records = Array.from({ length: 13 }, (_, i) =>
    createDepositRecord({ depositor: "tenant:t", digest: i.toString(16).padStart(64, "0"), receivedAt: i }),
  );
  const tree = MerkleTree.fromLeafHashes(records.map(recordLeafHash));
  const certifier = new Wallet(vector.certifierPrivateKey);
  const anchor = { ...vector.certificate.anchor, root: `0x${Buffer.from(tree.root).toString("hex")}` };
  const typedData = attestationTypedData(anchor, tree.size, anchor.blockTimestamp);
  const attestation = { ...(await signAttestation(certifier, typedData)), typedData };
  const reader = memoryChain({ ...facts(), anchorOf: { ...facts().anchorOf, treeSize: tree.size } }, anchor);
  for (const [i, deposit] of records.entries()) {
    const c = buildCertificate({
      deposit,
      leafIndex: i,
      treeSize: tree.size,
      auditPath: tree.auditPath(i),
      anchor,
      attestation,
    });
    expect(await codeOf(JSON.parse(JSON.stringify(c)), reader, deposit.digest)).toBe("VALID");
  }
  expect(() =>
    buildCertificate({
      deposit: records[0]!,
      leafIndex: -1,
      treeSize: 1,
      auditPath: [],
      anchor,
      attestation,
    }),
  ).toThrow(/proof.leafIndex/);
});

describe("the time invariant (protocol.md section 11): receivedAt <= blockTimestamp * 1000", () => {
  /** A correctly signed, correctly anchored certificate of one record received at `receivedAt`. */
  async function certifiedAt(receivedAt: number): Promise<{ c: Certificate; reader: ChainReader }> {
    const deposit = createDepositRecord({ depositor: "tenant:t", digest: "ab".repeat(32), receivedAt });
    const tree = MerkleTree.fromLeafHashes([recordLeafHash(deposit)]);
    const anchor = { ...vector.certificate.anchor, root: `0x${Buffer.from(tree.root).toString("hex")}` };
    const typedData = attestationTypedData(anchor, 1, anchor.blockTimestamp);
    const attestation = {
      ...(await signAttestation(new Wallet(vector.certifierPrivateKey), typedData)),
      typedData,
    };
    const c = buildCertificate({ deposit, leafIndex: 0, treeSize: 1, auditPath: [], anchor, attestation });
    const reader = memoryChain({ ...facts(), anchorOf: { ...facts().anchorOf, treeSize: 1 } }, anchor);
    return { c, reader };
  }
  const blockMs = vector.certificate.anchor.blockTimestamp * 1000;

  test("a record received in the block's own second, before its time, is VALID", async () => {
    const { c, reader } = await certifiedAt(blockMs);
    expect(await codeOf(c, reader)).toBe("VALID");
  });

  test("one received a millisecond after the block's time is ANCHOR_MISMATCH, with or without a chain", async () => {
    const { c, reader } = await certifiedAt(blockMs + 1);
    expect(await codeOf(c, reader)).toBe("ANCHOR_MISMATCH");
    const offline = await verifyCertificate(c);
    expect(offline).toMatchObject({ outcome: "INVALID", code: "ANCHOR_MISMATCH" });
    expect(offline.message).toMatch(/received after/);
  });

  test("it is checked after the signature: a forged receivedAt is PROOF_INVALID first", async () => {
    const c = cert();
    (c.deposit as { receivedAt: number }).receivedAt = blockMs + 1;
    expect(await codeOf(c)).toBe("PROOF_INVALID");
  });
});
