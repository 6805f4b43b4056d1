import { createReadStream, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { getAddress, isAddress } from "ethers";
import { type Command } from "commander";
import {
  claimedChainId,
  claimsSet,
  digestStream,
  fileDigestAlg,
  verifyEvidence,
  type ChainReader,
  type FileDigestAlg,
  type Verdict,
} from "../core";
import { CachingChainReader } from "../chain/cached-reader";
import { EthersChainReader, createProvider } from "../chain/reader";

// `tsd verify`, and the one-file verifier `node tsd-verify.cjs verify` built from this same
// module: the court's verifier. Pure core code plus one JSON-RPC node; it never calls the tsd
// API. Exit codes: 0 VALID, 1 INVALID, 2 UNANCHORED_CHECK_ONLY, 3 usage or unreadable input.
// Given a folder, it verifies every *.certificate.json under it and exits with the worst
// outcome's code (INVALID, then an unreadable file, then UNANCHORED_CHECK_ONLY).

export const EXIT = { VALID: 0, INVALID: 1, UNANCHORED_CHECK_ONLY: 2, USAGE: 3 } as const;

/** A node and registry to use when none is given (the tsd CLI's local installation). */
export type VerifyDefaults = (
  chainId: number | undefined,
) => { rpcUrl: string; registry: string; source: string } | undefined;

export interface VerifyCommandOptions {
  file?: string;
  digest?: string;
  disclosure?: string;
  rpc?: string;
  /** The registry address the verifier trusts (the platform's published one). */
  registry?: string;
  json?: boolean;
  /** For a folder: see FOLDER_CONFIRMATIONS. */
  confirmations?: number;
  defaults?: VerifyDefaults;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** SHA-256 or SM3 (hex) of a file, read as a stream in constant memory. */
export function digestFile(path: string, alg: FileDigestAlg = "sha256"): Promise<string> {
  return digestStream(createReadStream(path, { highWaterMark: 1 << 20 }), alg);
}

/** Adds the `verify` subcommand to `program`; `defaults` fills in a missing node and registry. */
export function addVerifyCommand(
  program: Command,
  io: Pick<VerifyCommandOptions, "defaults" | "out" | "err">,
): void {
  program
    .command("verify")
    .description(
      "verify a deposit certificate (or one file of a deposit set, with its disclosure) against the chain\n" +
        "exit 0 VALID, 1 INVALID, 2 UNANCHORED_CHECK_ONLY (the chain was not read), 3 usage\n" +
        "for a folder: 0 when every certificate is VALID, else the worst (1 INVALID, 3 unreadable, 2)",
    )
    .argument(
      "<certificate>",
      "certificate JSON file (tsd-certificate/1), or a folder: every *.certificate.json in it and below",
    )
    .option("--file <path>", "the deposited file: hashed here (SHA-256 or SM3, as deposited) and compared")
    .option("--digest <hex>", "the file's digest, if you computed it yourself")
    .option("--disclosure <path>", "for a deposit set: the disclosure (tsd-disclosure/1) of the file")
    .option("--rpc <url>", "JSON-RPC URL of a node of the certificate's chain")
    .option("--registry <address>", "the registry address you trust (the platform's published one)")
    .option("--json", "print the outcome as JSON (for a folder: an array, one entry per certificate)")
    .option(
      "--confirmations <n>",
      `for a folder: blocks this deep are final for the run (default ${FOLDER_CONFIRMATIONS})`,
    )
    .addHelpText(
      "after",
      "\nExamples:\n  verify certificate.json --file formula.pdf --rpc https://rpc.example.org --registry 0x5FbDB2315678afecb367f032d93F642f64180aa3\n" +
        "  verify certificates/ --rpc https://rpc.example.org --registry 0x5FbDB2315678afecb367f032d93F642f64180aa3",
    )
    .action(
      async (
        certificate: string,
        o: {
          file?: string;
          digest?: string;
          disclosure?: string;
          rpc?: string;
          registry?: string;
          json?: boolean;
          confirmations?: string;
        },
      ) => {
        const { confirmations, ...rest } = o;
        if (confirmations !== undefined && !/^[1-9][0-9]{0,5}$/.test(confirmations)) {
          io.err("--confirmations must be a whole number from 1");
          process.exitCode = EXIT.USAGE;
          return;
        }
        process.exitCode = await verifyCommand(certificate, {
          ...rest,
          ...(confirmations === undefined ? {} : { confirmations: Number(confirmations) }),
          ...io,
        });
      },
    );
}

export async function verifyCommand(certificatePath: string, o: VerifyCommandOptions): Promise<number> {
  if (o.file !== undefined && o.digest !== undefined) {
    o.err("give --file or --digest, not both");
    return EXIT.USAGE;
  }
  if (o.digest !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.digest)) {
    o.err("--digest must be 64 hexadecimal characters (a SHA-256 or SM3 digest)");
    return EXIT.USAGE;
  }
  if (o.registry !== undefined && !isAddress(o.registry)) {
    o.err("--registry must be a contract address (0x and 40 hexadecimal characters)");
    return EXIT.USAGE;
  }
  if (isDirectory(certificatePath)) {
    if (o.file !== undefined || o.digest !== undefined || o.disclosure !== undefined) {
      o.err("--file, --digest and --disclosure are for one certificate, not a folder");
      return EXIT.USAGE;
    }
    return verifyFolder(certificatePath, o);
  }
  const certificate = readDocument(certificatePath, o);
  if (certificate === USAGE) return EXIT.USAGE;
  const disclosure = o.disclosure === undefined ? undefined : readDocument(o.disclosure, o);
  if (disclosure === USAGE) return EXIT.USAGE;

  const alg = fileDigestAlg(certificate, disclosure);
  let digest = o.digest;
  if (o.file !== undefined || o.digest !== undefined) {
    if (alg === null) {
      o.err(
        claimsSet(certificate)
          ? "this certificate deposits a set of files: give the file's disclosure (--disclosure) to compare it"
          : "the certificate (or disclosure) names no file digest algorithm this verifier knows",
      );
      return EXIT.USAGE;
    }
    if (o.file !== undefined) {
      try {
        digest = await digestFile(o.file, alg);
      } catch (e) {
        o.err(`cannot read ${o.file}: ${(e as Error).message}`);
        return EXIT.USAGE;
      }
    }
  }

  const chainId = claimedChainId(certificate);
  const { rpc, registry } = nodeAndRegistry(o, chainId);
  const provider = rpc ? createProvider(rpc.url, chainId ?? 1) : undefined;
  let verdict: Verdict;
  try {
    verdict = await verifyEvidence({
      certificate,
      ...(disclosure === undefined ? {} : { disclosure }),
      ...(digest === undefined ? {} : { fileDigest: digest.toLowerCase() }),
      ...(provider ? { chain: new EthersChainReader(provider) } : {}),
      ...(registry ? { registry: registry.address } : {}),
    });
  } finally {
    provider?.destroy();
  }

  if (o.json) {
    const { certificate: _c, disclosure: _d, ...summary } = verdict;
    o.out(
      JSON.stringify(
        {
          ...summary,
          rpc: rpc?.url ?? null,
          file: o.file ?? null,
          fileDigestAlg: digest === undefined ? null : alg,
        },
        null,
        2,
      ),
    );
    return EXIT[verdict.outcome];
  }
  for (const line of describe(verdict, { rpc, registry, file: o.file, alg })) o.out(line);
  return EXIT[verdict.outcome];
}

/** The verdict as lines of text: the finding first, then what was and was not checked. */
function describe(
  v: Verdict,
  given: {
    rpc: { url: string; source: string } | undefined;
    registry: { address: string; source: string } | undefined;
    file: string | undefined;
    alg: FileDigestAlg | null;
  },
): string[] {
  const lines = [`${v.outcome === "INVALID" ? `INVALID ${v.code}` : v.outcome}  ${v.message}`];
  if (v.statement) lines.push(`statement: ${v.statement.en}`, `证明事项: ${v.statement.zh}`);
  else lines.push(`meaning: ${v.explanation.en}`, `说明: ${v.explanation.zh}`);
  if (v.times) {
    const label =
      v.outcome === "VALID" ? "anchored" : "anchored, as the certificate states (not established)";
    lines.push(`${label}: ${v.times.anchored.utc} = ${v.times.anchored.shanghai}`);
  }
  const algName = given.alg === "sm3" ? "SM3" : "SHA-256";
  lines.push(
    v.checks.file === "compared"
      ? `file: compared (${algName}${given.file === undefined ? " given with --digest" : ` of ${given.file}`})`
      : "file: no file or digest given: the file itself was not compared",
  );
  if (v.checks.registry.named) {
    lines.push(
      `registry: ${v.checks.registry.named}` +
        (given.registry
          ? `  (trusted, ${given.registry.source})`
          : "  (not pinned: check it is the platform's published registry, or pass --registry)"),
    );
  }
  if (v.checks.certifier) lines.push(`certifier: ${v.checks.certifier}`);
  const chain = {
    consulted: `consulted ${given.rpc?.url}  (${given.rpc?.source})`,
    "not given": "not consulted: pass --rpc URL (a node of the certificate's chain) to check the anchor",
    unreachable: `not consulted: ${given.rpc?.url} could not be read (${v.chainError})`,
    "not reached": "not consulted: the certificate failed an earlier check",
  }[v.checks.chain];
  lines.push(`chain: ${chain}`);
  return lines;
}

const USAGE = Symbol("usage");

/** A JSON document from a file; text that is not JSON is returned as it is (a MALFORMED finding). */
/**
 * The node to read and the registry to trust, each with where it came from: the flags, else the
 * local deployment of the certificate's chain (if any).
 */
function nodeAndRegistry(o: VerifyCommandOptions, chainId: number | undefined) {
  const local = o.defaults?.(chainId);
  return {
    rpc:
      o.rpc !== undefined
        ? { url: o.rpc, source: "--rpc" }
        : local && { url: local.rpcUrl, source: local.source },
    registry:
      o.registry !== undefined
        ? { address: o.registry, source: "--registry" }
        : local && { address: local.registry, source: local.source },
  };
}

function readDocument(path: string, o: Pick<VerifyCommandOptions, "err">): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    o.err(`cannot read ${path}: ${(e as Error).message}`);
    return USAGE;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // reported as unreadable by the one-certificate path
  }
}

/** The name a certificate file has in a folder `tsd verify` is given. */
export const CERTIFICATE_SUFFIX = ".certificate.json";
/** Certificates of a folder verified at once: their chain reads overlap. */
const FOLDER_CONCURRENCY = 32;
/**
 * Confirmations a block needs before a folder's run reuses what the chain said of it (an anchor
 * in it, its hash) for the next certificate (--confirmations). A run lasts seconds, and a
 * certificate is issued only once its anchor has the service's CHAIN_CONFIRMATIONS; an answer
 * the chain could still change (an absent anchor, a shallower block) is asked for each.
 */
export const FOLDER_CONFIRMATIONS = 1;

type FolderOutcome = Verdict["outcome"] | "UNREADABLE";
/** Worst first: the exit code is the first of these that occurred. */
const SEVERITY: readonly FolderOutcome[] = ["INVALID", "UNREADABLE", "UNANCHORED_CHECK_ONLY", "VALID"];
const FOLDER_EXIT: Record<FolderOutcome, number> = { ...EXIT, UNREADABLE: EXIT.USAGE };

/**
 * Verifies every *.certificate.json under `dir` with the same core and one chain reader that
 * reuses, for the run, what the chain can no longer change (CachingChainReader): a folder of
 * one batch's certificates reads the chain once. One line per certificate, in path order, and
 * a summary; `--json`, an array of { path, outcome, code, message, ... }.
 */
async function verifyFolder(dir: string, o: VerifyCommandOptions): Promise<number> {
  let paths: string[];
  try {
    paths = readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((name) => name.endsWith(CERTIFICATE_SUFFIX))
      .sort()
      .map((name) => join(dir, name));
  } catch (e) {
    o.err(`cannot read ${dir}: ${(e as Error).message}`);
    return EXIT.USAGE;
  }
  if (paths.length === 0) {
    o.err(`no *${CERTIFICATE_SUFFIX} in ${dir}`);
    return EXIT.USAGE;
  }
  // The node and its chain id are picked, as for one certificate, by the first that names one.
  let chainId: number | undefined;
  for (const path of paths) {
    chainId = claimedChainId(readDocument(path, { err: () => undefined }));
    if (chainId !== undefined) break;
  }
  const { rpc, registry } = nodeAndRegistry(o, chainId);
  // Many certificates read at once: their calls go to the node in JSON-RPC batches.
  const provider = rpc ? createProvider(rpc.url, chainId ?? 1, 500, 30_000, true) : undefined;
  const chain: ChainReader | undefined = provider
    ? new CachingChainReader(new EthersChainReader(provider), () => provider.getBlockNumber(), {
        confirmations: o.confirmations ?? FOLDER_CONFIRMATIONS,
        maxEntries: 100_000,
        ttlMs: 3_600_000,
      })
    : undefined;

  const rows: (FolderRow | undefined)[] = new Array<FolderRow | undefined>(paths.length);
  let printed = 0;
  const print = () => {
    // Lines in path order, each as soon as those before it are done.
    if (o.json) return;
    for (let row = rows[printed]; row !== undefined; row = rows[++printed]) {
      o.out(folderLine(row));
      rows[printed] = { path: row.path, outcome: row.outcome }; // the line is out: the verdict is not needed
    }
  };
  // Each worker takes its own contiguous share of the paths: a folder sorted by batch has the
  // workers on different batches at once, so the chain reads of those batches overlap.
  const workers = Math.min(FOLDER_CONCURRENCY, paths.length);
  const share = Math.ceil(paths.length / workers);
  const worker = async (w: number) => {
    for (let i = w * share; i < Math.min(paths.length, (w + 1) * share); i++) {
      const path = paths[i] as string;
      let error = "";
      const certificate = readDocument(path, { err: (line) => (error = line) });
      if (certificate === USAGE) {
        rows[i] = { path, outcome: "UNREADABLE", error };
      } else {
        const {
          certificate: _c,
          disclosure: _d,
          ...verdict
        } = await verifyEvidence({
          certificate,
          ...(chain ? { chain } : {}),
          ...(registry ? { registry: registry.address } : {}),
        });
        rows[i] = { path, outcome: verdict.outcome, verdict };
      }
      print();
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  } finally {
    provider?.destroy();
  }
  const done = rows as FolderRow[];
  const counts = new Map<FolderOutcome, number>();
  for (const row of done) counts.set(row.outcome, (counts.get(row.outcome) ?? 0) + 1);
  const worst = SEVERITY.find((outcome) => counts.has(outcome)) ?? "VALID";

  if (o.json) {
    o.out(
      JSON.stringify(
        done.map(({ path, outcome, verdict, error }) => {
          return verdict === undefined ? { path, outcome, message: error } : { path, ...verdict };
        }),
        null,
        2,
      ),
    );
    return FOLDER_EXIT[worst];
  }
  const tally = SEVERITY.filter((outcome) => counts.has(outcome))
    .map((outcome) => `${counts.get(outcome)} ${outcome}`)
    .join(", ");
  o.out(`${done.length} certificate${done.length === 1 ? "" : "s"}: ${tally}`);
  o.out(
    registry
      ? `registry: ${getAddress(registry.address)}  (trusted, ${registry.source})`
      : "registry: not pinned: check each is the platform's published registry, or pass --registry",
  );
  o.out(
    rpc
      ? `chain: ${rpc.url}  (${rpc.source})`
      : "chain: not consulted: pass --rpc URL (a node of the certificates' chain) to check the anchors",
  );
  return FOLDER_EXIT[worst];
}

/** A folder's certificate once verified: the verdict without the documents, or why it was not read. */
interface FolderRow {
  path: string;
  outcome: FolderOutcome;
  verdict?: Omit<Verdict, "certificate" | "disclosure">;
  error?: string;
}

/** One certificate of a folder: its path, the outcome, and the finding. */
function folderLine(row: FolderRow): string {
  const v = row.verdict;
  if (v === undefined) return `${row.path}  UNREADABLE  ${row.error}`;
  const outcome = v.outcome === "INVALID" ? `INVALID ${v.code}` : v.outcome;
  const why = v.outcome === "VALID" ? "" : `  ${v.chainError ? `${v.message} (${v.chainError})` : v.message}`;
  return `${row.path}  ${outcome}${why}`;
}
