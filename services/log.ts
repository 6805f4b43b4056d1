import pino, { type DestinationStream, type Logger } from "pino";

// The process logger: JSON lines on stdout. What never reaches a line:
// - secrets in headers (Authorization, API keys, cookies) and Idempotency-Keys;
// - query values (digests, cursors, labels, the verify page's rpc), except a few harmless ones,
//   and 64-hex runs (digests) in paths;
// - the chain RPC URL, which may carry a provider's API key: every line is scrubbed of it
//   (`secrets`), whatever logged it (an ethers error message names the URL it called).

export interface LoggerOptions {
  /** Strings no line may contain (the chain RPC URL); parts of a URL that may be secret too. */
  secrets?: (string | undefined)[];
  /** Where lines go (tests capture them); stdout by default. */
  destination?: DestinationStream;
}

/** Query parameters whose values say nothing about anyone's secrets. */
const PLAIN_QUERY = new Set(["limit", "status"]);

export const REDACTED = "[redacted]";

export function createLogger(level: string, name = "tsd", options: LoggerOptions = {}): Logger {
  const secrets = secretVariants(options.secrets ?? []);
  return pino(
    {
      name,
      level,
      redact: {
        paths: [
          "req.headers.authorization",
          'req.headers["idempotency-key"]',
          'req.headers["x-api-key"]',
          "req.headers.cookie",
          "headers.authorization",
          'headers["idempotency-key"]',
          "*.privateKey",
          "*.apiKey",
          "apiKey",
          "*.secret",
          "idempotencyKey",
          "*.idempotencyKey",
          "cursor",
          "digest",
        ],
        censor: REDACTED,
      },
      serializers: {
        // Fastify's request (or a plain IncomingMessage): never its headers, its URL redacted.
        req: (req: {
          method?: string;
          url?: string;
          host?: string;
          ip?: string;
          socket?: { remoteAddress?: string; remotePort?: number };
        }) => ({
          method: req.method,
          url: redactUrl(req.url ?? ""),
          host: req.host,
          remoteAddress: req.ip ?? req.socket?.remoteAddress,
          remotePort: req.socket?.remotePort,
        }),
      },
      ...(secrets.length > 0
        ? {
            hooks: {
              streamWrite: (line: string) => {
                for (const secret of secrets)
                  if (line.includes(secret)) line = line.split(secret).join(REDACTED);
                return line;
              },
            },
          }
        : {}),
    },
    options.destination,
  );
}

/** A request URL for the log: its path (64-hex runs replaced), each query value but PLAIN_QUERY's redacted. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  const path = (q === -1 ? url : url.slice(0, q)).replace(/[0-9a-fA-F]{64}/g, "[digest]");
  if (q === -1) return path;
  const query = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq === -1) return pair.length > 40 ? REDACTED : pair;
      const key = pair.slice(0, eq);
      return PLAIN_QUERY.has(key) ? pair : `${key}=${REDACTED}`;
    })
    .join("&");
  return `${path}?${query}`;
}

/**
 * The forms in which a secret URL may show up in a line: whole (as given, as parsed, without a
 * trailing slash, JSON-escaped), and its parts that may carry keys: the user name and password,
 * and the path with its query.
 */
export function secretVariants(secrets: (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    out.add(secret);
    let url: URL | undefined;
    try {
      url = new URL(secret);
    } catch {
      url = undefined;
    }
    if (url) {
      out.add(url.href);
      out.add(url.href.replace(/\/$/, ""));
      if (url.password) out.add(decodeURIComponent(url.password)).add(url.password);
      if (url.username) out.add(decodeURIComponent(url.username)).add(url.username);
      const rest = `${url.pathname}${url.search}`;
      if (rest.length > 1) out.add(rest);
    }
  }
  // JSON-escaped forms too; never a string so short it would blot out ordinary text
  return [...out]
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .filter((s, i, all) => s.length >= 6 && all.indexOf(s) === i)
    .sort((a, b) => b.length - a.length);
}

export type { Logger };
