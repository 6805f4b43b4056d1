import { randomDigest } from "../context";
import type { BenchModule } from "../module";
import { load, loadNotes } from "../load";

// Single deposits: POST /v1/deposits on 64 connections (each request its own digest from a
// prepared pool), against GET /healthz on the same server and connections: the framework's
// ceiling on this machine.

const RATE = "single: POST /v1/deposits, 64 connections";
const P99 = "single: p99 latency of POST /v1/deposits, 64 connections";

export const single: BenchModule = {
  rows: [
    {
      name: RATE,
      unit: "req/s",
      goal: {
        value: { op: ">=", limit: 5000 },
        ratio: { of: "value/baseline", op: ">=", limit: 0.1 },
        also: [{ key: "p99", unit: "ms", bound: { op: "<=", limit: 50 } }],
      },
    },
    { name: P99, unit: "ms", goal: { value: { op: "<=", limit: 50 } } },
  ],
  async run(ctx) {
    const stack = await ctx.stack();
    const seconds = ctx.sizes.loadSeconds;
    const health = await load({ url: `${stack.api}/healthz`, connections: 64, durationS: seconds });
    const bodies = Array.from({ length: 10_000 }, () => JSON.stringify({ digest: randomDigest() }));
    let next = 0;
    const r = await load({
      url: `${stack.api}/v1/deposits`,
      method: "POST",
      connections: 64,
      durationS: seconds,
      headers: stack.auth,
      next: () => ({ body: bodies[next++ % bodies.length] as string }),
    });
    const size = ctx.sizeNote(`${seconds} s each`);
    return {
      [RATE]: {
        value: r.okPerSecond,
        baseline: health.okPerSecond,
        checks: { p99: r.p99 },
        notes: [`p50 ${r.p50} ms; /healthz p99 ${health.p99} ms`, ...loadNotes(r), ...size],
      },
      [P99]: { value: r.p99, notes: [...loadNotes(r), ...size] },
    };
  },
};
