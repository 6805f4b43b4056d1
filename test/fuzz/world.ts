import { readFileSync } from "node:fs";
import { join } from "node:path";
import canonicalize from "canonicalize";
import { Wallet } from "ethers";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  buildManifest,
  createDepositRecord,
  discloseMember,
  recordLeafHash,
  serializeCertificate,
  signAttestation,
  to0xHex,
  type Certificate,
  type ChainReader,
  type DepositRecord,
  type DigestAlg,
  type Disclosure,
  type NewSetMember,
  type SetManifest,
} from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";
import { Rng } from "./prng";

// The genuine artefacts the fuzzers start from, and the one in-memory chain that holds all of
// their anchors. Everything is drawn from a fixed-seed PRNG (ECDSA signatures are RFC 6979
// deterministic), so every run builds the same world.

const VECTORS = join(__dirname, "..", "vectors");
const load = <T>(name: string): T => JSON.parse(readFileSync(join(VECTORS, name), "utf8")) as T;

interface CertificateVector {
  certificate: Certificate;
  chain: ChainFacts;
  certifierPrivateKey: string;
}
interface SetVector extends CertificateVector {
  disclosures: Disclosure[];
  manifest: SetManifest;
}

/** A disclosure with the certificate of its set: a pair a court is given. */
export interface DisclosureCase {
  disclosure: Disclosure;
  certificate: Certificate;
}

export interface World {
  /** One reader for every genuine anchor, in both registries. */
  chain: ChainReader;
  /** The platform's registry (the one a pinned verifier trusts). */
  registry: string;
  /** A registry somebody else deployed, with its own certifier: genuine there, not here. */
  otherRegistry: string;
  /** Every certificate the world issued, as JSON-parsed values. */
  certificates: Certificate[];
  /** Every disclosure of every set, with its set's certificate. */
  disclosures: DisclosureCase[];
  manifests: SetManifest[];
  /** Genuine 32-byte values (0x hex) of the world, to splice in where a hash is expected. */
  hashes: string[];
  /** Canonical forms (see canonicalCertificate) of every genuine certificate. */
  genuineCertificates: Set<string>;
  /** memberKey of every genuine (member, certificate) pair. */
  genuineMembers: Set<string>;
  /** Canonical forms of every genuine manifest. */
  genuineManifests: Set<string>;
}

const ADDRESS_PATHS = [
  ["anchor", "registry"],
  ["attestation", "signer"],
  ["attestation", "typedData", "domain", "verifyingContract"],
] as const;

/**
 * The canonical form of a certificate: JCS (RFC 8785), with its addresses lowercased, since
 * the protocol compares addresses as 20-byte values and accepts any correct case (section 8).
 * Two certificates with the same canonical form say exactly the same thing; layout, key
 * order, number spelling (1.0, 1e0, -0) and string escapes are gone after JSON.parse.
 */
export function canonicalCertificate(value: unknown): string {
  // Documents are never changed once made (mutations copy), so a form can be remembered.
  if (typeof value === "object" && value !== null) {
    const known = forms.get(value);
    if (known !== undefined) return known;
    const form = formOf(value);
    forms.set(value, form);
    return form;
  }
  return formOf(value);
}
const forms = new WeakMap<object, string>();

function formOf(value: unknown): string {
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, any>;
  for (const path of ADDRESS_PATHS) {
    let node: any = copy;
    for (const key of path.slice(0, -1)) node = node?.[key];
    const last = path[path.length - 1] as string;
    if (node && typeof node[last] === "string") node[last] = node[last].toLowerCase();
  }
  return canonicalize(copy) as string;
}

/** What a VALID disclosure states: this member belonged to the set this certificate deposits. */
export function memberKey(member: unknown, certificate: unknown): string {
  return `${canonicalize(member)}|${canonicalCertificate(certificate)}`;
}

const uuid = (rng: Rng): string => {
  const h = rng.hex(16);
  const variant = "89ab"[rng.int(4)];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

interface BatchSpec {
  registry: string;
  certifier: Wallet;
  batch: number;
  blockNumber: number;
  blockTimestamp: number;
  records: DepositRecord[];
}

async function certifyBatch(
  rng: Rng,
  spec: BatchSpec,
): Promise<{ certificates: Certificate[]; facts: ChainFacts; root: string }> {
  const tree = MerkleTree.fromLeafHashes(spec.records.map(recordLeafHash));
  const anchor = {
    chainId: 31337,
    registry: spec.registry,
    root: to0xHex(tree.root),
    batch: spec.batch,
    txHash: `0x${rng.hex(32)}`,
    blockNumber: spec.blockNumber,
    blockHash: `0x${rng.hex(32)}`,
    blockTimestamp: spec.blockTimestamp,
  };
  const typedData = attestationTypedData(anchor, tree.size, spec.blockTimestamp + rng.range(0, 40));
  const attestation = { ...(await signAttestation(spec.certifier, typedData)), typedData };
  const certificates = spec.records.map((deposit, i) =>
    JSON.parse(
      serializeCertificate(
        buildCertificate({
          deposit,
          leafIndex: i,
          treeSize: tree.size,
          auditPath: tree.auditPath(i),
          anchor,
          attestation,
        }),
      ),
    ),
  );
  const facts: ChainFacts = {
    chainId: 31337,
    anchorOf: {
      timestamp: spec.blockTimestamp,
      blockNumber: spec.blockNumber,
      treeSize: tree.size,
      batch: spec.batch,
    },
    block: { number: spec.blockNumber, hash: anchor.blockHash, timestamp: spec.blockTimestamp },
    certifier: { address: spec.certifier.address, since: 1_763_990_000, until: 0 },
  };
  return { certificates, facts, root: anchor.root };
}

/** Member paths of a set: Chinese, emoji, full-width and NFC-sensitive names, deep folders. */
const SET_PATHS = [
  "README.md",
  "配方/主配方.txt",
  "报告/2025年/实验记录.pdf",
  "src/main.c",
  "！注意.txt",
  "😀.txt",
  "café/ménu.txt",
  "a/b/c/d/e/f/g.bin",
  ".hidden/...",
  "x".repeat(300),
];

function newRecord(rng: Rng, depositor: string, digestAlg: DigestAlg, digest: string, receivedAt: number) {
  return createDepositRecord({
    id: uuid(rng),
    salt: rng.hex(32),
    depositor,
    digestAlg,
    digest,
    receivedAt,
    ...(rng.chance(0.3) ? { prev: uuid(rng) } : {}),
  });
}

/** Builds the world. Deterministic: the same seed gives the same bytes. */
export async function buildWorld(seed = 0x5eed_0001): Promise<World> {
  const rng = new Rng(seed);
  const single = load<CertificateVector>("certificate.json");
  const setVector = load<SetVector>("set.json");
  const certifier = new Wallet(single.certifierPrivateKey);
  const otherCertifier = new Wallet(`0x${"42".repeat(32)}`);
  const registry = single.certificate.anchor.registry;
  const otherRegistry = "0x1F98431c8aD98523631AE4a59f267346ea31F984";

  const readers: ChainReader[] = [
    memoryChain(single.chain, single.certificate.anchor),
    memoryChain(setVector.chain, setVector.certificate.anchor),
  ];
  const certificates: Certificate[] = [single.certificate, setVector.certificate];
  const disclosures: DisclosureCase[] = setVector.disclosures.map((disclosure) => ({
    disclosure,
    certificate: setVector.certificate,
  }));
  const manifests: SetManifest[] = [setVector.manifest];

  const depositors = ["uscc:91310115MA1K4XXXXX", "lei:506700GE1G29325QX363", "tenant:t ~!@#$%^&*()"];
  const baseTime = 1_764_200_000;
  let block = 60;
  let batch = 19;
  const addBatch = async (records: DepositRecord[], reg = registry, key = certifier) => {
    const blockTimestamp = baseTime + block * 12;
    const made = await certifyBatch(rng, {
      registry: reg,
      certifier: key,
      batch: batch++,
      blockNumber: block++,
      blockTimestamp,
      records,
    });
    readers.push(memoryChain(made.facts, { registry: reg, root: made.root }));
    certificates.push(...made.certificates);
    return made.certificates;
  };
  const receivedBefore = () => (baseTime + block * 12) * 1000 - rng.range(0, 90_000);

  // 13 ordinary deposits (an odd tree: promoted nodes on several levels), SHA-256 and SM3.
  await addBatch(
    Array.from({ length: 13 }, (_, i) =>
      newRecord(rng, depositors[i % 3]!, i % 4 === 3 ? "sm3" : "sha256", rng.hex(32), receivedBefore()),
    ),
  );
  // A batch of one (an empty audit path), received in the block's own second.
  await addBatch([newRecord(rng, depositors[0]!, "sha256", rng.hex(32), (baseTime + block * 12) * 1000)]);
  // Two sets among ordinary deposits.
  const folder: NewSetMember[] = SET_PATHS.map((path, i) => ({
    path,
    digest: rng.hex(32),
    bytes: rng.int(1 << 30),
    digestAlg: i % 3 === 2 ? "sm3" : "sha256",
    salt: rng.hex(32),
  }));
  const sets = [
    buildManifest(folder),
    buildManifest([{ path: "only.txt", digest: rng.hex(32), bytes: 0, salt: rng.hex(32) }]),
  ];
  const setRecords = sets.map((m) => newRecord(rng, depositors[1]!, "tsd-set/1", m.root, receivedBefore()));
  const mixed = await addBatch([
    newRecord(rng, depositors[2]!, "sha256", rng.hex(32), receivedBefore()),
    setRecords[0]!,
    newRecord(rng, depositors[0]!, "sm3", rng.hex(32), receivedBefore()),
    setRecords[1]!,
    newRecord(rng, depositors[0]!, "sha256", rng.hex(32), receivedBefore()),
  ]);
  sets.forEach((manifest, i) => {
    manifests.push(manifest);
    const certificate = mixed[i === 0 ? 1 : 3]!;
    for (const m of manifest.members) {
      disclosures.push({
        disclosure: JSON.parse(JSON.stringify(discloseMember(manifest, m.path))),
        certificate,
      });
    }
  });
  // Genuine in another registry, signed by that registry's own certifier.
  await addBatch(
    Array.from({ length: 3 }, () => newRecord(rng, depositors[0]!, "sha256", rng.hex(32), receivedBefore())),
    otherRegistry,
    otherCertifier,
  );

  const hashes = new Set<string>();
  for (const c of certificates) {
    for (const h of [c.anchor.root, c.anchor.txHash, c.anchor.blockHash, ...c.proof.auditPath]) hashes.add(h);
    hashes.add(`0x${c.deposit.digest}`);
  }
  for (const { disclosure } of disclosures) for (const h of disclosure.proof.auditPath) hashes.add(h);

  return {
    chain: unionChain(readers),
    registry,
    otherRegistry,
    certificates,
    disclosures,
    manifests,
    hashes: [...hashes],
    genuineCertificates: new Set(certificates.map(canonicalCertificate)),
    genuineMembers: new Set(disclosures.map((d) => memberKey(d.disclosure.member, d.certificate))),
    genuineManifests: new Set(manifests.map((m) => canonicalize(m) as string)),
  };
}

/** One chain holding what each reader holds (each answers for its own registry and root). */
function unionChain(readers: ChainReader[]): ChainReader {
  return {
    chainId: async () => 31337n,
    anchorOf: async (registry, root) => {
      for (const r of readers) {
        const found = await r.anchorOf(registry, root);
        if (found.timestamp !== 0n) return found;
      }
      return { timestamp: 0n, blockNumber: 0n, treeSize: 0n, batch: 0n };
    },
    block: async (n) => {
      for (const r of readers) {
        const found = await r.block(n);
        if (found) return found;
      }
      return null;
    },
    certifier: async (registry, signer) => {
      for (const r of readers) {
        const found = await r.certifier(registry, signer);
        if (found.since !== 0n) return found;
      }
      return { since: 0n, until: 0n };
    },
  };
}
