import { readFileSync } from "node:fs";
import { digestFile, verifyCertificate, type VerificationResult } from "../core";
import { readDeployment } from "../chain/deployment";
import { EthersChainReader, createProvider } from "../chain/reader";

// `tsd verify`: the court's verifier. Pure core code plus one JSON-RPC node; it never calls
// the tsd API. Exit codes: 0 VALID, 1 INVALID, 2 UNANCHORED_CHECK_ONLY.

export const EXIT = { VALID: 0, INVALID: 1, UNANCHORED_CHECK_ONLY: 2, USAGE: 3 } as const;

export interface VerifyCommandOptions {
  file?: string;
  digest?: string;
  rpc?: string;
  json?: boolean;
  /** Where a local installation keeps deployment.json (used when --rpc is absent). */
  dataDir: string;
  out: (line: string) => void;
  err: (line: string) => void;
}

export async function verifyCommand(certificatePath: string, o: VerifyCommandOptions): Promise<number> {
  if (o.file !== undefined && o.digest !== undefined) {
    o.err("give --file or --digest, not both");
    return EXIT.USAGE;
  }
  if (o.digest !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.digest)) {
    o.err("--digest must be 64 hexadecimal characters (a SHA-256)");
    return EXIT.USAGE;
  }
  let text: string;
  try {
    text = readFileSync(certificatePath, "utf8");
  } catch (e) {
    o.err(`cannot read ${certificatePath}: ${(e as Error).message}`);
    return EXIT.USAGE;
  }
  let certificate: unknown;
  try {
    certificate = JSON.parse(text);
  } catch {
    certificate = text; // not JSON: the verifier reports it as MALFORMED
  }

  let digest = o.digest;
  if (o.file !== undefined) {
    try {
      digest = await digestFile(o.file);
    } catch (e) {
      o.err(`cannot read ${o.file}: ${(e as Error).message}`);
      return EXIT.USAGE;
    }
  }

  const chainId = chainIdOf(certificate);
  const rpc = o.rpc !== undefined ? { url: o.rpc, source: "" } : localRpc(o.dataDir, chainId);
  const provider = rpc === undefined ? undefined : createProvider(rpc.url, chainId ?? 1);
  let result: VerificationResult;
  try {
    result = await verifyCertificate(certificate, {
      ...(digest === undefined ? {} : { digest }),
      ...(provider ? { chain: new EthersChainReader(provider) } : {}),
    });
  } finally {
    provider?.destroy();
  }

  const { certificate: _parsed, ...summary } = result;
  if (o.json) {
    o.out(JSON.stringify({ ...summary, rpc: rpc?.url ?? null, file: o.file ?? null }, null, 2));
  } else {
    const head = result.outcome === "INVALID" ? `INVALID ${result.code}` : result.outcome;
    o.out(`${head}  ${result.message}`);
    if (rpc) o.out(`chain: ${rpc.url}${rpc.source ? ` (${rpc.source})` : ""}`);
    if (result.chainError) o.out(`chain error: ${result.chainError}`);
    if (result.outcome === "UNANCHORED_CHECK_ONLY" && !rpc)
      o.out("pass --rpc URL (a node of the certificate's chain) to check the anchor");
    if (!result.digestChecked && result.outcome !== "INVALID")
      o.out("no file or digest given: the file itself was not compared");
  }
  return EXIT[result.outcome];
}

function chainIdOf(certificate: unknown): number | undefined {
  const id = (certificate as { anchor?: { chainId?: unknown } } | null)?.anchor?.chainId;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** The local installation's node, when it serves the certificate's chain. */
function localRpc(dataDir: string, chainId: number | undefined): { url: string; source: string } | undefined {
  try {
    const d = readDeployment(dataDir);
    if (d && d.chainId === chainId) return { url: d.rpcUrl, source: `from ${dataDir}/deployment.json` };
  } catch {
    // an unreadable deployment.json just means no default node
  }
  return undefined;
}
