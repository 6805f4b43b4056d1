import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet, keccak256, type JsonRpcProvider } from "ethers";
import pino from "pino";
import { Redis } from "ioredis";
import { ensureDeployment, readDeployment, type Deployment } from "../../services/chain/deployment";
import { openProvider } from "../../services/chain/reader";
import { loadConfig } from "../../services/config";
import { checkRedisPolicy } from "../../services/redis-policy";
import { resolveDeployment } from "../../services/runtime";
import { startProcess } from "../e2e/processes";
import { startThrowawayRedis } from "../helpers/redis";
import { freshDatabase, REDIS_URL, silentLog, startTestChain } from "../helpers/stack";

// The service refuses to start on a Redis that may evict keys, and on a chain or registry other
// than the one deployment.json records. Real redis-servers of the test's own (the shared one's
// configuration is never touched) and a real anvil.

/** A logger whose lines the test reads. */
function capturingLog() {
  const lines: { msg?: string; level?: number }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe("Redis's maxmemory-policy", () => {
  test("anything but noeviction is refused, naming the setting; noeviction passes", async () => {
    const redis = await startThrowawayRedis(["--maxmemory-policy", "allkeys-lru"]);
    try {
      await expect(checkRedisPolicy(redis.url, silentLog)).rejects.toThrow(
        /maxmemory-policy allkeys-lru; tsd needs maxmemory-policy noeviction/,
      );
      const admin = new Redis(redis.url);
      await admin.config("SET", "maxmemory-policy", "volatile-ttl");
      await expect(checkRedisPolicy(redis.url, silentLog)).rejects.toThrow(/maxmemory-policy volatile-ttl/);
      await admin.config("SET", "maxmemory-policy", "noeviction");
      admin.disconnect();
      const { log, lines } = capturingLog();
      await expect(checkRedisPolicy(redis.url, log)).resolves.toBeUndefined();
      expect(lines.filter((l) => (l.level ?? 0) >= 40)).toEqual([]);
    } finally {
      await redis.stop();
    }
  });

  test("the shared test Redis passes (it must be noeviction, or BullMQ would lose jobs)", async () => {
    await expect(checkRedisPolicy(REDIS_URL, silentLog)).resolves.toBeUndefined();
  });

  test("CONFIG disabled (as on managed Redis): a warning, and start-up goes on", async () => {
    const redis = await startThrowawayRedis([
      "--maxmemory-policy",
      "allkeys-lru",
      "--rename-command",
      "CONFIG",
      "",
    ]);
    try {
      const { log, lines } = capturingLog();
      await expect(checkRedisPolicy(redis.url, log)).resolves.toBeUndefined();
      expect(lines.map((l) => l.msg)).toContain(
        "could not read Redis's maxmemory-policy (CONFIG is disabled): make sure it is noeviction",
      );
    } finally {
      await redis.stop();
    }
  });

  test("Redis unreachable: a warning, and start-up goes on (the API works without Redis)", async () => {
    const redis = await startThrowawayRedis();
    const url = redis.url;
    await redis.stop();
    const { log, lines } = capturingLog();
    await expect(checkRedisPolicy(url, log)).resolves.toBeUndefined();
    expect(lines.map((l) => l.msg)).toContain(
      "could not reach Redis (REDIS_URL) to check its maxmemory-policy; going on without it",
    );
  });

  test("the API process exits non-zero with the message", async () => {
    const redis = await startThrowawayRedis(["--maxmemory-policy", "allkeys-lru"]);
    try {
      const api = startProcess("services/api/server.ts", {
        REDIS_URL: redis.url,
        DATABASE_URL: "postgres://postgres@127.0.0.1:1/never-reached",
        LOG_LEVEL: "silent",
      });
      const { code, stderr } = await exitOf(api.child);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr).toMatch(/maxmemory-policy allkeys-lru; tsd needs maxmemory-policy noeviction/);
    } finally {
      await redis.stop();
    }
  });
});

describe("the chain and registry deployment.json records", () => {
  let chain: Awaited<ReturnType<typeof startTestChain>>;
  let provider: JsonRpcProvider;
  const admin = new Wallet(Wallet.createRandom().privateKey);
  const anchorer = Wallet.createRandom().address;
  const certifier = Wallet.createRandom().address;
  const file = () => join(chain.dir, "deployment.json");
  const ensure = () =>
    ensureDeployment({
      provider,
      rpcUrl: chain.rpcUrl,
      dataDir: chain.dir,
      admin,
      anchorer,
      certifier,
      local: true,
      log: silentLog,
    });
  const resolve = () => resolveDeployment(loadConfig({ DATA_DIR: chain.dir }));
  const rewrite = (change: (d: Deployment) => Deployment) =>
    writeFileSync(file(), JSON.stringify(change(readDeployment(chain.dir) as Deployment)));

  beforeAll(async () => {
    chain = await startTestChain();
    provider = await openProvider(chain.rpcUrl, 100);
  });
  afterAll(async () => {
    provider?.destroy();
    await chain?.stop();
    if (chain) rmSync(chain.dir, { recursive: true, force: true });
  });

  test("deploying records the registry's runtime code hash; every start checks it", async () => {
    const deployment = await ensure();
    const hash = keccak256(await provider.getCode(deployment.registry));
    expect(deployment.registryCodeHash).toBe(hash);
    expect(readDeployment(chain.dir)?.registryCodeHash).toBe(hash);
    expect((await ensure()).registry).toBe(deployment.registry); // re-used, not redeployed
    expect((await resolve()).registryCodeHash).toBe(hash);
  });

  test("an older deployment.json without the hash gets it on the first start (npm start, or the API's)", async () => {
    const hash = readDeployment(chain.dir)?.registryCodeHash;
    const { registryCodeHash: _drop, ...old } = readDeployment(chain.dir) as Deployment;
    writeFileSync(file(), JSON.stringify(old));
    await resolve();
    expect(readDeployment(chain.dir)?.registryCodeHash).toBe(hash);
    writeFileSync(file(), JSON.stringify(old));
    await ensure();
    expect(readDeployment(chain.dir)?.registryCodeHash).toBe(hash);
  });

  test("another chain id is refused, naming deployment.json and CHAIN_RPC_URL", async () => {
    const saved = readFileSync(file(), "utf8");
    try {
      rewrite((d) => ({ ...d, chainId: 1 }));
      const message =
        /deployment\.json records chain 1, but the chain node \(CHAIN_RPC_URL, or the local chain\) serves chain 31337/;
      await expect(ensure()).rejects.toThrow(message);
      await expect(resolve()).rejects.toThrow(message);
      await expect(
        ensureDeployment({
          provider,
          rpcUrl: chain.rpcUrl,
          dataDir: chain.dir,
          registryAddress: JSON.parse(saved).registry,
          anchorer,
          certifier,
          local: true,
          log: silentLog,
        }),
      ).rejects.toThrow(message);
    } finally {
      writeFileSync(file(), saved);
    }
  });

  test("other code at the registry's address is refused (another chain behind the id, or a reset)", async () => {
    const saved = readDeployment(chain.dir) as Deployment;
    const code = await provider.getCode(saved.registry);
    try {
      // The same address now holds something else: a chain reset and another contract there.
      await provider.send("anvil_setCode", [saved.registry, "0x6080604052600080fd"]);
      const message = new RegExp(
        `the registry ${saved.registry} on chain 31337 has other code than .*deployment\\.json records ` +
          `\\(registryCodeHash ${saved.registryCodeHash}, found 0x[0-9a-f]{64}\\): CHAIN_RPC_URL`,
      );
      await expect(resolve()).rejects.toThrow(message);
      await expect(ensure()).rejects.toThrow(message);
      expect(readDeployment(chain.dir)).toEqual(saved); // nothing rewritten
    } finally {
      await provider.send("anvil_setCode", [saved.registry, code]);
    }
    expect((await resolve()).registryCodeHash).toBe(saved.registryCodeHash);
  });

  test("the API process exits non-zero with the message", async () => {
    const saved = readFileSync(file(), "utf8");
    const database = await freshDatabase();
    try {
      rewrite((d) => ({ ...d, chainId: 5 }));
      const api = startProcess("services/api/server.ts", {
        DATA_DIR: chain.dir,
        DATABASE_URL: database.url,
        REDIS_URL,
        LOG_LEVEL: "silent",
      });
      const { code, stderr } = await exitOf(api.child);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr).toMatch(/deployment\.json records chain 5, but the chain node \(CHAIN_RPC_URL/);
    } finally {
      writeFileSync(file(), saved);
      await database.drop();
    }
  });
});

/** Waits for the process to exit by itself; its exit code and what it wrote to stderr. */
function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the process did not exit; stderr: ${stderr}`));
    }, 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
