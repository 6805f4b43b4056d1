import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { Option, type Command } from "commander";
import { TsdClient } from "../client/api-client";
import { discloseMember, parseManifest, type FileDigestAlg, type SetMember } from "../core";
import { clientConfigFrom } from "../config";
import { DEPOSIT_EXIT, depositCommand } from "./deposit";
import { findFiles, hashFile, hashFiles, progressBar } from "./files";

// The depositor's side of `tsd`: talks to the API with TSD_API_URL and TSD_API_KEY (or
// --api-url / --api-key). Files never leave this machine; only digests do.

export interface DepositorIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

interface ApiFlags {
  apiUrl?: string;
  apiKey?: string;
}

/** The API client from flags, else the environment; a missing key is a usage error. */
export function clientFrom(flags: ApiFlags, io: DepositorIo): TsdClient {
  const env = clientConfigFrom();
  const apiKey = flags.apiKey ?? env.apiKey;
  if (!apiKey) throw new Error("an API key is needed: set TSD_API_KEY or pass --api-key");
  return new TsdClient({
    baseUrl: flags.apiUrl ?? env.apiUrl,
    apiKey,
    onRetry: (e, attempt, delay) =>
      io.err(
        `retrying in ${Math.round(delay / 100) / 10} s (${e.code}: ${e.message}), attempt ${attempt + 1}`,
      ),
  });
}

/** Adds --api-url and --api-key to a subcommand. */
export function withApi(command: Command): Command {
  return command
    .option("--api-url <url>", "the tsd API (default: $TSD_API_URL or http://127.0.0.1:8080)")
    .option("--api-key <key>", "your API key (default: $TSD_API_KEY)");
}

const algOption = () =>
  new Option("--alg <alg>", "the digest algorithm: sha256, or sm3 (GB/T 32905-2016)")
    .choices(["sha256", "sm3"])
    .default("sha256");

/** Exit codes of `tsd hash`: 1 when a file or folder could not be read (the rest was hashed). */
const HASH_EXIT = { OK: 0, SOME_UNREADABLE: 1 } as const;

/** Adds the depositor's commands (hash, deposit, status, list, certificate, disclose) to `program`. */
export function addDepositorCommands(program: Command, io: DepositorIo): void {
  program
    .command("hash")
    .description(
      "hash files and folders (recursively) on this machine, printing lines as sha256sum does;\n" +
        "symbolic links are not followed (listed as skipped); exit 1 if something could not be read",
    )
    .argument("<path...>", "files or folders")
    .addOption(algOption())
    .option("--json", 'print [{"path","bytes","alg","digest"}]')
    .addHelpText("after", "\nExample:\n  tsd hash --alg sm3 ./配方 ./README.md")
    .action(async (paths: string[], o: { alg: FileDigestAlg; json?: boolean }) => {
      const { files, skipped } = await findFiles(paths);
      for (const s of skipped) io.err(`${s.error ? "error" : "skipped"}: ${s.display} (${s.reason})`);
      const total = files.reduce((n, f) => n + f.bytes, 0);
      const { hashed, failed } = await hashFiles(
        files,
        o.alg,
        progressBar("hashing", total, files.length, process.stderr.isTTY === true),
      );
      for (const f of failed) io.err(`error: ${f.display} (${f.reason})`);
      if (o.json) {
        io.out(
          JSON.stringify(
            hashed.map((h) => ({ path: h.display, bytes: h.bytes, alg: h.alg, digest: h.digest })),
          ),
        );
      } else {
        for (const h of hashed) io.out(`${h.digest}  ${h.display}`);
      }
      process.exitCode =
        failed.length + skipped.filter((s) => s.error).length > 0 ? HASH_EXIT.SOME_UNREADABLE : HASH_EXIT.OK;
    });

  withApi(
    program
      .command("deposit")
      .description(
        "hash files and folders here and deposit their digests (the files never leave this machine);\n" +
          "with --as-set, a whole folder as one deposit whose single files can be disclosed later.\n" +
          "Exit 0 done, 1 some files could not be read, 3 usage or API error, 4 --wait timed out.\n" +
          "With --out, an interrupted run started again with the same --out resumes without duplicates.",
      )
      .argument("<path...>", "files or folders (one folder with --as-set)")
      .addOption(algOption())
      .option("--label <text>", "your own note on each deposit (never part of the record)")
      .option("--as-set", "deposit the folder as one deposit set (docs/protocol.md section 10); needs --out")
      .option("--wait", "wait until the deposits are certified")
      .option(
        "--out <dir>",
        "keep certificates (<name>.certificate.json), the set's manifest and the journal here",
      )
      .option("--pdf", "with --wait and --out, also keep each PDF certificate")
      .option("--json", "print the deposits as JSON")
      .option("--bulk-size <n>", "items per request (at most the API's 10,000)", (v) => Number(v), 10_000)
      .option("--timeout <seconds>", "how long --wait waits", (v) => Number(v), 600)
      .addHelpText(
        "after",
        "\nExamples:\n  tsd deposit ./formulas --label 'formulas 2026' --wait --out certificates/\n" +
          "  tsd deposit ./rd-folder --as-set --wait --out evidence/ --pdf",
      ),
  ).action(
    async (
      paths: string[],
      o: ApiFlags & {
        alg: FileDigestAlg;
        label?: string;
        asSet?: boolean;
        wait?: boolean;
        out?: string;
        pdf?: boolean;
        json?: boolean;
        bulkSize: number;
        timeout: number;
      },
    ) => {
      if (!Number.isSafeInteger(o.bulkSize) || o.bulkSize < 1 || o.bulkSize > 10_000) {
        io.err("--bulk-size must be 1 to 10000");
        process.exitCode = DEPOSIT_EXIT.USAGE;
        return;
      }
      process.exitCode = await depositCommand(
        paths,
        {
          alg: o.alg,
          bulkSize: o.bulkSize,
          timeoutS: o.timeout,
          progress: process.stderr.isTTY === true,
          ...(o.label === undefined ? {} : { label: o.label }),
          ...(o.asSet ? { asSet: true } : {}),
          ...(o.wait ? { wait: true } : {}),
          ...(o.out === undefined ? {} : { out: o.out }),
          ...(o.pdf ? { pdf: true } : {}),
          ...(o.json ? { json: true } : {}),
        },
        clientFrom(o, io),
        io,
      );
    },
  );

  withApi(
    program
      .command("list")
      .description("your deposits, newest first")
      .option("--status <status>", "pending, batched, anchored or certified")
      .option("--label <prefix>", "labels starting with this")
      .option("--digest <hex>", "deposits of this digest")
      .option("--limit <n>", "at most this many", (v) => Number(v), 100)
      .option("--json", "print as JSON")
      .addHelpText("after", "\nExample:\n  tsd list --status certified --label 'formulas 2026'"),
  ).action(
    async (
      o: ApiFlags & { status?: string; label?: string; digest?: string; limit: number; json?: boolean },
    ) => {
      const client = clientFrom(o, io);
      const found: Record<string, unknown>[] = [];
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({
          limit: String(Math.min(1000, o.limit - found.length)),
          ...(o.status === undefined ? {} : { status: o.status }),
          ...(o.label === undefined ? {} : { label: o.label }),
          ...(o.digest === undefined ? {} : { digest: o.digest }),
          ...(cursor === null ? {} : { cursor }),
        });
        const page = (await (await client.request("GET", `/v1/deposits?${query.toString()}`)).json()) as {
          items: Record<string, unknown>[];
          nextCursor: string | null;
        };
        found.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null && found.length < o.limit);
      if (o.json) io.out(JSON.stringify(found, null, 2));
      else {
        for (const d of found) {
          const record = d.record as { digestAlg: string; digest: string };
          io.out(
            `${String(d.id)}  ${String(d.status).padEnd(9)}  ${record.digestAlg}:${record.digest}  ${(d.label as string | null) ?? ""}`,
          );
        }
      }
    },
  );

  program
    .command("disclose")
    .description(
      "make the disclosure of one file of a deposited set: what a court needs, with the file and the\n" +
        "set's certificate, to check that file — and nothing about the set's other files",
    )
    .argument("<manifest>", "the set's manifest (<folder>.manifest.json, kept from tsd deposit --as-set)")
    .argument("<file>", "the file to disclose")
    .option("--member <path>", "its path in the set, when several members have the same content")
    .option("--out <file>", "write the disclosure here instead of printing it")
    .addHelpText(
      "after",
      "\nExample:\n  tsd disclose evidence/rd-folder.manifest.json rd-folder/配方/主配方.txt --out 主配方.disclosure.json",
    )
    .action(async (manifestPath: string, file: string, o: { member?: string; out?: string }) => {
      const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, "utf8")));
      const digests = new Map<FileDigestAlg, string>();
      for (const alg of new Set(manifest.members.map((m) => m.digestAlg)))
        digests.set(alg, await hashFile(file, alg));
      const matches = manifest.members.filter((m) => digests.get(m.digestAlg) === m.digest);
      const member = chooseMember(matches, file, o.member);
      if (typeof member === "string") {
        io.err(member);
        process.exitCode = 3;
        return;
      }
      const text = `${JSON.stringify(discloseMember(manifest, member.path), null, 2)}\n`;
      if (o.out === undefined) process.stdout.write(text);
      else {
        writeFileSync(o.out, text);
        io.err(`disclosure of ${member.path}: ${o.out}`);
      }
    });

  withApi(
    program
      .command("status")
      .description("a deposit's status (pending, batched, anchored, certified), batch and times")
      .argument("<id>", "the deposit id")
      .option("--json", "print the API's answer as JSON")
      .addHelpText("after", "\nExample:\n  TSD_API_KEY=tsd_… tsd status 5c0f1d2e-…"),
  ).action(async (id: string, o: ApiFlags & { json?: boolean }) => {
    const status = await clientFrom(o, io).status(id);
    if (o.json) io.out(JSON.stringify(status, null, 2));
    else io.out(`${status.id}  ${status.status}`);
  });

  withApi(
    program
      .command("certificate")
      .description(
        "fetch a deposit's certificate: the JSON (the evidence) and, with --pdf, the bilingual PDF",
      )
      .argument("<id>", "the deposit id")
      .option("--pdf", "also fetch the PDF certificate (the JSON is attached to it)")
      .option(
        "--out <dir>",
        "write tsd-certificate-<id>.json (and .pdf) into this folder instead of printing",
      )
      .addHelpText("after", "\nExample:\n  tsd certificate 5c0f1d2e-… --pdf --out certificates/"),
  ).action(async (id: string, o: ApiFlags & { pdf?: boolean; out?: string }) => {
    const client = clientFrom(o, io);
    const json = await client.certificate(id);
    if (o.out === undefined && !o.pdf) {
      process.stdout.write(json);
      return;
    }
    const dir = o.out ?? ".";
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `tsd-certificate-${id}`);
    writeFileSync(`${base}.json`, json);
    io.out(`${base}.json`);
    if (o.pdf) {
      writeFileSync(`${base}.pdf`, await client.certificatePdf(id));
      io.out(`${base}.pdf`);
    }
  });
}

/**
 * The member `file` is: the one whose digest it has; among several with that content, the one
 * named by --member or whose path ends the file's path. A message when there is none.
 */
function chooseMember(matches: SetMember[], file: string, named: string | undefined): SetMember | string {
  if (named !== undefined) {
    const member = matches.find((m) => m.path === named.normalize("NFC"));
    return (
      member ??
      `${file} is not the member ${named} of this set (its digest differs, or no member has that path)`
    );
  }
  if (matches.length === 0) return `${file} is not in this set: its digest matches no member`;
  if (matches.length === 1) return matches[0] as SetMember;
  const path = resolve(file).split(sep).join("/").normalize("NFC");
  const bySuffix = matches.filter((m) => path.endsWith(`/${m.path}`));
  if (bySuffix.length === 1) return bySuffix[0] as SetMember;
  return `${matches.length} members have this file's content (${matches.map((m) => m.path).join(", ")}): name one with --member`;
}
