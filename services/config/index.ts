import { resolve } from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

// Configuration (DESIGN section 11): environment variables, validated once at start-up, with
// defaults for the local stack. Nothing else in the service reads process.env. Every
// variable is listed, with its default, in .env.example.

const PrivateKey = Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" });
const Url = Type.String({ minLength: 1 });

export const ConfigSchema = Type.Object({
  /** HTTP port of the API. */
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  /** Address the API listens on; 0.0.0.0 in a container. */
  HOST: Type.String({ default: "127.0.0.1" }),
  /** PostgreSQL, the source of truth. The database is created on first start if missing. */
  DATABASE_URL: Type.String({ minLength: 1, default: "postgres://postgres@127.0.0.1:5432/tsd" }),
  /** Size of each process's PostgreSQL pool. */
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, default: 10 }),
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
  /** How long one anchor job waits for its transaction before retrying later. */
  ANCHOR_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 120_000 }),
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
  /** Most leaves in one batch; this many waiting deposits trigger a seal at once. */
  BATCH_MAX: Type.Integer({ minimum: 1, maximum: 4_000_000, default: 100_000 }),
  /** Most items in one bulk deposit request. */
  BULK_MAX: Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 }),
  /** How often the sweeper re-drives work that a lost job left behind. */
  SWEEP_INTERVAL_MS: Type.Integer({ minimum: 100, default: 10_000 }),
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
  return { ...value, dataDir: resolve(value.DATA_DIR) };
}

/**
 * DATA_DIR alone, for commands that need nothing else (`tsd verify` on a court's machine must
 * not fail over the service's other variables).
 */
export function dataDirFrom(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.DATA_DIR || "./data");
}
