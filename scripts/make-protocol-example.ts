// Writes the worked example of docs/protocol.md: docs/examples/certificate.json (the
// certificate of docs/examples/document.txt, as the API serves it) and
// docs/examples/worked-example.json (every intermediate value, in the order a verifier meets
// them). Deterministic: ids, salts, hashes and the certifier key come from keccak256 of fixed
// labels, the times are fixed, and ECDSA signatures are deterministic (RFC 6979), so a re-run
// gives the same bytes; test/docs/protocol-example.test.ts checks that.
//
//   node --import tsx scripts/make-protocol-example.ts [outdir]     (default docs/examples)
//
// The committed files are frozen like test/vectors: never regenerate them to make a test pass.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  TypedDataEncoder,
  Wallet,
  concat,
  getAddress,
  keccak256,
  recoverAddress,
  toUtf8Bytes,
  type TypedDataField,
} from "ethers";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  canonicalRecord,
  createDepositRecord,
  hashChildren,
  recordLeafHash,
  sha256,
  signAttestation,
  to0xHex,
  toHex,
  validStatement,
  type AnchorInfo,
  type DepositRecord,
} from "../services/core";

const ROOT = join(__dirname, "..");
const DOCUMENT = join(ROOT, "docs", "examples", "document.txt");

const seed = (label: string) => keccak256(toUtf8Bytes(`tsd protocol example ${label}`)).slice(2);
const uuid = (label: string) => {
  const h = seed(label);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/**
 * The certifier key of the example. A PUBLIC TEST KEY: anyone can compute it from this
 * label, so it proves nothing outside this example and is registered on no real chain.
 */
export const TEST_CERTIFIER_KEY = `0x${seed("certifier key (TEST KEY, PUBLIC, NEVER USE)")}`;

/** The chain facts under which the example certificate is VALID. */
const CHAIN_ID = 31337;
const REGISTRY = getAddress(`0x${seed("registry").slice(24)}`);
const BLOCK_NUMBER = 8127;
const BLOCK_TIMESTAMP = 1_773_628_207; // 2026-03-16T02:30:07Z
const BATCH = 311;
const ISSUED_AT = BLOCK_TIMESTAMP + 14;
const CERTIFIER_SINCE = BLOCK_TIMESTAMP - 42 * 86_400;
/** All deposits arrived before 02:30:06Z, the second in which the batch was sealed. */
const RECEIVED_BASE = 1_773_628_203_000;
const LEAF_INDEX = 2;

/** Python's `datetime.isoformat()` (and `date --iso-8601=seconds`) for `seconds` at `offsetHours`. */
function isoSeconds(seconds: number, offsetHours: number): string {
  const sign = offsetHours < 0 ? "-" : "+";
  const offset = `${sign}${String(Math.abs(offsetHours)).padStart(2, "0")}:00`;
  return new Date((seconds + offsetHours * 3600) * 1000).toISOString().replace(".000Z", offset);
}

async function main(outDir: string): Promise<void> {
  const document = readFileSync(DOCUMENT);
  const documentSha256 = toHex(sha256(document));

  const records: DepositRecord[] = [
    createDepositRecord({
      id: uuid("deposit 0"),
      depositor: "tenant:acme-robotics",
      digest: seed("digest 0"),
      salt: seed("salt 0"),
      receivedAt: RECEIVED_BASE + 117,
    }),
    createDepositRecord({
      id: uuid("deposit 1"),
      depositor: "uscc:91310115MA1K4XXXXX",
      digestAlg: "sm3",
      digest: seed("digest 1"),
      salt: seed("salt 1"),
      receivedAt: RECEIVED_BASE + 842,
    }),
    createDepositRecord({
      id: uuid("deposit 2 (document.txt)"),
      depositor: "uscc:91310115MA1K4XXXXX",
      digest: documentSha256,
      salt: seed("salt 2"),
      receivedAt: RECEIVED_BASE + 1_305,
      prev: uuid("deposit of document.txt revision 2"),
    }),
    createDepositRecord({
      id: uuid("deposit 3"),
      depositor: "tenant:acme-robotics",
      digestAlg: "tsd-set/1",
      digest: seed("digest 3"),
      salt: seed("salt 3"),
      receivedAt: RECEIVED_BASE + 2_660,
    }),
    createDepositRecord({
      id: uuid("deposit 4"),
      depositor: "tenant:pudong-biolab",
      digest: seed("digest 4"),
      salt: seed("salt 4"),
      receivedAt: RECEIVED_BASE + 2_981,
    }),
  ];
  const leaves = records.map(recordLeafHash);
  const tree = MerkleTree.fromLeafHashes(leaves);
  const deposit = records[LEAF_INDEX] as DepositRecord;

  const anchor: AnchorInfo = {
    chainId: CHAIN_ID,
    registry: REGISTRY,
    root: to0xHex(tree.root),
    batch: BATCH,
    txHash: `0x${seed("anchor transaction")}`,
    blockNumber: BLOCK_NUMBER,
    blockHash: `0x${seed(`block ${BLOCK_NUMBER}`)}`,
    blockTimestamp: BLOCK_TIMESTAMP,
  };
  const certifier = new Wallet(TEST_CERTIFIER_KEY);
  const typedData = attestationTypedData(anchor, tree.size, ISSUED_AT);
  const signed = await signAttestation(certifier, typedData);
  const auditPath = tree.auditPath(LEAF_INDEX);
  const certificate = buildCertificate({
    deposit,
    leafIndex: LEAF_INDEX,
    treeSize: tree.size,
    auditPath,
    anchor,
    attestation: { ...signed, typedData },
  });

  // The audit path folded as RFC 9162 section 2.1.3.2 does, one record per step.
  const jcs = canonicalRecord(deposit);
  const leafHash = recordLeafHash(deposit);
  const folds: { step: number; sibling: string; siblingSide: string; input: string; result: string }[] = [];
  let fn = LEAF_INDEX;
  let sn = tree.size - 1;
  let r = leafHash;
  auditPath.forEach((p, i) => {
    const left = fn % 2 === 1 || fn === sn;
    const [a, b] = left ? [p, r] : [r, p];
    r = hashChildren(a, b);
    folds.push({
      step: i + 1,
      sibling: to0xHex(p),
      siblingSide: left ? "left" : "right",
      input: `01${toHex(a)}${toHex(b)}`,
      result: to0xHex(r),
    });
    if (left) {
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  });

  const { domain, message } = typedData;
  const types = { AnchorAttestation: typedData.types.AnchorAttestation };
  const domainTypes: Record<string, TypedDataField[]> = { EIP712Domain: typedData.types.EIP712Domain };
  const domainTypeString = TypedDataEncoder.from(domainTypes).encodeType("EIP712Domain");
  const typeString = TypedDataEncoder.from(types).encodeType("AnchorAttestation");
  const domainSeparator = TypedDataEncoder.hashDomain(domain);
  const structHash = TypedDataEncoder.hashStruct("AnchorAttestation", types, message);
  const digestInput = concat(["0x1901", domainSeparator, structHash]);
  const digest = TypedDataEncoder.hash(domain, types, message);

  const worked = {
    description:
      "Every intermediate value of the worked example in docs/protocol.md, from docs/examples/document.txt to " +
      "the VALID outcome of docs/examples/certificate.json. Made by scripts/make-protocol-example.ts. " +
      "testCertifierKey is a PUBLIC TEST KEY: it signs this example only.",
    testCertifierKey: TEST_CERTIFIER_KEY,
    document: { file: "document.txt", bytes: document.length, sha256: documentSha256 },
    record: deposit,
    jcs,
    jcsHex: toHex(new TextEncoder().encode(jcs)),
    leafHash: to0xHex(leafHash),
    proof: { leafIndex: LEAF_INDEX, treeSize: tree.size },
    folds,
    root: to0xHex(r),
    eip712: {
      domainTypeString,
      domainTypeHash: keccak256(toUtf8Bytes(domainTypeString)),
      domainEncoding: TypedDataEncoder.from(domainTypes).encodeData("EIP712Domain", domain),
      domainSeparator,
      typeString,
      typeHash: keccak256(toUtf8Bytes(typeString)),
      structEncoding: TypedDataEncoder.from(types).encodeData("AnchorAttestation", message),
      structHash,
      digestInput,
      digest,
      signature: signed.signature,
      recoveredSigner: recoverAddress(digest, signed.signature),
    },
    chain: {
      chainId: CHAIN_ID,
      registry: REGISTRY,
      anchorOf: { timestamp: BLOCK_TIMESTAMP, blockNumber: BLOCK_NUMBER, treeSize: tree.size, batch: BATCH },
      block: { number: BLOCK_NUMBER, hash: anchor.blockHash, timestamp: BLOCK_TIMESTAMP },
      certifier: { address: certifier.address, since: CERTIFIER_SINCE, until: 0 },
    },
    times: {
      receivedAtUtc: new Date(deposit.receivedAt).toISOString().replace("Z", "+00:00"),
      blockTimestampUtc: isoSeconds(BLOCK_TIMESTAMP, 0),
      blockTimestampShanghai: isoSeconds(BLOCK_TIMESTAMP, 8),
      issuedAtUtc: isoSeconds(ISSUED_AT, 0),
      certifierSinceUtc: isoSeconds(CERTIFIER_SINCE, 0),
    },
    outcome: { outcome: "VALID", statement: validStatement(certificate) },
  };

  mkdirSync(outDir, { recursive: true });
  // The API's body (JSON.stringify(cert, null, 2)), plus the final newline a text file ends with.
  writeFileSync(join(outDir, "certificate.json"), `${JSON.stringify(certificate, null, 2)}\n`);
  writeFileSync(join(outDir, "worked-example.json"), `${JSON.stringify(worked, null, 2)}\n`);
}

main(resolve(process.argv[2] ?? join(ROOT, "docs", "examples"))).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
