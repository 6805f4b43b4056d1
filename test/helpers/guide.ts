import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import {
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  recordLeafHash,
  signAttestation,
  to0xHex,
  type Certificate,
  type DepositRecord,
} from "../../services/core";
import type { ChainFacts } from "./memory-chain";

// The court guide (docs/verifying.md) carries its Python scripts inline, so that a clerk needs
// nothing from the repository. The tests run those very scripts, taken from the guide.

const REPO = join(__dirname, "..", "..");

/** docs/verifying.md, as a clerk reads it. */
export const VERIFYING_GUIDE = join(REPO, "docs", "verifying.md");

/** The fenced code blocks of a Markdown text, each with its info string (e.g. `python`). */
export function codeBlocks(markdown: string): { lang: string; code: string }[] {
  const blocks: { lang: string; code: string }[] = [];
  for (const m of markdown.matchAll(/^```([^\n`]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
    blocks.push({ lang: (m[1] ?? "").trim(), code: m[2] ?? "" });
  }
  return blocks;
}

/**
 * The guide's Python script that names itself on its first line (`# <name>: ...`), written
 * to `dir/<name>`; returns its path. Throws unless the guide has exactly one such block.
 */
export function guideScript(name: string, dir: string, guide = VERIFYING_GUIDE): string {
  const found = codeBlocks(readFileSync(guide, "utf8")).filter(
    (b) => b.lang === "python" && b.code.startsWith(`# ${name}:`),
  );
  if (found.length !== 1) throw new Error(`${guide}: ${found.length} python blocks named ${name}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, (found[0] as { code: string }).code);
  return path;
}

/**
 * A certificate for `records[leafIndex]` anchored like `like` (same chain, registry, batch,
 * block and issuedAt; the root of `records`), signed with the public test key `testKey`, and
 * the chain facts under which it verifies. For variants of the worked example.
 */
export async function certifyLike(
  like: Certificate,
  records: DepositRecord[],
  leafIndex: number,
  testKey: string,
  certifierSince: number,
): Promise<{ certificate: Certificate; chain: ChainFacts }> {
  const tree = MerkleTree.fromLeafHashes(records.map(recordLeafHash));
  const anchor = { ...like.anchor, root: to0xHex(tree.root) };
  const typedData = attestationTypedData(anchor, tree.size, like.attestation.typedData.message.issuedAt);
  const wallet = new Wallet(testKey);
  const certificate = buildCertificate({
    deposit: records[leafIndex] as DepositRecord,
    leafIndex,
    treeSize: tree.size,
    auditPath: tree.auditPath(leafIndex),
    anchor,
    attestation: { ...(await signAttestation(wallet, typedData)), typedData },
  });
  const chain: ChainFacts = {
    chainId: anchor.chainId,
    anchorOf: {
      timestamp: anchor.blockTimestamp,
      blockNumber: anchor.blockNumber,
      treeSize: tree.size,
      batch: anchor.batch,
    },
    block: { number: anchor.blockNumber, hash: anchor.blockHash, timestamp: anchor.blockTimestamp },
    certifier: { address: wallet.address, since: certifierSince, until: 0 },
  };
  return { certificate, chain };
}
