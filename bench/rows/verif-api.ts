import type { Certificate } from "../../services/core";
import type { BenchContext } from "../context";
import type { BenchModule } from "../module";
import { load, loadNotes } from "../load";

// POST /v1/verify (public, no key) on 16 connections: certificates of one batch (the same
// anchor and signature every time), and certificates of distinct batches, each verified once
// before the run (a warm cache).

const SAME = "verif: API, certificates of one batch";
const DISTINCT = "verif: API, distinct batches, warm cache";

/** Verifies the first `checked` certificates once each (each must be VALID), then loads the endpoint with all of them. */
async function verifyRate(ctx: BenchContext, certificates: Certificate[], checked: number) {
  const stack = await ctx.stack();
  const bodies = certificates.map((c) => JSON.stringify({ certificate: c }));
  // A rate of failures is no rate.
  for (const body of bodies.slice(0, checked)) {
    const res = await fetch(`${stack.api}/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const answer = (await res.json()) as { outcome?: string; code?: string };
    if (answer.outcome !== "VALID")
      throw new Error(`verify answered ${res.status} ${answer.outcome ?? answer.code}`);
  }
  let next = 0;
  return load({
    url: `${stack.api}/v1/verify`,
    method: "POST",
    connections: 16,
    durationS: ctx.sizes.loadSeconds,
    next: () => ({ body: bodies[next++ % bodies.length] as string }),
  });
}

export const verifSameBatch: BenchModule = {
  rows: [{ name: SAME, unit: "verifications/s", goal: { value: { op: ">=", limit: 5000 } } }],
  async run(ctx) {
    const certificates = (await ctx.batchCertificates()).slice(0, 1000);
    const r = await verifyRate(ctx, certificates, 10);
    return {
      [SAME]: {
        value: r.okPerSecond,
        notes: [
          `${certificates.length} certificates of batch ${certificates[0]?.anchor.batch}, p99 ${r.p99} ms`,
          ...loadNotes(r),
          ...ctx.sizeNote(`${ctx.sizes.loadSeconds} s`),
        ],
      },
    };
  },
};

export const verifDistinct: BenchModule = {
  rows: [{ name: DISTINCT, unit: "verifications/s", goal: { value: { op: ">=", limit: 2000 } } }],
  async run(ctx) {
    const byBatch = new Map<number, Certificate>();
    for (const c of (await ctx.spreadDeposits()).certificates) byBatch.set(c.anchor.batch, c);
    const certificates = [...byBatch.values()];
    if (certificates.length < 2) throw new Error(`certificates of ${certificates.length} batch(es) only`);
    const r = await verifyRate(ctx, certificates, certificates.length);
    return {
      [DISTINCT]: {
        value: r.okPerSecond,
        notes: [
          `${certificates.length} certificates, each of its own batch, p99 ${r.p99} ms`,
          ...loadNotes(r),
          ...ctx.sizeNote(`${ctx.sizes.loadSeconds} s`),
        ],
      },
    };
  },
};
