import type { BenchModule } from "../module";
import { load, loadNotes } from "../load";
import { clearRedisPrefix, serviceEnv, startApi } from "../stack";
import { sealedDatabase } from "./seal";

// Status lookups with many deposits stored: GET /v1/deposits/:id of random stored deposits, 16
// connections, against an API process of its own on the sealed row's database.

const NAME = "lookup: deposit status, 1,000,000 deposits stored, 16 connections";

export const lookup: BenchModule = {
  rows: [
    {
      name: NAME,
      unit: "ms p99",
      goal: { value: { op: "<=", limit: 5 } },
    },
  ],
  async run(ctx) {
    const sealed = await sealedDatabase(ctx);
    const chain = await ctx.chain();
    const prefix = `tsdbench_${process.pid}_lookup`;
    // autovacuum analyses a freshly sealed batch within its naptime (a minute); a lookup in
    // steady state runs on those statistics
    await sealed.database.db.query("ANALYZE");
    const api = await startApi(serviceEnv(chain, sealed.database, prefix));
    try {
      const { rows } = await sealed.database.db.query<{ id: string }>(
        "SELECT id FROM deposits ORDER BY random() LIMIT 10000",
      );
      const ids = rows.map((r) => r.id);
      const probe = await fetch(`${api.url}/v1/deposits/${ids[0]}`, {
        headers: { authorization: `Bearer ${sealed.database.tenant.apiKey}` },
      });
      if (probe.status !== 200) throw new Error(`GET /v1/deposits/:id answered ${probe.status}`);
      let i = 0;
      const run = (durationS: number) =>
        load({
          url: api.url,
          connections: 16,
          durationS,
          headers: { authorization: `Bearer ${sealed.database.tenant.apiKey}` },
          next: () => ({ path: `/v1/deposits/${ids[i++ % ids.length]}` }),
        });
      await run(1); // warm-up: a fresh process compiles its code paths first
      const r = await run(ctx.sizes.loadSeconds);
      return {
        [NAME]: {
          value: r.p99,
          notes: [
            `${Math.round(r.okPerSecond).toLocaleString("en-US")} req/s, p50 ${r.p50} ms, ${ids.length.toLocaleString("en-US")} random ids`,
            ...loadNotes(r),
            ...ctx.sizeNote(
              `${sealed.deposits.toLocaleString("en-US")} deposits stored, ${ctx.sizes.loadSeconds} s`,
            ),
          ],
        },
      };
    } finally {
      await api.process.stop();
      await clearRedisPrefix(prefix);
    }
  },
};
