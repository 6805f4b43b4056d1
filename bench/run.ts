import { execFileSync } from "node:child_process";
import { cpus, totalmem, release } from "node:os";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { BenchContext, sizesFor } from "./context";
import type { BenchModule } from "./module";
import { parseOptions, selected } from "./options";
import { failedRow, finishRow, formatNumber, renderMarkdown, type Report, type ReportRow } from "./report";
import { PG_SERVER, ROOT, SEAL_INTERVAL_MS, profileInto } from "./stack";
import { gas } from "./rows/gas";
import { hashBrowser, hashCli } from "./rows/hash";
import { ingest } from "./rows/ingest";
import { latency } from "./rows/latency";
import { lookup } from "./rows/lookup";
import { merkle } from "./rows/merkle";
import { seal } from "./rows/seal";
import { single } from "./rows/single";
import { verifDistinct, verifSameBatch } from "./rows/verif-api";
import { verifCli } from "./rows/verif-cli";

// `npm run bench [-- --quick] [-- --only <substring>]`: runs the chosen rows one after another
// (the pure computations first, then the rows on the running service, the ingest flood last so
// its backlog delays no other row), writes bench/report.json and bench/report.md. A row that
// fails to run is reported as such and the others still run; the exit code is 1 then. A
// missed target is a finding, not a failure: exit code 0.

const MODULES: BenchModule[] = [
  merkle,
  gas,
  hashCli,
  seal,
  lookup,
  latency,
  verifDistinct,
  verifSameBatch,
  verifCli,
  hashBrowser,
  single,
  ingest,
];

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => {
    const t = setTimeout(() => reject(new Error(`no result within ${ms / 1000} s`)), ms);
    t.unref();
  });
}

async function environment(quick: boolean): Promise<Record<string, string | number>> {
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  };
  const client = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await client.connect();
  const { rows } = await client
    .query<{ v: string }>("SELECT current_setting('server_version') AS v")
    .finally(() => client.end());
  return {
    mode: quick ? "quick (smaller sizes; each row's notes say which)" : "full",
    commit: `${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain"]) === "" ? "" : " (with uncommitted changes)"}`,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`,
    node: process.version,
    postgresql: rows[0]?.v ?? "unknown",
    "SEAL_INTERVAL_MS of the bench stack": SEAL_INTERVAL_MS,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (
    !MODULES.some((m) =>
      selected(
        options,
        m.rows.map((r) => r.name),
      ),
    )
  ) {
    throw new Error(`no row's name contains ${options.only.map((o) => `"${o}"`).join(" or ")}`);
  }
  if (options.profile) profileInto(options.profile);
  const ctx = new BenchContext(options.quick, sizesFor(options.quick));
  const startedAt = new Date();
  const rows: ReportRow[] = [];
  let failures = 0;
  const env = await environment(options.quick);
  try {
    for (const module of MODULES) {
      const names = module.rows.map((r) => r.name);
      if (!selected(options, names)) continue;
      process.stderr.write(`running: ${names.join(" | ")}\n`);
      const t0 = Date.now();
      let produced: ReportRow[];
      try {
        const measured = await Promise.race([module.run(ctx), timeout(options.quick ? 120_000 : 600_000)]);
        produced = module.rows.map((spec) => {
          const m = measured[spec.name];
          if (m) return finishRow(spec, m);
          failures++;
          return failedRow(spec, "the row's module returned no measurement for it");
        });
      } catch (e) {
        failures += module.rows.length;
        produced = module.rows.map((spec) => failedRow(spec, e));
        process.stderr.write(`  failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
      for (const r of produced) {
        process.stderr.write(
          `  ${r.met ? "met " : "MISS"} ${r.name}: ${formatNumber(r.value)} ${r.unit} (target ${r.target}; baseline ${formatNumber(r.baseline)}; ratio ${formatNumber(r.ratio)})${r.notes ? ` — ${r.notes}` : ""}\n`,
        );
      }
      process.stderr.write(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      rows.push(...produced);
    }
  } finally {
    await ctx.close();
  }
  const report: Report = {
    mode: options.quick ? "quick" : "full",
    startedAt: startedAt.toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    environment: env,
    rows,
  };
  writeFileSync(
    join(ROOT, "bench", "report.json"),
    `${JSON.stringify({ ...report, sizes: ctx.sizes }, null, 2)}\n`,
  );
  const markdown = renderMarkdown(report);
  writeFileSync(join(ROOT, "bench", "report.md"), markdown);
  process.stdout.write(markdown);
  if (failures > 0) process.stderr.write(`${failures} row(s) failed to run\n`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
