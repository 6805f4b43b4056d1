// The tsd HTTP API from the depositor's side: one small fetch-based client for the CLI, the
// deposit page and the test suites. It retries what is safe to retry — a network error, a 5xx,
// a 429 after its Retry-After (but not a spent daily quota) — and never another 4xx. Deposits
// are sent with an Idempotency-Key, so a retry of a request whose answer was lost returns the
// same deposits, never duplicates.

/** An error answer of the API (`{error: {code, message}}`), or a network failure (status 0). */
export class TsdApiError extends Error {
  override readonly name = "TsdApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The server's Retry-After, ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /**
   * Worth another try: the network, the server's side (5xx) or a rate limit (429), but not a
   * spent daily quota (QUOTA_EXCEEDED: its Retry-After is the next UTC midnight).
   */
  get retryable(): boolean {
    if (this.code === "QUOTA_EXCEEDED") return false;
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8080 (no trailing slash needed). */
  baseUrl: string;
  apiKey?: string;
  /** Tries per request, the first included. Default 6. */
  attempts?: number;
  /** Called before each retry (for a progress line). */
  onRetry?: (error: TsdApiError, attempt: number, delayMs: number) => void;
  /** Timeout of one try, ms. Default 60 s. */
  timeoutMs?: number;
}

/** Backoff before retry `attempt` (1 = the first retry): the server's Retry-After if any, else 0.5 s doubling to 30 s. */
export function retryDelayMs(attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), 120_000);
  return Math.min(500 * 2 ** (attempt - 1), 30_000);
}

/** Parses a Retry-After header (seconds, or an HTTP date) into ms from `now`. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface DepositItem {
  digest: string;
  digestAlg?: string;
  label?: string;
  prev?: string;
}

export type DepositStatus = "pending" | "batched" | "anchored" | "certified";

export interface AcceptedDeposit {
  id: string;
  status: DepositStatus;
  record: Record<string, unknown>;
  leafHash: string;
}

export class TsdClient {
  private readonly baseUrl: string;

  constructor(private readonly o: ClientOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, "");
  }

  /** One request, retried as the policy allows; returns the successful response. */
  async request(
    method: "GET" | "POST",
    path: string,
    options: { body?: unknown; idempotencyKey?: string; auth?: boolean } = {},
  ): Promise<Response> {
    const attempts = this.o.attempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(method, path, options);
      } catch (e) {
        const error = e instanceof TsdApiError ? e : new TsdApiError(0, "NETWORK", networkMessage(e));
        // A POST without an Idempotency-Key might have been applied: never sent twice.
        const safe = method === "GET" || options.idempotencyKey !== undefined;
        if (!error.retryable || !safe || attempt >= attempts) throw error;
        const delay = retryDelayMs(attempt, error.retryAfterMs);
        this.o.onRetry?.(error, attempt, delay);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async once(
    method: string,
    path: string,
    options: { body?: unknown; idempotencyKey?: string; auth?: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (options.auth !== false && this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 60_000),
    });
    if (res.ok) return res;
    const text = await res.text();
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 200);
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not the catalogue's shape (a proxy's page): keep the status
    }
    throw new TsdApiError(res.status, code, message, parseRetryAfter(res.headers.get("retry-after")));
  }

  private async json<T>(method: "GET" | "POST", path: string, options = {}): Promise<T> {
    return (await (await this.request(method, path, options)).json()) as T;
  }

  /** Deposits up to the server's BULK_MAX digests in one all-or-nothing request. */
  async depositBulk(items: DepositItem[], idempotencyKey: string): Promise<AcceptedDeposit[]> {
    const body = await this.json<{ deposits: AcceptedDeposit[] }>("POST", "/v1/deposits/bulk", {
      body: { items },
      idempotencyKey,
    });
    return body.deposits;
  }

  /** One deposit's status, batch and times. */
  status(id: string): Promise<AcceptedDeposit & Record<string, unknown>> {
    return this.json("GET", `/v1/deposits/${encodeURIComponent(id)}`);
  }

  /** The certificate JSON exactly as served (the bytes to keep). */
  async certificate(id: string): Promise<string> {
    return (await this.request("GET", `/v1/deposits/${encodeURIComponent(id)}/certificate`)).text();
  }

  /** The bilingual PDF certificate. */
  async certificatePdf(id: string): Promise<Uint8Array> {
    const res = await this.request("GET", `/v1/deposits/${encodeURIComponent(id)}/certificate.pdf`);
    return new Uint8Array(await res.arrayBuffer());
  }
}

function networkMessage(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (e instanceof Error && e.name === "TimeoutError") return "the API did not answer in time";
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}
