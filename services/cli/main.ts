import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { dataDirFrom } from "../config";
import { TsdApiError } from "../client/api-client";
import { ServiceError } from "../errors";
import type * as AdminModule from "./admin";
import { readDeployment } from "../chain/deployment";
import { addDepositorCommands } from "./depositor";
import { EXIT, addVerifyCommand, type VerifyDefaults } from "./verify";

// The `tsd` command. `verify` is for anyone (a court needs nothing but the certificate, the
// file and a chain node); `admin` is for operators and reads DATABASE_URL like the service.

// A reader that stops early (`tsd verify … | head -1`) is not an error of ours.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
});
const VERSION = (
  JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }
).version;
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function program(argv: string[]): Command {
  const tsd = new Command("tsd")
    .description("tsd: trade-secret deposits, anchored on an EVM chain, verifiable by anyone")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  addVerifyCommand(tsd, { defaults: localDeployment(dataDirFrom()), out, err });
  addDepositorCommands(tsd, { out, err });

  // The operator commands load the database, queue and chain modules (about half of the
  // start-up): only when `admin` is on the command line, not for a depositor's `tsd hash`.
  const admin = tsd
    .command("admin")
    .description("operator commands (use DATABASE_URL; each change is written to the audit table)");
  if (argv.slice(2).includes("admin")) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require("./admin") as typeof AdminModule).addAdminCommands(admin, { out });
  }
  return tsd;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program(argv).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : EXIT.USAGE;
    } else if (e instanceof ServiceError || e instanceof TsdApiError) {
      err(`${e.code}: ${e.message}`);
      process.exitCode = EXIT.USAGE;
    } else {
      err(e instanceof Error ? e.message : String(e));
      process.exitCode = EXIT.USAGE;
    }
  }
}

void main(process.argv);

/** The local installation's node and registry, for certificates of the chain it serves. */
function localDeployment(dataDir: string): VerifyDefaults {
  return (chainId) => {
    try {
      const d = readDeployment(dataDir);
      if (d && d.chainId === chainId) return { ...d, source: `from ${dataDir}/deployment.json` };
    } catch {
      // an unreadable deployment.json just means no defaults
    }
    return undefined;
  };
}
