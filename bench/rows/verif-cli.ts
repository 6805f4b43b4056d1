import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { serializeCertificate } from "../../services/core";
import { tempDir, timeCommand } from "../commands";
import type { BenchModule } from "../module";

// `tsd verify DIR --rpc URL --json` over a folder of certificate files (*.certificate.json), timed from start to
// exit (start-up included, as a court's clerk would see it). Runs the real command: until the
// CLI verifies folders, the row has no figure and says so.

const NAME = "verif: CLI over a folder of 10,000 certificates";

/** Outcomes in the CLI's JSON output: one array, or one JSON object a line. */
export function outcomesOf(stdout: string): string[] {
  const text = stdout.trim();
  if (text === "") return [];
  const items: unknown[] = [];
  try {
    const parsed = JSON.parse(text) as unknown;
    items.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  } catch {
    for (const line of text.split("\n")) {
      try {
        items.push(JSON.parse(line));
      } catch {
        // not a result line
      }
    }
  }
  return items
    .map((i) => (i as { outcome?: unknown }).outcome)
    .filter((o): o is string => typeof o === "string");
}

export const verifCli: BenchModule = {
  rows: [{ name: NAME, unit: "certificates/s", goal: { value: { op: ">=", limit: 2000 } } }],
  async run(ctx) {
    const certificates = await ctx.batchCertificates();
    const chain = await ctx.chain();
    const dir = tempDir(ctx, "tsd-bench-certs-");
    for (const c of certificates)
      writeFileSync(join(dir, `${c.deposit.id}.certificate.json`), serializeCertificate(c));
    const r = await timeCommand(
      process.execPath,
      ["--import", "tsx", "services/cli/main.ts", "verify", dir, "--rpc", chain.chain.rpcUrl, "--json"],
      { DATA_DIR: chain.dir },
    );
    const outcomes = outcomesOf(r.stdout);
    const valid = outcomes.filter((o) => o === "VALID").length;
    const size = ctx.sizeNote(`${certificates.length.toLocaleString("en-US")} certificates`);
    if (valid !== certificates.length) {
      const said = (r.stderr.trim().split("\n")[0] ?? "").slice(0, 200);
      return {
        [NAME]: {
          value: null,
          notes: [
            `tsd verify DIR not available: exit ${r.code}, ${valid} of ${certificates.length} VALID${said ? ` (${said})` : ""}`,
            ...size,
          ],
        },
      };
    }
    return {
      [NAME]: {
        value: certificates.length / r.seconds,
        notes: [`${certificates.length} VALID in ${r.seconds.toFixed(2)} s, start-up included`, ...size],
      },
    };
  },
};
