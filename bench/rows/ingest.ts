import { randomDigest } from "../context";
import type { BenchModule } from "../module";
import { load, loadNotes } from "../load";
import { memoryOf } from "../stack";
import { copyDeposits, depositCopyText } from "./seal";
import { MB } from "../commands";

// Bulk ingest: POST /v1/deposits/bulk with bulkItems items a request on 4 connections; a 2xx
// means the rows are committed. Baseline: PostgreSQL COPY of the same row shape into a table
// like deposits (its indexes included) in the same database. The API process's resident set
// is sampled meanwhile (the memory row).

const INGEST = "ingest: bulk, durable (2xx after commit), 4 connections";
const MEMORY = "memory: API RSS under the ingest load";

export const ingest: BenchModule = {
  rows: [
    {
      name: INGEST,
      unit: "deposits/s",
      goal: { value: { op: ">=", limit: 50_000 }, ratio: { of: "value/baseline", op: ">=", limit: 0.15 } },
    },
    { name: MEMORY, unit: "MB", goal: { value: { op: "<=", limit: 300 } } },
  ],
  async run(ctx) {
    const stack = await ctx.stack();
    const { db, tenant } = stack.database;
    const items = ctx.sizes.bulkItems;

    const copyRows = ctx.sizes.copyRows;
    await db.query("DROP TABLE IF EXISTS bench_copy");
    await db.query("CREATE TABLE bench_copy (LIKE deposits INCLUDING ALL)");
    const text = [...depositCopyText(copyRows, tenant, Date.now())]; // made before the clock starts
    const copyStart = process.hrtime.bigint();
    await copyDeposits(db, "bench_copy", text);
    const copyPerSecond = copyRows / (Number(process.hrtime.bigint() - copyStart) / 1e9);
    await db.query("DROP TABLE bench_copy");

    const bodies = Array.from({ length: 4 }, () =>
      JSON.stringify({ items: Array.from({ length: items }, () => ({ digest: randomDigest() })) }),
    );
    // one request first, as a warm-up: a fresh process compiles its code paths on the first
    const warmStart = Date.now();
    const warm = await fetch(`${stack.api}/v1/deposits/bulk`, {
      method: "POST",
      headers: { ...stack.auth, "content-type": "application/json" },
      body: bodies[0],
    });
    if (warm.status !== 202) throw new Error(`POST /v1/deposits/bulk: ${warm.status} ${await warm.text()}`);
    const warmSeconds = (Date.now() - warmStart) / 1000;
    // A fixed number of requests rather than a duration: autocannon drops the answers still in
    // flight when a duration ends, seconds' worth of deposits with requests this large. Enough
    // requests for about ingestSeconds, at the warm-up's pace shared by 4 connections.
    const amount = 4 * Math.max(2, Math.ceil(ctx.sizes.ingestSeconds / (4 * warmSeconds)));
    let next = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, memoryOf(stack.apiProcess.pid).rss);
      } catch {
        // the process is gone: the load run reports the errors
      }
    }, 100);
    const r = await load({
      url: `${stack.api}/v1/deposits/bulk`,
      method: "POST",
      connections: 4,
      amount,
      headers: stack.auth,
      next: () => ({ body: bodies[next++ % bodies.length] as string }),
    }).finally(() => clearInterval(sampler));
    const hwm = memoryOf(stack.apiProcess.pid).hwm;
    const size = ctx.sizeNote(
      `about ${ctx.sizes.ingestSeconds} s of load, COPY of ${copyRows.toLocaleString("en-US")} rows`,
    );
    return {
      [INGEST]: {
        value: r.okPerSecond * items,
        baseline: copyPerSecond,
        notes: [
          `${r.ok} requests of ${items.toLocaleString("en-US")} items in ${r.durationS.toFixed(1)} s, p99 ${r.p99} ms; the workers seal and anchor meanwhile`,
          ...loadNotes(r),
          ...size,
        ],
      },
      [MEMORY]: {
        value: peakRss / MB,
        notes: [
          `peak VmRSS sampled every 100 ms during the ingest load; VmHWM since start ${(hwm / MB).toFixed(0)} MB`,
        ],
      },
    };
  },
};
