import autocannon from "autocannon";

// The load generator: autocannon's programmatic API, in the bench process (on the same
// machine as the service, as the targets assume).

export interface LoadResult {
  /** 2xx answers a second over the run. */
  okPerSecond: number;
  ok: number;
  /** Answers that were not 2xx, and connection errors (timeouts included). */
  non2xx: number;
  errors: number;
  /** Latency percentiles of every answer, ms. */
  p50: number;
  p99: number;
  durationS: number;
  statusCodes: Record<string, number>;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Run this long; or, with `amount`, until that many requests were answered. */
  durationS?: number;
  amount?: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** Called for each request: its path and body (e.g. cycling through prepared bodies). */
  next?: () => { path?: string; body?: string };
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    ...(o.amount === undefined ? { duration: o.durationS ?? 10 } : { amount: o.amount }),
    method: o.method ?? "GET",
    headers: { ...(o.method === "POST" ? { "content-type": "application/json" } : {}), ...o.headers },
    ...(o.next
      ? {
          requests: [
            {
              setupRequest: (request) => {
                const n = o.next!();
                return {
                  ...request,
                  ...(n.path ? { path: n.path } : {}),
                  ...(n.body ? { body: n.body } : {}),
                };
              },
            },
          ],
        }
      : {}),
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = stat.count ?? 0;
  return {
    ok: result["2xx"],
    okPerSecond: result["2xx"] / result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    p50: result.latency.p50,
    p99: result.latency.p99,
    durationS: result.duration,
    statusCodes,
  };
}

/** Notes on what went wrong in a load run, if anything did. */
export function loadNotes(r: LoadResult): string[] {
  const notes: string[] = [];
  if (r.non2xx > 0) notes.push(`${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)}), not counted`);
  if (r.errors > 0) notes.push(`${r.errors} connection errors`);
  return notes;
}
