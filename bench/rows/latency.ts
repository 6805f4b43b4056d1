import type { BenchModule } from "../module";
import { percentile } from "../report";
import { SEAL_INTERVAL_MS } from "../stack";

// Deposit to certificate: deposits at a steady rate, each timed from its 2xx to its
// certificate's first appearance in the certificates feed (polled every 50 ms).

const NAME = "latency: deposit → certificate, p95";

export const latency: BenchModule = {
  // SEAL_INTERVAL_MS + 500 ms, with the seal interval the bench stack runs with
  rows: [{ name: NAME, unit: "ms", goal: { value: { op: "<=", limit: SEAL_INTERVAL_MS + 500 } } }],
  async run(ctx) {
    const spread = await ctx.spreadDeposits();
    const p95 = percentile(spread.latenciesMs, 95);
    if (p95 === null) throw new Error("no certificates");
    const batches = new Set(spread.certificates.map((c) => c.anchor.batch)).size;
    const limit = spread.sealIntervalMs + 500;
    return {
      [NAME]: {
        value: p95,
        notes: [
          `p50 ${percentile(spread.latenciesMs, 50)} ms, max ${Math.max(...spread.latenciesMs)} ms over ${spread.latenciesMs.length} deposits in ${batches} batches (${ctx.sizes.latencyPerSecond}/s for ${ctx.sizes.latencySeconds} s)`,
          `SEAL_INTERVAL_MS ${spread.sealIntervalMs}: target p95 ≤ ${limit} ms`,
          ...ctx.sizeNote(`${ctx.sizes.latencySeconds} s of deposits`),
        ],
      },
    };
  },
};
