import type { Command } from "commander";
import { Redis } from "ioredis";
import { formatEther, getAddress } from "ethers";
import { anchoringLag } from "../anchor/lag";
import { anchoringPause, pauseAnchoring, resumeAnchoring } from "../anchor/pause";
import { createProvider } from "../chain/reader";
import { loadConfig } from "../config";
import { recordAudit } from "../audit/audit";
import { inTransaction } from "../db/pool";
import { JobQueues } from "../jobs/queues";
import { redriveBatch } from "../jobs/redrive";
import { keyInUse } from "../keys/in-use";
import { loadKey } from "../keys/keys";
import { createLogger } from "../log";
import { apiPool, keySources, migrateAsOwner, resolveDeployment } from "../runtime";
import { actor, audited, missingDatabase, withDatabase, type AdminIo } from "./admin";

// `tsd admin migrate | pause | unpause | redrive | lag`: the day-to-day controls of anchoring.

/** Runs `fn` with the service's job queues (REDIS_URL, REDIS_PREFIX), then closes them. */
export async function withQueues<T>(fn: (queues: JobQueues) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger("warn", "tsd-cli");
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
  redis.on("error", () => undefined); // the command's own call reports it
  const queues = new JobQueues(redis, config.REDIS_PREFIX, log);
  try {
    return await fn(queues);
  } finally {
    await queues.close().catch(() => undefined);
    await redis.quit().catch(() => undefined);
  }
}

export function addOperationsCommands(admin: Command, { out }: AdminIo): void {
  admin
    .command("migrate")
    .description(
      "apply the database migrations (as DATABASE_OWNER_URL, else DATABASE_URL); no other command " +
        "creates the database",
    )
    .option("--create-database", "create the database first if it does not exist")
    .action(async (o: { createDatabase?: boolean }) => {
      const config = loadConfig();
      const log = createLogger("warn", "tsd-cli");
      const applied = await migrateAsOwner(config, log, { createDatabase: o.createDatabase === true }).catch(
        (e: unknown) => {
          throw missingDatabase(e, config.DATABASE_OWNER_URL ?? config.DATABASE_URL);
        },
      );
      if (applied.length > 0) {
        const db = apiPool(config, log);
        try {
          await inTransaction(db, (client) =>
            recordAudit(client, {
              actor: actor(),
              action: "database.migrate",
              subject: new URL(config.DATABASE_URL).pathname.slice(1),
              details: { applied, createDatabase: o.createDatabase === true },
            }),
          );
        } finally {
          await db.end();
        }
      }
      if (applied.length === 0) out("the database is up to date");
      else for (const name of applied) out(`applied ${name}`);
    });

  admin
    .command("pause")
    .description(
      "pause anchoring: no new anchoring transaction is sent (every worker honours it from its next " +
        "pass); deposits are still accepted and sealed, transactions in flight still recorded",
    )
    .option("--reason <text>", "why, for the audit trail and `tsd admin lag`")
    .action(async (o: { reason?: string }) => {
      const who = actor();
      const paused = await audited("anchoring.pause", async (client) => {
        const done = await pauseAnchoring(client, who, o.reason);
        return { result: done, subject: done ? "anchoring" : null, details: { reason: o.reason ?? null } };
      });
      if (paused) out("anchoring paused; `tsd admin unpause` resumes it");
      else {
        const pause = await withDatabase(anchoringPause);
        out(`anchoring was paused already (since ${pause?.since.toISOString()} by ${pause?.actor})`);
      }
    });

  admin
    .command("unpause")
    .description("resume anchoring: batches sealed meanwhile are anchored from the next pass on")
    .action(async () => {
      const lifted = await audited("anchoring.unpause", async (client) => {
        const pause = await resumeAnchoring(client);
        return {
          result: pause,
          subject: pause ? "anchoring" : null,
          ...(pause ? { details: { pausedSince: pause.since.toISOString(), pausedBy: pause.actor } } : {}),
        };
      });
      if (!lifted) {
        out("anchoring was not paused");
        return;
      }
      // Right away rather than at the next sweep; should Redis be down, the sweep does it.
      await withQueues((q) => q.requestAnchorPass()).catch(() =>
        out("(could not reach Redis: anchoring resumes at the workers' next sweep)"),
      );
      out("anchoring resumed");
    });

  admin
    .command("redrive")
    .description(
      "ask for a stuck batch's next job now (anchoring for a sealed batch, attestation for an anchored " +
        "one) instead of waiting for the sweeper; a job waiting out a retry is started at once",
    )
    .argument("<batch>", "the batch number")
    .action(async (batch: string) => {
      if (!/^[1-9][0-9]{0,15}$/.test(batch)) throw new Error(`not a batch number: ${batch}`);
      const id = Number(batch);
      const done = await withQueues((queues) =>
        audited("batch.redrive", async (client) => {
          const r = await redriveBatch(client, queues, id);
          return {
            result: r,
            subject: `batch:${id}`,
            details: { state: r.state, queue: r.queue, how: r.how },
          };
        }),
      );
      out(`batch ${id} is ${done.state}: its ${done.queue} job ${done.how}`);
    });

  admin
    .command("lag")
    .description(
      "how far anchoring is behind: pending deposits and the oldest one's age, batches waiting, the " +
        "last anchor, whether anchoring is paused, and the anchoring key's balance",
    )
    .option("--json", "print as JSON")
    .action(async (o: { json?: boolean }) => {
      const config = loadConfig();
      const { lag, anchorer } = await withDatabase(async (db) => ({
        lag: await anchoringLag(db),
        anchorer: (await keyInUse(db, "anchorer")) ?? loadKey(keySources(config, false), "anchorer")?.address,
      }));
      let balance: { wei: string; ether: string } | null = null;
      let chainError: string | undefined;
      if (anchorer) {
        try {
          const deployment = await resolveDeployment(config);
          const provider = createProvider(deployment.rpcUrl, deployment.chainId, 500, 10_000);
          try {
            const wei = await provider.getBalance(anchorer);
            balance = { wei: wei.toString(), ether: formatEther(wei) };
          } finally {
            provider.destroy();
          }
        } catch (e) {
          chainError = e instanceof Error ? e.message : String(e);
        }
      }
      const report = {
        ...lag,
        anchorer: anchorer ? { address: getAddress(anchorer), balance } : null,
        ...(chainError ? { chainError } : {}),
      };
      if (o.json) {
        out(JSON.stringify(report));
        return;
      }
      out(`pending deposits   ${lag.pendingDeposits}`);
      out(`oldest pending     ${lag.oldestPendingAgeS === null ? "-" : `${lag.oldestPendingAgeS} s`}`);
      out(
        `batches waiting    ${lag.batches.sealed} to anchor, ${lag.batches.anchored} to attest, ${lag.batches.blocked} blocked`,
      );
      out(
        `last anchor        ${
          lag.lastAnchor
            ? `batch ${lag.lastAnchor.batch}, block ${lag.lastAnchor.blockNumber}, ${lag.lastAnchor.ageS} s ago (${lag.lastAnchor.txHash})`
            : "none yet"
        }`,
      );
      out(
        `anchoring          ${
          lag.paused
            ? `PAUSED since ${lag.paused.since.toISOString()} by ${lag.paused.actor}${lag.paused.reason ? `: ${lag.paused.reason}` : ""}`
            : "running"
        }`,
      );
      out(
        `anchoring key      ${
          anchorer
            ? `${getAddress(anchorer)}  ${balance ? `${balance.ether} (native units)` : `balance unknown: ${chainError}`}`
            : "not configured here (ANCHORER_PRIVATE_KEY or DATA_DIR/keys/anchorer.key)"
        }`,
      );
    });
}
