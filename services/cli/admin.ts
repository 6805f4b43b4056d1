import { hostname, userInfo } from "node:os";
import type { Command } from "commander";
import { Option } from "commander";
import { actorFrom, loadConfig } from "../config";
import { inTransaction, type Db, type DbClient } from "../db/pool";
import { auditTrail, recordAudit } from "../audit/audit";
import { blockedBatches, unblockBatch } from "../jobs/blocked";
import { createLogger } from "../log";
import { apiPool, migrateAsOwner } from "../runtime";
import {
  createApiKey,
  createTenant,
  listApiKeys,
  listTenants,
  revokeApiKey,
  setTenantDisabled,
} from "../tenants/tenants";
import { registerWebhook, removeWebhook } from "../webhooks/registration";
import { addChainCommands } from "./admin-chain";
import { addOperationsCommands } from "./admin-operations";

// `tsd admin`: what an operator does to the installation. It reads DATABASE_URL like the
// service. Every action that changes something writes one row of the audit table (who, what,
// on what) in the same transaction as the change, so an action without its row cannot exist.

export interface AdminIo {
  out: (line: string) => void;
}

/**
 * Runs `fn` with a pool on the configured database (migrated first), then closes it. Never
 * creates the database: a missing one is an error naming DATABASE_URL and the command that
 * creates it (`tsd admin migrate --create-database`).
 */
export async function withDatabase<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger("warn", "tsd-cli");
  await migrateAsOwner(config, log, { createDatabase: false }).catch((e: unknown) => {
    throw missingDatabase(e, config.DATABASE_OWNER_URL ?? config.DATABASE_URL);
  });
  const db = apiPool(config, log);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** Who acts: TSD_ACTOR when set (e.g. the operator's name), else the OS user at this host. */
export function actor(): string {
  return actorFrom() ?? `${userInfo().username}@${hostname()}`;
}

/** A connection failure for a database that does not exist, said as an operator needs it. */
export function missingDatabase(e: unknown, url: string): unknown {
  if ((e as { code?: string }).code !== "3D000") return e; // 3D000: database does not exist
  const shown = new URL(url);
  if (shown.password) shown.password = "***";
  const name = decodeURIComponent(shown.pathname.slice(1));
  return new Error(
    `database "${name}" does not exist (DATABASE_URL=${shown.toString()}): check DATABASE_URL, ` +
      "or create and migrate it with `tsd admin migrate --create-database`",
  );
}

/**
 * Runs `fn` in a transaction and records `action` on `subject` in the audit table with it. A
 * `subject` of null means nothing changed (e.g. pausing what is paused): no row then.
 */
export async function audited<T>(
  action: string,
  fn: (client: DbClient) => Promise<{ result: T; subject: string | null; details?: Record<string, unknown> }>,
): Promise<T> {
  return withDatabase((db) =>
    inTransaction(db, async (client) => {
      const { result, subject, details } = await fn(client);
      if (subject !== null)
        await recordAudit(client, { actor: actor(), action, subject, ...(details ? { details } : {}) });
      return result;
    }),
  );
}

/** Records an action already done elsewhere (on chain): its own transaction, right after. */
export async function recordDone(
  action: string,
  subject: string,
  details: Record<string, unknown>,
): Promise<void> {
  await audited(action, async () => ({ result: undefined, subject, details }));
}

/** Adds the operator commands to `tsd admin` (main.ts makes it, and loads this file only for it). */
export function addAdminCommands(admin: Command, { out }: AdminIo): void {
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
      const created = await audited("tenant.create", async (client) => {
        const t = await createTenant(client, o.name, o.depositor);
        const key = await createApiKey(client, t.id);
        return {
          result: { tenantId: t.id, depositor: t.depositor, ...key },
          subject: t.id,
          details: { name: o.name, depositor: t.depositor, keyId: key.keyId },
        };
      });
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
      else
        for (const t of tenants) out(`${t.id}  ${t.depositor}  ${t.name}${t.disabled ? "  (disabled)" : ""}`);
    });
  for (const [name, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    tenant
      .command(name)
      .description(
        disabled
          ? "refuse the tenant's API keys (403 TENANT_DISABLED) until enabled again; its deposits are " +
              "still sealed, anchored and certified, and its certificates stay verifiable"
          : "accept the tenant's API keys again",
      )
      .argument("<tenant>", "tenant id")
      .action(async (tenantId: string) => {
        const changed = await audited(`tenant.${name}`, async (client) => {
          const done = await setTenantDisabled(client, tenantId, disabled);
          return { result: done, subject: done ? tenantId : null };
        });
        out(changed ? `${name}d tenant ${tenantId}` : `tenant ${tenantId} was ${name}d already`);
      });
  }
  tenant
    .command("webhook")
    .description(
      "set the URL that gets a signed POST when the tenant's deposits are certified (replacing any " +
        "earlier one; the signing secret is shown once), or remove it",
    )
    .requiredOption("--tenant <id>", "tenant id")
    .addOption(
      new Option("--url <url>", "https:// URL (http:// only to a loopback address)").conflicts("remove"),
    )
    .option("--remove", "remove the webhook: nothing more is sent, deliveries not yet made included")
    .option("--json", "print {tenantId, url, secret} (or {tenantId, removed}) as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  tsd admin tenant webhook --tenant 5c0f1d2e-… --url https://hooks.acme.example/tsd\n" +
        "  tsd admin tenant webhook --tenant 5c0f1d2e-… --remove\n\n" +
        'Each POST carries tsd-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>\n' +
        "and tsd-delivery: <id> (the same on every retry); see docs/decisions.md, Webhooks.",
    )
    .action(async (o: { tenant: string; url?: string; remove?: boolean; json?: boolean }) => {
      if (o.remove) {
        const removed = await audited("tenant.webhook.remove", async (client) => ({
          result: await removeWebhook(client, o.tenant),
          subject: o.tenant,
        }));
        if (o.json) out(JSON.stringify({ tenantId: o.tenant, removed }));
        else out(removed ? `removed the webhook of ${o.tenant}` : `${o.tenant} had no webhook`);
        return;
      }
      const given = o.url;
      if (given === undefined) throw new Error("give --url <url>, or --remove");
      const { secret, url } = await audited("tenant.webhook.set", async (client) => {
        const registered = await registerWebhook(client, o.tenant, given);
        return { result: registered, subject: o.tenant, details: { url: registered.url } };
      });
      if (o.json) out(JSON.stringify({ tenantId: o.tenant, url, secret }));
      else {
        out(`webhook  ${url}  (tenant ${o.tenant})`);
        out(`secret   ${secret}`);
        out("The secret is shown once; check each POST's tsd-signature header with it.");
      }
    });

  const key = admin.command("key").description("API keys");
  key
    .command("create")
    .description("a new API key for a tenant (shown once)")
    .requiredOption("--tenant <id>", "tenant id")
    .option("--json", "print {keyId, apiKey} as JSON")
    .action(async (o: { tenant: string; json?: boolean }) => {
      const created = await audited("key.create", async (client) => {
        const k = await createApiKey(client, o.tenant);
        return { result: k, subject: o.tenant, details: { keyId: k.keyId } };
      });
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
      await audited("key.revoke", async (client) => ({
        result: await revokeApiKey(client, keyId),
        subject: keyId,
      }));
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

  admin
    .command("blocked")
    .description("batches a job blocked for an operator, with the reason")
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const blocked = await withDatabase(blockedBatches);
      if (o.json) out(JSON.stringify(blocked));
      else if (blocked.length === 0) out("no batch is blocked");
      else for (const b of blocked) out(`batch ${b.id}  ${b.state}  ${b.reason}`);
    });
  admin
    .command("unblock")
    .description(
      "clear a batch's block once its cause is mended; the sweeper takes the batch up again on its " +
        "next pass (SWEEP_INTERVAL_MS)",
    )
    .argument("<batch>", "the batch number (from `tsd admin blocked`)")
    .action(async (batch: string) => {
      if (!/^[1-9][0-9]{0,15}$/.test(batch)) throw new Error(`not a batch number: ${batch}`);
      const id = Number(batch);
      const reason = await audited("batch.unblock", async (client) => {
        const was = await unblockBatch(client, id);
        return { result: was, subject: `batch:${id}`, details: { reason: was } };
      });
      out(`unblocked batch ${id} (it was blocked for: ${reason})`);
    });

  admin
    .command("audit")
    .description("the audit trail, newest first")
    .option("--limit <n>", "how many rows", "50")
    .option("--json", "print as JSON")
    .action(async (o: { limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new Error("--limit must be 1..10000");
      const rows = await withDatabase((db) => auditTrail(db, limit));
      if (o.json) out(JSON.stringify(rows));
      else for (const r of rows) out(`${r.at.toISOString()}  ${r.actor}  ${r.action}  ${r.subject}`);
    });
  addOperationsCommands(admin, { out });
  addChainCommands(admin, { out });
}
