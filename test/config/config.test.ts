import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, corsOrigins, loadConfig, loadDotEnv } from "../../services/config";
import { createLogger } from "../../services/log";
import { appDeps, logSecrets, type Connections } from "../../services/runtime";

test("the local defaults need no variable at all", () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    PORT: 8080,
    DATABASE_URL: "postgres://postgres@127.0.0.1:5432/tsd",
    REDIS_URL: "redis://127.0.0.1:6379",
    SEAL_INTERVAL_MS: 2000,
    BATCH_MAX: 100_000,
    CHAIN_CONFIRMATIONS: 1,
  });
  expect(config.CHAIN_RPC_URL).toBeUndefined();
  expect(config.dataDir).toBe(resolve("./data"));
});

test("values are converted and empty ones count as unset", () => {
  expect(loadConfig({ PORT: "9000", CHAIN_RPC_URL: "", BATCH_MAX: "1000000" })).toMatchObject({
    PORT: 9000,
    BATCH_MAX: 1_000_000,
  });
  expect(loadConfig({ CHAIN_RPC_URL: "" }).CHAIN_RPC_URL).toBeUndefined();
});

test("every bad variable is reported at once, by name, without echoing secrets", () => {
  const secret = "0x1234";
  let error: unknown;
  try {
    loadConfig({ PORT: "eighty", LOG_LEVEL: "loud", ANCHORER_PRIVATE_KEY: secret, BATCH_MAX: "0" });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems.map((p) => p.split(":")[0]);
  expect(problems).toEqual(
    expect.arrayContaining(["PORT", "LOG_LEVEL", "ANCHORER_PRIVATE_KEY", "BATCH_MAX"]),
  );
  expect((error as Error).message).not.toContain(secret);
});

test("the deposit limits must let a full bulk request pass", () => {
  expect(() => loadConfig({ BULK_MAX: "500", RATE_LIMIT_DEPOSITS_PER_MINUTE: "400" })).toThrow(
    /RATE_LIMIT_DEPOSITS_PER_MINUTE: must be at least BULK_MAX \(500\)/,
  );
  expect(() => loadConfig({ BULK_MAX: "500", DEPOSIT_QUOTA_PER_DAY: "499" })).toThrow(
    /DEPOSIT_QUOTA_PER_DAY: must be at least BULK_MAX \(500\)/,
  );
  expect(
    loadConfig({ BULK_MAX: "500", RATE_LIMIT_DEPOSITS_PER_MINUTE: "500", DEPOSIT_QUOTA_PER_DAY: "500" }),
  ).toMatchObject({ BULK_MAX: 500, RATE_LIMIT_DEPOSITS_PER_MINUTE: 500, DEPOSIT_QUOTA_PER_DAY: 500 });
  expect(loadConfig({})).toMatchObject({
    RATE_LIMIT_REQUESTS_PER_MINUTE: 1200,
    RATE_LIMIT_DEPOSITS_PER_MINUTE: 100_000,
    DEPOSIT_QUOTA_PER_DAY: 1_000_000,
    RATE_LIMIT_VERIFY_PER_MINUTE: 300,
    RATE_LIMIT_PUBLIC_PER_MINUTE: 300,
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 300,
    VERIFY_CONCURRENCY: 1,
    VERIFY_QUEUE_MAX: 64,
  });
  expect(loadConfig({ TRUST_PROXY: "10.0.0.0/8, 192.168.1.1" }).TRUST_PROXY).toBe("10.0.0.0/8, 192.168.1.1");
  expect(() => loadConfig({ TRUST_PROXY: "true" })).toThrow(/TRUST_PROXY/);
});

test("unknown variables are ignored (the environment holds much else)", () => {
  expect(() => loadConfig({ HOME: "/root", PATH: "/bin" })).not.toThrow();
});

test("the verify page is offered the local chain's RPC URL, an external one's only when made public", () => {
  const deployment = {
    chainId: 31337,
    registry: `0x${"11".repeat(20)}`,
    rpcUrl: "http://127.0.0.1:8545",
    deployedAt: "",
  };
  const deps = (env: Record<string, string>) =>
    appDeps(loadConfig(env), deployment, {} as Connections, createLogger("silent"));
  expect(deps({}).publicRpcUrl).toBe("http://127.0.0.1:8545");
  expect(deps({}).publicUrl).toBe("http://127.0.0.1:8080");
  expect(deps({ CHAIN_RPC_URL: "https://node.example/key" }).publicRpcUrl).toBeUndefined();
  expect(
    deps({ CHAIN_RPC_URL: "https://node.example/key", PUBLIC_CHAIN_RPC_URL: "https://rpc.example" })
      .publicRpcUrl,
  ).toBe("https://rpc.example");
  expect(deps({ PUBLIC_URL: "https://tsd.example.cn" }).publicUrl).toBe("https://tsd.example.cn");
});

test("HTTP limits: defaults, and a headers timeout longer than the request's is refused", () => {
  expect(appDeps(loadConfig({}), deployment0, {} as Connections, createLogger("silent")).http).toEqual({
    requestTimeoutMs: 60_000,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5000,
    connectionTimeoutMs: 60_000,
    maxConnections: 1000,
    maxRequestsPerSocket: 0,
    maxHeaderBytes: 16_384,
  });
  expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: "5000", HTTP_HEADERS_TIMEOUT_MS: "6000" })).toThrow(
    /HTTP_HEADERS_TIMEOUT_MS/,
  );
  expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: "0" })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
});

test("CORS_ORIGINS: none by default; a comma-separated list of origins, nothing else", () => {
  expect(corsOrigins(loadConfig({}))).toEqual([]);
  expect(corsOrigins(loadConfig({ CORS_ORIGINS: "https://a.example, http://127.0.0.1:3000" }))).toEqual([
    "https://a.example",
    "http://127.0.0.1:3000",
  ]);
  for (const bad of ["*", "a.example", "https://a.example/", "https://a.example/app", "https://a.example,"]) {
    expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
  }
});

test("the chain RPC URL is a log secret when it is configured, or recorded and not a loopback node's", () => {
  expect(logSecrets(loadConfig({ DATA_DIR: "/nonexistent" }))).toEqual([]);
  expect(
    logSecrets(loadConfig({ DATA_DIR: "/nonexistent", CHAIN_RPC_URL: "https://node.example/v3/k" })),
  ).toEqual(["https://node.example/v3/k"]);
  // what an earlier `npm start` recorded, for `npm run start:api` without CHAIN_RPC_URL
  const dir = mkdtempSync(join(tmpdir(), "tsd-config-"));
  const record = (rpcUrl: string) =>
    writeFileSync(join(dir, "deployment.json"), JSON.stringify({ ...deployment0, rpcUrl }));
  record("https://node.example/v3/recorded");
  expect(logSecrets(loadConfig({ DATA_DIR: dir }))).toEqual(["https://node.example/v3/recorded"]);
  record("http://127.0.0.1:8545");
  expect(logSecrets(loadConfig({ DATA_DIR: dir }))).toEqual([]);
  rmSync(dir, { recursive: true });
});

const deployment0 = {
  chainId: 31337,
  registry: `0x${"11".repeat(20)}`,
  rpcUrl: "http://127.0.0.1:8545",
  deployedAt: "",
};

describe("loadDotEnv", () => {
  test("reads .env into the environment; a variable already set wins; no file, nothing read", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsd-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, "TSD_TEST_FROM_FILE=file\nTSD_TEST_BOTH=file\n# a comment\n");
    process.env.TSD_TEST_BOTH = "environment";
    try {
      expect(loadDotEnv(file)).toBe(file);
      expect(process.env.TSD_TEST_FROM_FILE).toBe("file");
      expect(process.env.TSD_TEST_BOTH).toBe("environment");
      expect(loadDotEnv(join(dir, "missing.env"))).toBeUndefined();
    } finally {
      delete process.env.TSD_TEST_FROM_FILE;
      delete process.env.TSD_TEST_BOTH;
    }
  });
});
