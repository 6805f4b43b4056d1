import { createReadStream, readFileSync } from "node:fs";
import { isAddress } from "ethers";
import { digestStream, verifyCertificate, type VerificationResult } from "../core";
import { readDeployment } from "../chain/deployment";
import { EthersChainReader, createProvider } from "../chain/reader";

// `tsd verify`: the court's verifier. Pure core code plus one JSON-RPC node; it never calls
// the tsd API. Exit codes: 0 VALID, 1 INVALID, 2 UNANCHORED_CHECK_ONLY, 3 usage.

export const EXIT = { VALID: 0, INVALID: 1, UNANCHORED_CHECK_ONLY: 2, USAGE: 3 } as const;

export interface VerifyCommandOptions {
  file?: string;
  digest?: string;
  rpc?: string;
  /** The registry address the verifier trusts (the platform's published one). */
  registry?: string;
  json?: boolean;
  /** Where a local installation keeps deployment.json (the default node and registry). */
  dataDir: string;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** SHA-256 (hex) of a file, read as a stream in constant memory. */
export function digestFile(path: string): Promise<string> {
  return digestStream(createReadStream(path, { highWaterMark: 1 << 20 }));
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
  if (o.registry !== undefined && !isAddress(o.registry)) {
    o.err("--registry must be a contract address (0x and 40 hexadecimal characters)");
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
  const local = localDeployment(o.dataDir, chainId);
  const rpc =
    o.rpc !== undefined
      ? { url: o.rpc, source: "--rpc" }
      : local && { url: local.rpcUrl, source: local.source };
  const registry =
    o.registry !== undefined
      ? { address: o.registry, source: "--registry" }
      : local && { address: local.registry, source: local.source };
  const provider = rpc ? createProvider(rpc.url, chainId ?? 1) : undefined;
  let result: VerificationResult;
  try {
    result = await verifyCertificate(certificate, {
      ...(digest === undefined ? {} : { digest }),
      ...(provider ? { chain: new EthersChainReader(provider) } : {}),
      ...(registry ? { registry: registry.address } : {}),
    });
  } finally {
    provider?.destroy();
  }

  const { certificate: parsed, ...summary } = result;
  if (o.json) {
    o.out(
      JSON.stringify(
        {
          ...summary,
          registry: parsed?.anchor.registry ?? null,
          trustedRegistry: registry?.address ?? null,
          certifier: parsed?.attestation.signer ?? null,
          rpc: rpc?.url ?? null,
          file: o.file ?? null,
        },
        null,
        2,
      ),
    );
    return EXIT[result.outcome];
  }
  const head = result.outcome === "INVALID" ? `INVALID ${result.code}` : result.outcome;
  o.out(`${head}  ${result.message}`);
  if (parsed) {
    o.out(
      `registry: ${parsed.anchor.registry}` +
        (registry
          ? `  (trusted, ${registry.source})`
          : "  (not pinned: check it is the platform's published registry, or pass --registry)"),
    );
    o.out(`certifier: ${parsed.attestation.signer}`);
  }
  if (rpc) o.out(`chain: ${rpc.url}  (${rpc.source})`);
  if (result.chainError) o.out(`chain error: ${result.chainError}`);
  if (result.outcome === "UNANCHORED_CHECK_ONLY" && !rpc) {
    o.out("pass --rpc URL (a node of the certificate's chain) to check the anchor");
  }
  if (!result.digestChecked && result.outcome !== "INVALID") {
    o.out("no file or digest given: the file itself was not compared");
  }
  return EXIT[result.outcome];
}

function chainIdOf(certificate: unknown): number | undefined {
  const id = (certificate as { anchor?: { chainId?: unknown } } | null)?.anchor?.chainId;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** The local installation's node and registry, when it serves the certificate's chain. */
function localDeployment(
  dataDir: string,
  chainId: number | undefined,
): { rpcUrl: string; registry: string; source: string } | undefined {
  try {
    const d = readDeployment(dataDir);
    if (d && d.chainId === chainId) return { ...d, source: `from ${dataDir}/deployment.json` };
  } catch {
    // an unreadable deployment.json just means no defaults
  }
  return undefined;
}
