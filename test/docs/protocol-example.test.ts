import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AbiCoder,
  Interface,
  TypedDataEncoder,
  Wallet,
  concat,
  keccak256,
  recoverAddress,
  toUtf8Bytes,
} from "ethers";
import {
  attestationTypedData,
  canonicalRecord,
  createDepositRecord,
  fromHex,
  hashChildren,
  parseCertificate,
  recordLeafHash,
  recoverAttestationSigner,
  rootFromAuditPath,
  sha256,
  to0xHex,
  toHex,
  validStatement,
  verifyCertificate,
  type Certificate,
} from "../../services/core";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { certifyLike } from "../helpers/guide";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

// The worked example of docs/protocol.md (docs/examples/, made by
// scripts/make-protocol-example.ts): every value recomputed twice from the certificate and
// the document, once with the core and once without it, and each printed in the protocol.

const ROOT = join(__dirname, "..", "..");
const EXAMPLES = join(ROOT, "docs", "examples");
const read = (name: string) => readFileSync(join(EXAMPLES, name));
const certificate = JSON.parse(read("certificate.json").toString("utf8")) as Certificate;
const worked = JSON.parse(read("worked-example.json").toString("utf8")) as WorkedExample;
const documentBytes = read("document.txt");
const protocol = readFileSync(join(ROOT, "docs", "protocol.md"), "utf8");

interface Fold {
  step: number;
  sibling: string;
  siblingSide: "left" | "right";
  input: string;
  result: string;
}
type WorkedExample = ReturnType<typeof withCore> & { description: string; testCertifierKey: string };
type Chain = ChainFacts & { registry: string };

/** Python's isoformat() of a Unix time in seconds, at a fixed offset. */
function iso(seconds: number, hours: number): string {
  const offset = `+${String(hours).padStart(2, "0")}:00`;
  return new Date((seconds + hours * 3600) * 1000).toISOString().replace(".000Z", offset);
}

function times(cert: Certificate, chain: Chain) {
  return {
    receivedAtUtc: new Date(cert.deposit.receivedAt).toISOString().replace("Z", "+00:00"),
    blockTimestampUtc: iso(cert.anchor.blockTimestamp, 0),
    blockTimestampShanghai: iso(cert.anchor.blockTimestamp, 8),
    issuedAtUtc: iso(cert.attestation.typedData.message.issuedAt, 0),
    certifierSinceUtc: iso(chain.certifier.since, 0),
  };
}

/** Every value of the worked example, from the certificate and the document, with the core. */
function withCore(cert: Certificate, document: Buffer, chain: Chain) {
  const { deposit, proof, anchor, attestation } = cert;
  const jcs = canonicalRecord(deposit);
  const leafHash = recordLeafHash(deposit);
  const folds: Fold[] = [];
  let fn = proof.leafIndex;
  let sn = proof.treeSize - 1;
  let r = leafHash;
  proof.auditPath.map(fromHex).forEach((p, i) => {
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
    while (left && fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  });
  const root = rootFromAuditPath(leafHash, proof.leafIndex, proof.treeSize, proof.auditPath.map(fromHex));

  // The core signs and recovers through ethers' TypedDataEncoder; its intermediate values too.
  const typedData = attestationTypedData(anchor, proof.treeSize, attestation.typedData.message.issuedAt);
  const { domain, message } = typedData;
  const types = { AnchorAttestation: typedData.types.AnchorAttestation };
  const domainTypes = { EIP712Domain: typedData.types.EIP712Domain };
  const domainTypeString = TypedDataEncoder.from(domainTypes).encodeType("EIP712Domain");
  const typeString = TypedDataEncoder.from(types).encodeType("AnchorAttestation");
  const domainSeparator = TypedDataEncoder.hashDomain(domain);
  const structHash = TypedDataEncoder.hashStruct("AnchorAttestation", types, message);
  return {
    document: { file: "document.txt", bytes: document.length, sha256: toHex(sha256(document)) },
    record: deposit,
    jcs,
    jcsHex: toHex(new TextEncoder().encode(jcs)),
    leafHash: to0xHex(leafHash),
    proof: { leafIndex: proof.leafIndex, treeSize: proof.treeSize },
    folds,
    root: root && to0xHex(root),
    eip712: {
      domainTypeString,
      domainTypeHash: keccak256(toUtf8Bytes(domainTypeString)),
      domainEncoding: TypedDataEncoder.from(domainTypes).encodeData("EIP712Domain", domain),
      domainSeparator,
      typeString,
      typeHash: keccak256(toUtf8Bytes(typeString)),
      structEncoding: TypedDataEncoder.from(types).encodeData("AnchorAttestation", message),
      structHash,
      digestInput: concat(["0x1901", domainSeparator, structHash]),
      digest: TypedDataEncoder.hash(domain, types, message),
      signature: attestation.signature,
      recoveredSigner: recoverAttestationSigner(attestation.typedData, attestation.signature),
    },
    chain,
    times: times(cert, chain),
    outcome: { outcome: "VALID", statement: validStatement(cert) },
  };
}

/** The same values without the core: node:crypto, hand-made JCS, EIP-712 by its definition. */
function independently(cert: Certificate, document: Buffer, chain: Chain): ReturnType<typeof withCore> {
  const sha = (...hex: string[]) =>
    createHash("sha256")
      .update(Buffer.from(hex.join(""), "hex"))
      .digest("hex");
  const { deposit, proof, anchor, attestation } = cert;
  // JCS of a flat record of ASCII strings and safe integers: keys sorted, no whitespace.
  const jcs = `{${Object.keys(deposit)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify((deposit as unknown as Record<string, unknown>)[k])}`)
    .join(",")}}`;
  const jcsHex = Buffer.from(jcs, "utf8").toString("hex");
  const leafHash = sha("00", jcsHex);
  const folds: Fold[] = [];
  let fn = proof.leafIndex;
  let sn = proof.treeSize - 1;
  let r = leafHash;
  for (const [i, sibling] of proof.auditPath.entries()) {
    const p = sibling.slice(2);
    const left = fn % 2 === 1 || fn === sn;
    const input = left ? `01${p}${r}` : `01${r}${p}`;
    r = sha(input);
    folds.push({ step: i + 1, sibling, siblingSide: left ? "left" : "right", input, result: `0x${r}` });
    if (left) {
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  expect(sn).toBe(0);

  // EIP-712 from its definition: hashStruct(s) = keccak256(typeHash || encodeData(s)).
  const abi = AbiCoder.defaultAbiCoder();
  const domainTypeString =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
  const typeString =
    "AnchorAttestation(bytes32 root,uint64 treeSize,uint64 batch,bytes32 txHash,uint64 blockNumber," +
    "bytes32 blockHash,uint64 blockTimestamp,uint64 issuedAt)";
  const domainTypeHash = keccak256(toUtf8Bytes(domainTypeString));
  const typeHash = keccak256(toUtf8Bytes(typeString));
  const domainEncoding = abi.encode(
    ["bytes32", "bytes32", "bytes32", "uint256", "address"],
    [
      domainTypeHash,
      keccak256(toUtf8Bytes("tsd")),
      keccak256(toUtf8Bytes("1")),
      anchor.chainId,
      anchor.registry,
    ],
  );
  const m = attestation.typedData.message;
  const structEncoding = abi.encode(
    ["bytes32", "bytes32", "uint64", "uint64", "bytes32", "uint64", "bytes32", "uint64", "uint64"],
    [
      typeHash,
      anchor.root,
      proof.treeSize,
      anchor.batch,
      anchor.txHash,
      anchor.blockNumber,
      anchor.blockHash,
      anchor.blockTimestamp,
      m.issuedAt,
    ],
  );
  const domainSeparator = keccak256(domainEncoding);
  const structHash = keccak256(structEncoding);
  const digestInput = `0x1901${domainSeparator.slice(2)}${structHash.slice(2)}`;
  const digest = keccak256(digestInput);
  // The typed data exactly as the certificate carries it, through ethers' encoder.
  const { domain, types, message } = attestation.typedData;
  expect(TypedDataEncoder.hash(domain, { AnchorAttestation: types.AnchorAttestation }, message)).toBe(digest);

  const when = new Date(anchor.blockTimestamp * 1000).toISOString();
  return {
    document: {
      file: "document.txt",
      bytes: document.length,
      sha256: createHash("sha256").update(document).digest("hex"),
    },
    record: deposit,
    jcs,
    jcsHex,
    leafHash: `0x${leafHash}`,
    proof: { leafIndex: proof.leafIndex, treeSize: proof.treeSize },
    folds,
    root: `0x${r}`,
    eip712: {
      domainTypeString,
      domainTypeHash,
      domainEncoding,
      domainSeparator,
      typeString,
      typeHash,
      structEncoding,
      structHash,
      digestInput,
      digest,
      signature: attestation.signature,
      recoveredSigner: recoverAddress(digest, attestation.signature),
    },
    chain,
    times: times(cert, chain),
    outcome: {
      outcome: "VALID",
      statement:
        `digest ${deposit.digest} was deposited by ${deposit.depositor} no later than ${when} ` +
        `(block ${anchor.blockNumber}, chain ${anchor.chainId})`,
    },
  };
}

const { description: _description, testCertifierKey, ...values } = worked;

test("the certificate is a certificate v1 of document.txt", () => {
  expect(parseCertificate(certificate)).toBe(certificate);
  expect(certificate.deposit.digest).toBe(createHash("sha256").update(documentBytes).digest("hex"));
  expect(certificate.deposit.receivedAt).toBeLessThanOrEqual(certificate.anchor.blockTimestamp * 1000);
});

test("every value of worked-example.json, recomputed with the core", () => {
  expect(withCore(certificate, documentBytes, worked.chain)).toEqual(values);
});

test("every value of worked-example.json, recomputed without the core", () => {
  expect(independently(certificate, documentBytes, worked.chain)).toEqual(values);
});

test("the chain facts are the certificate's anchor and the test key's certifier period", () => {
  const { chain } = worked;
  const { anchor, proof, attestation } = certificate;
  expect(chain).toMatchObject({
    chainId: anchor.chainId,
    registry: anchor.registry,
    anchorOf: { blockNumber: anchor.blockNumber, treeSize: proof.treeSize, batch: anchor.batch },
    block: { number: anchor.blockNumber, hash: anchor.blockHash, timestamp: anchor.blockTimestamp },
    certifier: { address: attestation.signer, until: 0 },
  });
  expect(chain.certifier.since).toBeLessThanOrEqual(attestation.typedData.message.issuedAt);
  expect(new Wallet(testCertifierKey).address).toBe(attestation.signer);
});

test("verifyCertificate: VALID under the stated chain facts, with the document and the registry pinned", async () => {
  const result = await verifyCertificate(certificate, {
    digest: worked.document.sha256,
    chain: memoryChain(worked.chain, certificate.anchor),
    registry: worked.chain.registry,
  });
  expect(result).toMatchObject({ outcome: "VALID", digestChecked: true, message: worked.outcome.statement });
  const offline = await verifyCertificate(certificate, { digest: worked.document.sha256 });
  expect(offline.outcome).toBe("UNANCHORED_CHECK_ONLY");
});

test("docs/protocol.md prints every value of worked-example.json verbatim", () => {
  const missing: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) visit(v, `${path}.${k}`);
    } else if (!protocol.includes(String(value))) {
      missing.push(`${path} = ${String(value)}`);
    }
  };
  visit({ testCertifierKey, ...values }, "worked");
  expect(missing).toEqual([]);
  expect(protocol).toContain(JSON.stringify(certificate, null, 2));
});

test("docs/protocol.md prints the registry's selectors, event topics and role as the ABI has them", () => {
  const registry = new Interface(REGISTRY_ABI);
  const row = (name: string) => protocol.split("\n").find((l) => l.startsWith(`| \`${name}`)) ?? "";
  for (const fn of ["anchorOf(bytes32)", "certifier(address)", "certifiers()"]) {
    expect(row(`${fn}\``)).toContain(`\`${registry.getFunction(fn)!.selector}\``);
  }
  for (const event of ["RootAnchored", "CertifierAdded", "CertifierRetired"]) {
    expect(row(`${event}(`)).toContain(`\`${registry.getEvent(event)!.topicHash}\``);
  }
  expect(row("ANCHORER_ROLE")).toContain(`\`${keccak256(toUtf8Bytes("ANCHORER_ROLE"))}\``);
});

test("the script reproduces docs/examples byte for byte", () => {
  const out = mkdtempSync(join(tmpdir(), "tsd-protocol-example-"));
  try {
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/make-protocol-example.ts", out], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    for (const name of ["certificate.json", "worked-example.json"]) {
      expect(readFileSync(join(out, name)).equals(read(name))).toBe(true);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// docs/protocol.md: a record received after its anchor block is ANCHOR_MISMATCH, checked first
// in step 5 and without the chain.
test("the time rule: receivedAt later than blockTimestamp * 1000 is ANCHOR_MISMATCH", async () => {
  const late = createDepositRecord({
    ...certificate.deposit,
    receivedAt: certificate.anchor.blockTimestamp * 1000 + 1,
  });
  const { certificate: cert, chain } = await certifyLike(
    certificate,
    [late],
    0,
    testCertifierKey,
    worked.chain.certifier.since,
  );
  const offline = await verifyCertificate(cert);
  const online = await verifyCertificate(cert, { chain: memoryChain(chain, cert.anchor) });
  expect([offline.code, online.code]).toEqual(["ANCHOR_MISMATCH", "ANCHOR_MISMATCH"]);
});
