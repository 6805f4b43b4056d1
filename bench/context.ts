import { randomBytes } from "node:crypto";
import type { Certificate } from "../services/core";
import { SEAL_INTERVAL_MS, startChain, startStack, waitFor, type BenchChain, type BenchStack } from "./stack";

// What the rows share, started on first use and closed once at the end: the chain, the
// service stack, and certificates the stack issued.

/** Sizes of a run; quick mode scales them down (each row says so in its notes). */
export interface Sizes {
  merkleLeaves: number;
  sealDeposits: number;
  copyRows: number;
  bulkItems: number;
  ingestSeconds: number;
  loadSeconds: number;
  latencySeconds: number;
  latencyPerSecond: number;
  batchCertificates: number;
  hashCliBytes: number;
  hashBrowserBytes: number;
  gasLeaves: number;
}

export function sizesFor(quick: boolean): Sizes {
  return quick
    ? {
        merkleLeaves: 100_000,
        sealDeposits: 100_000,
        copyRows: 50_000,
        bulkItems: 10_000,
        ingestSeconds: 6,
        loadSeconds: 3,
        latencySeconds: 8,
        latencyPerSecond: 5,
        batchCertificates: 1000,
        hashCliBytes: 128 * 2 ** 20,
        hashBrowserBytes: 32 * 2 ** 20,
        gasLeaves: 100_000,
      }
    : {
        merkleLeaves: 1_000_000,
        sealDeposits: 1_000_000,
        copyRows: 200_000,
        bulkItems: 10_000,
        ingestSeconds: 20,
        loadSeconds: 10,
        latencySeconds: 30,
        latencyPerSecond: 5,
        batchCertificates: 10_000,
        hashCliBytes: 2 ** 30,
        hashBrowserBytes: 256 * 2 ** 20,
        gasLeaves: 100_000,
      };
}

export const randomDigest = () => randomBytes(32).toString("hex");

/** Deposits spread over time, each followed until its certificate appeared. */
export interface SpreadDeposits {
  /** Deposit (2xx) to certificate in the feed, ms, one per deposit. */
  latenciesMs: number[];
  certificates: Certificate[];
  sealIntervalMs: number;
}

export class BenchContext {
  private chainP?: Promise<BenchChain>;
  private stackP?: Promise<BenchStack>;
  private spreadP?: Promise<SpreadDeposits>;
  private batchP?: Promise<Certificate[]>;
  private readonly cleanups: (() => Promise<void>)[] = [];
  private readonly memos = new Map<string, Promise<unknown>>();

  constructor(
    readonly quick: boolean,
    readonly sizes: Sizes,
  ) {}

  /** Notes for a row measured at a reduced size in quick mode. */
  sizeNote(what: string): string[] {
    return this.quick ? [`quick mode: ${what}`] : [];
  }

  /** Something to undo at the end of the run (after the stack and chain, in reverse order). */
  onClose(step: () => Promise<void>): void {
    this.cleanups.push(step);
  }

  /** `make()` once per run, whichever row asks first. */
  memo<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.memos.has(key)) this.memos.set(key, make());
    return this.memos.get(key) as Promise<T>;
  }

  chain(): Promise<BenchChain> {
    this.chainP ??= startChain();
    return this.chainP;
  }

  stack(): Promise<BenchStack> {
    this.stackP ??= this.chain().then(startStack);
    return this.stackP;
  }

  async api(method: "GET" | "POST", path: string, body?: unknown): Promise<Response> {
    const stack = await this.stack();
    return fetch(`${stack.api}${path}`, {
      method,
      headers: { ...stack.auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** A cursor of the certificates feed at its end now. */
  async feedCursor(): Promise<string> {
    const res = await this.api("GET", "/v1/certificates?since=now");
    if (!res.ok) throw new Error(`GET /v1/certificates: ${res.status}`);
    await res.arrayBuffer();
    return res.headers.get("x-next-cursor") as string;
  }

  /** The next page of the feed after `cursor`. */
  async feedPage(cursor: string): Promise<{ certificates: Certificate[]; cursor: string }> {
    const res = await this.api("GET", `/v1/certificates?since=${encodeURIComponent(cursor)}&limit=10000`);
    if (!res.ok) throw new Error(`GET /v1/certificates: ${res.status}`);
    const text = await res.text();
    const certificates = text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Certificate);
    return { certificates, cursor: res.headers.get("x-next-cursor") ?? cursor };
  }

  /**
   * Deposits at a steady rate for latencySeconds, one at a time over HTTP; each deposit's
   * latency runs from its 2xx to its certificate's first appearance in the feed (polled every
   * 50 ms). The certificates come from many batches (one every seal interval).
   */
  spreadDeposits(): Promise<SpreadDeposits> {
    this.spreadP ??= (async () => {
      let cursor = await this.feedCursor();
      const acceptedAt = new Map<string, number>();
      const latenciesMs: number[] = [];
      const certificates: Certificate[] = [];
      let sending = true;
      const poll = (async () => {
        for (;;) {
          const page = await this.feedPage(cursor);
          cursor = page.cursor;
          const now = Date.now();
          for (const c of page.certificates) {
            const at = acceptedAt.get(c.deposit.id);
            if (at === undefined) continue;
            latenciesMs.push(now - at);
            certificates.push(c);
          }
          if (!sending && certificates.length >= acceptedAt.size) return;
          if (page.certificates.length === 0) await new Promise((r) => setTimeout(r, 50));
        }
      })();
      poll.catch(() => undefined); // awaited below; a failure meanwhile must not crash the run
      const total = this.sizes.latencySeconds * this.sizes.latencyPerSecond;
      const start = Date.now();
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / this.sizes.latencyPerSecond;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        const res = await this.api("POST", "/v1/deposits", { digest: randomDigest() });
        if (res.status !== 202) throw new Error(`POST /v1/deposits: ${res.status} ${await res.text()}`);
        acceptedAt.set(((await res.json()) as { id: string }).id, Date.now());
      }
      sending = false;
      await Promise.race([
        poll,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error("certificates did not all come within 120 s")), 120_000),
        ),
      ]);
      return { latenciesMs, certificates, sealIntervalMs: SEAL_INTERVAL_MS };
    })();
    return this.spreadP;
  }

  /** batchCertificates deposits in one bulk request (one batch), and their certificates. */
  batchCertificates(): Promise<Certificate[]> {
    this.batchP ??= (async () => {
      let cursor = await this.feedCursor();
      const ids = new Set<string>();
      const n = this.sizes.batchCertificates;
      for (let from = 0; from < n; from += this.sizes.bulkItems) {
        const items = Array.from({ length: Math.min(this.sizes.bulkItems, n - from) }, () => ({
          digest: randomDigest(),
        }));
        const res = await this.api("POST", "/v1/deposits/bulk", { items });
        if (res.status !== 202) throw new Error(`POST /v1/deposits/bulk: ${res.status} ${await res.text()}`);
        for (const d of ((await res.json()) as { deposits: { id: string }[] }).deposits) ids.add(d.id);
      }
      const certificates: Certificate[] = [];
      await waitFor(
        async () => {
          for (;;) {
            const page = await this.feedPage(cursor);
            cursor = page.cursor;
            certificates.push(...page.certificates.filter((c) => ids.has(c.deposit.id)));
            if (page.certificates.length === 0) break;
          }
          return certificates.length >= ids.size ? true : undefined;
        },
        180_000,
        `${n} certificates`,
        200,
      );
      return certificates;
    })();
    return this.batchP;
  }

  async close(): Promise<void> {
    const stack = await this.stackP?.catch(() => undefined);
    await stack?.close();
    const chain = await this.chainP?.catch(() => undefined);
    await chain?.stop();
    for (const step of this.cleanups.splice(0).reverse()) await step().catch(() => undefined);
  }
}
