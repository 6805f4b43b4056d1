import { resolve } from "node:path";
import { ConfigError, loadConfig } from "../../services/config";

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

test("unknown variables are ignored (the environment holds much else)", () => {
  expect(() => loadConfig({ HOME: "/root", PATH: "/bin" })).not.toThrow();
});
