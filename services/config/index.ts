import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { resolve } from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

// Configuration (every variable in .env.example): environment variables, validated once at start-up, with
// defaults for the local stack. Nothing else in the service reads process.env. Every
// variable is listed, with its default, in .env.example.

const PrivateKey = Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" });
const Url = Type.String({ minLength: 1 });

export const ConfigSchema = Type.Object({
  /** HTTP port of the API. */
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  /** Address the API listens on; 0.0.0.0 in a container. */
  HOST: Type.String({ default: "127.0.0.1" }),
  /** The service's public base URL, printed on certificates (the verify page's address). Default: http://HOST:PORT. */
  PUBLIC_URL: Type.Optional(Type.String({ pattern: "^https?://[^/]+(/.*[^/])?$" })),
  /**
   * A chain RPC URL for verifiers, prefilled on the verify page. Default: the local chain's when
   * it is the one in use; none for an external chain (CHAIN_RPC_URL may carry a private key).
   */
  PUBLIC_CHAIN_RPC_URL: Type.Optional(Type.String({ pattern: "^https?://" })),
  /**
   * Most time a client may take to send a whole request (headers and body), ms; a body sent
   * too slowly is cut off with 408 REQUEST_TIMEOUT.
   */
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
  /** Most time a client may take to send the request's headers, ms (at most HTTP_REQUEST_TIMEOUT_MS). */
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 10_000 }),
  /** How long an idle keep-alive connection stays open between requests, ms; above a load balancer's idle timeout. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5000 }),
  /** A connection with no traffic either way for this long is closed, ms (a stalled reader, a dead peer). */
  HTTP_CONNECTION_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
  /** Most open connections per API process; further ones are closed at once. */
  HTTP_MAX_CONNECTIONS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
  /** Requests served on one keep-alive connection before it is closed; 0: no limit. */
  HTTP_MAX_REQUESTS_PER_SOCKET: Type.Integer({ minimum: 0, default: 0 }),
  /** Most bytes of a request's line and headers together; more is 431 HEADERS_TOO_LARGE. */
  HTTP_MAX_HEADER_BYTES: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 16_384 }),
  /**
   * Browser origins allowed to call the API cross-origin (CORS), comma-separated, e.g.
   * `https://erp.example.com,https://portal.example.com`. Unset: none. POST /v1/verify and
   * GET /v1/registry are public and allowed from any origin.
   */
  CORS_ORIGINS: Type.Optional(Type.String({ pattern: "^https?://[^/,\\s]+(\\s*,\\s*https?://[^/,\\s]+)*$" })),
  /** PostgreSQL, the source of truth. The database is created on first start if missing. */
  DATABASE_URL: Type.String({ minLength: 1, default: "postgres://postgres@127.0.0.1:5432/tsd" }),
  /**
   * The database's owner, for migrations (and for creating the database on a first local
   * start). Default: DATABASE_URL. The service itself works as DATABASE_ROLE.
   */
  DATABASE_OWNER_URL: Type.Optional(Type.String({ minLength: 1 })),
  /** The role the service's connections take: it may never UPDATE or DELETE deposits. */
  DATABASE_ROLE: Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$", default: "tsd_service" }),
  /** Size of each PostgreSQL pool (the API's and the workers' are separate). */
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, default: 10 }),
  /** Longest statement of an API request, ms: a slow query fails instead of holding a connection. */
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000 }),
  /** Longest statement of a worker job, ms (sealing a million leaves takes seconds). */
  WORKER_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 300_000 }),
  /** Redis for BullMQ: triggers only, never state. */
  REDIS_URL: Type.String({ minLength: 1, default: "redis://127.0.0.1:6379" }),
  /** Prefix of every Redis key (BullMQ queues included), so deployments can share a Redis. */
  REDIS_PREFIX: Type.String({ minLength: 1, pattern: "^[A-Za-z0-9_.-]+$", default: "tsd" }),
  /** JSON-RPC endpoint of the chain. Unset: a local anvil is started under DATA_DIR. */
  CHAIN_RPC_URL: Type.Optional(Url),
  /** Port of the local anvil when CHAIN_RPC_URL is unset. */
  LOCAL_CHAIN_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8545 }),
  /** An already deployed registry to use (otherwise DATA_DIR/deployment.json, or a new deployment). */
  REGISTRY_ADDRESS: Type.Optional(Type.String({ pattern: "^0x[0-9a-fA-F]{40}$" })),
  /** Blocks to wait after the anchoring transaction's block before attesting. */
  CHAIN_CONFIRMATIONS: Type.Integer({ minimum: 1, default: 1 }),
  /** How long an anchoring transaction may stay unmined before it is replaced (re-priced, or moved into a nonce gap). */
  ANCHOR_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 120_000 }),
  /** No anchoring transaction is priced above this, in wei per gas (a stuck one waits instead). Unset: no cap. */
  ANCHOR_MAX_FEE_PER_GAS: Type.Optional(Type.String({ pattern: "^[0-9]{1,30}$" })),
  /** Most anchoring transactions in flight at once (one per batch). */
  ANCHOR_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 64, default: 8 }),
  /** Recorded anchors younger than this are re-checked against the chain at every sweep. */
  RECONCILE_WINDOW_MS: Type.Integer({ minimum: 60_000, default: 86_400_000 }),
  /**
   * How long a recorded anchor block may stay above an external node's head (the node behind,
   * or the chain rewound) before it counts as lost. The local chain uses 0: it cannot lag.
   */
  ANCHOR_LOSS_GRACE_MS: Type.Integer({ minimum: 0, default: 600_000 }),
  /** Local state: key files, the local chain's state, deployment.json. */
  DATA_DIR: Type.String({ minLength: 1, default: "./data" }),
  /** Key that sends anchoring transactions (ANCHORER_ROLE). Default: DATA_DIR/keys/anchorer.key. */
  ANCHORER_PRIVATE_KEY: Type.Optional(PrivateKey),
  /** Key that signs attestations (a registered certifier). Default: DATA_DIR/keys/certifier.key. */
  CERTIFIER_PRIVATE_KEY: Type.Optional(PrivateKey),
  /** Registry admin key, used to deploy and to register keys. Default: DATA_DIR/keys/admin.key. */
  ADMIN_PRIVATE_KEY: Type.Optional(PrivateKey),
  /** A batch is sealed at least this often while deposits wait. */
  SEAL_INTERVAL_MS: Type.Integer({ minimum: 100, default: 2000 }),
  /**
   * A batch takes deposits received before the current second began, less this margin: raise
   * it when the chain's block times may run behind this machine's clock (the time invariant).
   */
  SEAL_MARGIN_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 0 }),
  /** Most leaves in one batch; this many waiting deposits trigger a seal at once. */
  BATCH_MAX: Type.Integer({ minimum: 1, maximum: 4_000_000, default: 100_000 }),
  /** Most items in one bulk deposit request. */
  BULK_MAX: Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 }),
  /**
   * Group commit: how long a single deposit (POST /v1/deposits) waits for others to share its
   * INSERT and commit, ms. Each request is still answered only after its own commit.
   */
  GROUP_COMMIT_WAIT_MS: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
  /** Most single deposits in one group commit; a full group is committed without waiting. */
  GROUP_COMMIT_MAX_ITEMS: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
  /**
   * How long an API process remembers an API key's tenant, ms (0: ask PostgreSQL on every
   * request). A revoked key or a disabled tenant is refused by every API process within this.
   */
  API_KEY_CACHE_MS: Type.Integer({ minimum: 0, maximum: 1000, default: 1000 }),
  /** How often the sweeper re-drives work that a lost job left behind. */
  SWEEP_INTERVAL_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  /** Webhook POSTs in flight at once per worker process; their own worker, apart from the batches'. */
  WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 16 }),
  /** How long one webhook POST may take before it counts as failed and is retried. */
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  /** The wait before a failed webhook POST's first retry; it doubles with each retry, up to an hour. */
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 5000 }),
  /**
   * The operator's token: guards /metrics and the queue dashboard at /admin/queues. Unset: the
   * dashboard is closed and /metrics answers loopback clients only.
   */
  OPERATOR_TOKEN: Type.Optional(Type.String({ minLength: 24 })),
  /** Port of a worker process's own /metrics (`npm run start:workers`); 0: none. */
  WORKER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  /** Requests a minute per API key, on every authenticated route (a fixed window, shared by all API processes). */
  RATE_LIMIT_REQUESTS_PER_MINUTE: Type.Integer({ minimum: 1, default: 1200 }),
  /**
   * Deposits a minute per API key; a bulk request counts its items. At least BULK_MAX. The
   * default lets a client send a full bulk request every 6 s; the day's quota bounds the total.
   */
  RATE_LIMIT_DEPOSITS_PER_MINUTE: Type.Integer({ minimum: 1, default: 100_000 }),
  /** Deposits per tenant (all its keys together) per UTC day. At least BULK_MAX. */
  DEPOSIT_QUOTA_PER_DAY: Type.Integer({ minimum: 1, default: 1_000_000 }),
  /** POST /v1/verify requests a minute per client address. */
  RATE_LIMIT_VERIFY_PER_MINUTE: Type.Integer({ minimum: 1, default: 300 }),
  /** Requests a minute per client address on the other public routes (pages, downloads, /docs, /v1/registry). */
  RATE_LIMIT_PUBLIC_PER_MINUTE: Type.Integer({ minimum: 1, default: 300 }),
  /**
   * Failed authentications a minute per client address; beyond, its authenticated requests get
   * 429 until the minute ends. It bounds the key lookups a broken or hostile client causes
   * (guessing a 256-bit key is hopeless at any rate) without locking out an office behind one
   * address over a script with an old key.
   */
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 1, default: 300 }),
  /**
   * Proxies whose X-Forwarded-For names the client (comma-separated addresses or CIDRs, e.g. the
   * load balancer's). Unset: the client is the connection's peer address.
   */
  TRUST_PROXY: Type.Optional(Type.String({ pattern: "^[0-9A-Fa-f.:/]+(,\\s*[0-9A-Fa-f.:/]+)*$" })),
  /**
   * Verifications one API process computes at once (a few ms of CPU for a batch not seen before,
   * well under one after; waiting on the chain holds no slot). One event loop computes one thing
   * at a time: more only lets steps queue up.
   */
  VERIFY_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: 1 }),
  /** Verifications in progress beyond those computing; beyond, POST /v1/verify answers 429 VERIFY_BUSY. */
  VERIFY_QUEUE_MAX: Type.Integer({ minimum: 0, maximum: 10_000, default: 64 }),
  /** Chain reads the verifier keeps (confirmed anchors and blocks, certifier registrations), per API process. */
  VERIFY_CACHE_ENTRIES: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 10_000 }),
  /** How long a cached chain read is used, ms: a loss deeper than CHAIN_CONFIRMATIONS shows after this at the latest. */
  VERIFY_CACHE_TTL_MS: Type.Integer({ minimum: 0, default: 600_000 }),
  /** pino log level. */
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
    { default: "info" },
  ),
});

export type Config = Static<typeof ConfigSchema> & {
  /** DATA_DIR made absolute. */
  dataDir: string;
};

/** A configuration error: every problem at once, named by variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * Loads `.env` from the working directory into the environment, when there is one. Variables
 * already set win over the file (as with Node's --env-file), so a deployment's environment is
 * never overridden by a stray file. Returns the file read, if any.
 */
export function loadDotEnv(
  file = resolve(".env"),
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (!existsSync(file)) return undefined;
  for (const [key, value] of Object.entries(parseEnv(readFileSync(file, "utf8")))) {
    if (env[key] === undefined) env[key] = value;
  }
  return file;
}

/** Reads and validates the configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(ConfigSchema.properties);
  const input: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    // An empty variable counts as unset, as in most .env tooling.
    if (value !== undefined && value !== "") input[key] = value;
  }
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, input));
  if (!Value.Check(ConfigSchema, value)) {
    const problems = [...Value.Errors(ConfigSchema, value)].map(
      (e) => `${e.path.slice(1) || "config"}: ${e.message}`,
    );
    throw new ConfigError(problems);
  }
  // Node refuses a headers timeout longer than the request's.
  if (value.HTTP_HEADERS_TIMEOUT_MS > value.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(["HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS"]);
  }
  // A full bulk request must be able to pass the deposit limits, or it would be refused forever.
  const belowBulk = (["RATE_LIMIT_DEPOSITS_PER_MINUTE", "DEPOSIT_QUOTA_PER_DAY"] as const)
    .filter((key) => value[key] < value.BULK_MAX)
    .map(
      (key) => `${key}: must be at least BULK_MAX (${value.BULK_MAX}), or a full bulk request never passes`,
    );
  if (belowBulk.length > 0) throw new ConfigError(belowBulk);
  return { ...value, dataDir: resolve(value.DATA_DIR) };
}

/** CORS_ORIGINS as a list of origins (scheme, host and port, as browsers send them). */
export function corsOrigins(config: Pick<Config, "CORS_ORIGINS">): string[] {
  return (config.CORS_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "")
    .map((o) => new URL(o).origin);
}

/**
 * DATA_DIR alone, for commands that need nothing else (`tsd verify` on a court's machine must
 * not fail over the service's other variables).
 */
export function dataDirFrom(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.DATA_DIR || "./data");
}

/** Who an operator's `tsd admin` action is recorded as: TSD_ACTOR, or undefined (the OS user). */
export function actorFrom(env: Record<string, string | undefined> = process.env): string | undefined {
  return env.TSD_ACTOR?.trim() || undefined;
}

/** Where a depositor's tools (the tsd CLI) find the API: TSD_API_URL and TSD_API_KEY. */
export function clientConfigFrom(env: Record<string, string | undefined> = process.env): {
  apiUrl: string;
  apiKey: string | undefined;
} {
  return { apiUrl: env.TSD_API_URL || "http://127.0.0.1:8080", apiKey: env.TSD_API_KEY || undefined };
}
