import { Command, CommanderError } from "commander";
import { EXIT, addVerifyCommand } from "./verify";

// The one-file verifier (`node tsd-verify.cjs verify …`): `tsd verify` bundled with the core
// and ethers into dist/tsd-verify.cjs by `npm run build:verifier`, for a court's machine with
// plain Node and nothing else. No local installation: the node and registry come from flags.

declare const TSD_VERSION: string;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
});

const program = new Command("tsd-verify")
  .description("tsd's verifier for deposit certificates: one file, no dependencies, plain Node 20+")
  .version(typeof TSD_VERSION === "string" ? TSD_VERSION : "dev")
  .exitOverride()
  .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
addVerifyCommand(program, { out, err });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : EXIT.USAGE;
  else {
    err(e instanceof Error ? e.message : String(e));
    process.exitCode = EXIT.USAGE;
  }
});
