import { connect } from "node:net";
import pg from "pg";

// The bad-input suite's tools: requests written byte for byte on a socket (node:net), so a
// malformed request line, a header flood or a body sent a byte at a time reach the real
// listening server as sent, and a count of every table's rows to show nothing was stored.

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawRequest {
  method?: string;
  path?: string;
  /** Extra headers, in order (after Host, Connection: close and, for a JSON value, Content-Type). */
  headers?: [string, string][];
  /** A JSON value (serialized, with its content type), or the body's exact text or bytes. */
  body?: unknown;
  /** Content-Length to declare instead of the body's own (or null for none). */
  contentLength?: number | null;
  /** Headers this module adds by itself that the request must not have. */
  omit?: ("host" | "content-type")[];
}

/** The bytes of a request: the line, the headers, the body. */
export function requestBytes(r: RawRequest): Buffer {
  const json = r.body !== undefined && !Buffer.isBuffer(r.body) && typeof r.body !== "string";
  const body: Buffer =
    r.body === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(r.body)
        ? r.body
        : Buffer.from(typeof r.body === "string" ? r.body : JSON.stringify(r.body), "utf8");
  const omit = new Set(r.omit ?? []);
  const headers: [string, string][] = omit.has("host") ? [] : [["Host", "127.0.0.1"]];
  headers.push(["Connection", "close"]);
  if (json && !omit.has("content-type")) headers.push(["Content-Type", "application/json"]);
  headers.push(...(r.headers ?? []));
  const length =
    r.contentLength === undefined ? (r.body === undefined ? null : body.length) : r.contentLength;
  if (length !== null) headers.push(["Content-Length", String(length)]);
  const head = `${r.method ?? "GET"} ${r.path ?? "/"} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

/**
 * Writes `chunks` on a new connection, `intervalMs` apart (a slow client), stops writing once
 * the server closes, and returns the first response read before the connection closed, or
 * null when none came (the connection was dropped). `giveUpMs` bounds the whole exchange.
 */
export function exchange(
  port: number,
  chunks: (string | Buffer)[],
  o: { intervalMs?: number; giveUpMs?: number } = {},
): Promise<RawResponse | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    let closed = false;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${o.giveUpMs ?? 15_000} ms`));
    }, o.giveUpMs ?? 15_000);
    socket.on("data", (d) => received.push(d));
    socket.on("error", () => undefined); // (writes after the server closed: EPIPE, ECONNRESET)
    socket.on("close", () => {
      closed = true;
      clearTimeout(giveUp);
      resolve(parseResponse(Buffer.concat(received)));
    });
    void (async () => {
      for (const chunk of chunks) {
        if (closed || socket.destroyed) return;
        socket.write(chunk);
        if (o.intervalMs) await new Promise((r) => setTimeout(r, o.intervalMs));
      }
    })();
  });
}

/** One request, all at once. */
export function send(port: number, r: RawRequest): Promise<RawResponse | null> {
  return exchange(port, [requestBytes(r)]);
}

export function parseResponse(bytes: Buffer): RawResponse | null {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) return null;
  const [line, ...fields] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(line ?? "");
  if (!status) throw new Error(`not an HTTP response: ${line}`);
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(":");
    headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
  }
  const rest = bytes.subarray(end + 4);
  const length = headers["content-length"] === undefined ? rest.length : Number(headers["content-length"]);
  return { status: Number(status[1]), headers, body: rest.subarray(0, length).toString("utf8") };
}

/** Rows in every table of the service's schema, by table (migrations' own table aside). */
export async function rowCounts(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tables = (
      await client.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'pgmigrations'
          ORDER BY table_name`,
      )
    ).rows.map((r) => r.name);
    const counts = await client.query<Record<string, string>>(
      `SELECT ${tables.map((t) => `(SELECT count(*) FROM ${pg.escapeIdentifier(t)}) AS ${pg.escapeIdentifier(t)}`).join(", ")}`,
    );
    return Object.fromEntries(Object.entries(counts.rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
  } finally {
    await client.end();
  }
}
