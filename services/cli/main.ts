import { Command, CommanderError } from "commander";
import { dataDirFrom } from "../config";
import { inTransaction } from "../db/pool";
import { ServiceError } from "../errors";
import { createApiKey, createTenant, listApiKeys, listTenants, revokeApiKey } from "../tenants/tenants";
import { withDatabase } from "./admin";
import { EXIT, verifyCommand } from "./verify";

// The `tsd` command. `verify` is for anyone (a court needs nothing but the certificate, the
// file and a chain node); `admin` is for operators and reads DATABASE_URL like the service.

// A reader that stops early (`tsd verify … | head -1`) is not an error of ours.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
});
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function program(): Command {
  const tsd = new Command("tsd")
    .description("tsd: trade-secret deposits, anchored on an EVM chain, verifiable by anyone")
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  tsd
    .command("verify")
    .description("verify a deposit certificate (exit 0 VALID, 1 INVALID, 2 UNANCHORED_CHECK_ONLY, 3 usage)")
    .argument("<certificate>", "certificate JSON file")
    .option("--file <path>", "the deposited file: its SHA-256 is computed here and compared")
    .option("--digest <sha256>", "the SHA-256 of the deposited file, if you computed it yourself")
    .option("--rpc <url>", "JSON-RPC URL of a node of the certificate's chain")
    .option("--registry <address>", "the registry address you trust (the platform's published one)")
    .option("--json", "print the outcome as JSON")
    .action(
      async (
        certificate: string,
        o: { file?: string; digest?: string; rpc?: string; registry?: string; json?: boolean },
      ) => {
        process.exitCode = await verifyCommand(certificate, {
          ...o,
          dataDir: dataDirFrom(),
          out,
          err,
        });
      },
    );

  const admin = tsd.command("admin").description("operator commands (use DATABASE_URL)");
  const tenant = admin.command("tenant").description("depositing enterprises");
  tenant
    .command("create")
    .description("create a tenant and its first API key (the key is shown once)")
    .requiredOption("--name <name>", "the enterprise's name")
    .requiredOption(
      "--depositor <id>",
      "public identifier written into every record, e.g. uscc:<18-char code>",
    )
    .option("--json", "print {tenantId, apiKey, keyId, depositor} as JSON")
    .action(async (o: { name: string; depositor: string; json?: boolean }) => {
      const created = await withDatabase((db) =>
        inTransaction(db, async (client) => {
          const t = await createTenant(client, o.name, o.depositor);
          return { tenantId: t.id, depositor: t.depositor, ...(await createApiKey(client, t.id)) };
        }),
      );
      if (o.json) out(JSON.stringify(created));
      else {
        out(`tenant   ${created.tenantId}  (${created.depositor})`);
        out(`api key  ${created.apiKey}`);
        out("The key is shown once; store it safely. Send it as: Authorization: Bearer <key>");
      }
    });
  tenant
    .command("list")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const tenants = await withDatabase(listTenants);
      if (o.json) out(JSON.stringify(tenants));
      else for (const t of tenants) out(`${t.id}  ${t.depositor}  ${t.name}`);
    });

  const key = admin.command("key").description("API keys");
  key
    .command("create")
    .description("a new API key for a tenant (shown once)")
    .requiredOption("--tenant <id>", "tenant id")
    .option("--json", "print {keyId, apiKey} as JSON")
    .action(async (o: { tenant: string; json?: boolean }) => {
      const created = await withDatabase((db) => createApiKey(db, o.tenant));
      if (o.json) out(JSON.stringify(created));
      else {
        out(`key id   ${created.keyId}`);
        out(`api key  ${created.apiKey}`);
      }
    });
  key
    .command("revoke")
    .description("revoke an API key at once")
    .argument("<keyId>", "the key's id (from `key create` or `key list`)")
    .action(async (keyId: string) => {
      await withDatabase((db) => revokeApiKey(db, keyId));
      out(`revoked ${keyId}`);
    });
  key
    .command("list")
    .requiredOption("--tenant <id>", "tenant id")
    .option("--json", "print as JSON")
    .action(async (o: { tenant: string; json?: boolean }) => {
      const keys = await withDatabase((db) => listApiKeys(db, o.tenant));
      if (o.json) out(JSON.stringify(keys));
      else
        for (const k of keys)
          out(`${k.id}  ${k.prefix}…  ${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "active"}`);
    });
  return tsd;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : EXIT.USAGE;
    } else if (e instanceof ServiceError) {
      err(`${e.code}: ${e.message}`);
      process.exitCode = EXIT.USAGE;
    } else {
      err(e instanceof Error ? e.message : String(e));
      process.exitCode = EXIT.USAGE;
    }
  }
}

void main(process.argv);
