import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Wallet } from "ethers";
import pg from "pg";
import { foundryBinary } from "../../services/chain/local-node";
import { EthersChainReader, createProvider, registryAt } from "../../services/chain/reader";
import { verifyCertificate, type Certificate } from "../../services/core";
import { PG_SERVER, REDIS_URL, eventually, freePort, uniqueName } from "../helpers/stack";
import { runCli, startProcess, type ServiceProcess } from "./processes";

// Issue 11's production path: the service pointed at an EVM node it does not start (an anvil
// this test starts on its own port, mining a block a second, stands in for the consortium
// network), the registry deployed and the roles granted by `tsd admin deploy` with keys from
// the environment and a file, CHAIN_CONFIRMATIONS=3. Deposits are certified only once their
// anchor block has 3 confirmations, and a rollback of 2 blocks changes no certificate.

jest.setTimeout(600_000);

const CHAIN_ID = 7001;
const dir = mkdtempSync(join(tmpdir(), "tsd-prod-"));
const dbName = uniqueName("tsd_prod");
const keys = {
  admin: Wallet.createRandom(),
  anchorer: Wallet.createRandom(),
  certifier: Wallet.createRandom(),
};
let node: ChildProcess;
let rpc: string;
let env: Record<string, string>;
let api: string;
let service: ServiceProcess | undefined;
let apiKey: string;
let owner: pg.Client;
let redis: Redis;
let anchorQueue: Queue;
const provider = () => createProvider(rpc, CHAIN_ID, 100);
let chain: ReturnType<typeof provider>;

async function rpcCall(method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(rpc, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function http(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, text: await res.text() };
}

async function deposit(): Promise<{ id: string; digest: string }> {
  const digest = randomBytes(32).toString("hex");
  const res = await http("POST", "/v1/deposits", { digest });
  expect(res.status).toBe(202);
  return { id: (JSON.parse(res.text) as { id: string }).id, digest };
}

async function certificateText(id: string): Promise<string> {
  return eventually(
    async () => {
      const res = await http("GET", `/v1/deposits/${id}/certificate`);
      return res.status === 200 ? res.text : undefined;
    },
    120_000,
    `certificate of ${id}`,
  );
}

async function status(id: string): Promise<string> {
  return (JSON.parse((await http("GET", `/v1/deposits/${id}`)).text) as { status: string }).status;
}

async function verify(cert: unknown, digest: string) {
  return verifyCertificate(cert, { chain: new EthersChainReader(chain), digest });
}

async function anchorPasses(passes: number): Promise<void> {
  const start = (await anchorQueue.getJobCounts("completed")).completed ?? 0;
  await eventually(
    async () =>
      ((await anchorQueue.getJobCounts("completed")).completed ?? 0) >= start + passes ? true : undefined,
    60_000,
    `${passes} anchor passes`,
  );
}

/** The deposit's batch once its anchoring transaction is recorded and in flight. */
async function inFlight(id: string): Promise<{ batch: number; txHash: string }> {
  return eventually(
    async () => {
      const { rows } = await owner.query<{ batch_id: string; tx: string }>(
        `SELECT a.batch_id, '0x' || encode(a.tx_hash, 'hex') AS tx FROM anchor_attempts a
           JOIN proofs p ON p.batch_id = a.batch_id JOIN deposits d ON d.seq = p.deposit_seq
          WHERE d.id = $1 AND a.state = 'sent'`,
        [id],
      );
      if (!rows[0]) return undefined;
      // The attempt is recorded before it is sent: wait until the node has it, or a block
      // mined now would not hold it.
      const known = await rpcCall("eth_getTransactionByHash", [rows[0].tx]);
      return known ? { batch: Number(rows[0].batch_id), txHash: rows[0].tx } : undefined;
    },
    60_000,
    `the anchoring transaction of ${id}, in the node's pool`,
  );
}

async function head(): Promise<number> {
  return Number(BigInt((await rpcCall("eth_blockNumber")) as string));
}

beforeAll(async () => {
  const port = await freePort();
  rpc = `http://127.0.0.1:${await freePort()}`;
  node = spawn(
    foundryBinary("anvil"),
    [
      "--host",
      "127.0.0.1",
      "--port",
      new URL(rpc).port,
      "--chain-id",
      String(CHAIN_ID),
      "--block-time",
      "1",
      "--silent",
    ],
    { stdio: "ignore" },
  );
  await eventually(
    async () => ((await rpcCall("eth_chainId").catch(() => undefined)) ? true : undefined),
    30_000,
    "the external node",
  );
  chain = provider();
  // The network's operator funds the platform's accounts (here: the node's own faucet).
  for (const key of [keys.admin, keys.anchorer])
    await rpcCall("anvil_setBalance", [key.address, "0x56BC75E2D63100000"]);

  const dataDir = join(dir, "data");
  // the certifier key from a file (0600), the other two from the environment
  mkdirSync(join(dataDir, "keys"), { recursive: true, mode: 0o700 });
  writeFileSync(join(dataDir, "keys", "certifier.key"), `${keys.certifier.privateKey}\n`, { mode: 0o600 });
  env = {
    DATA_DIR: dataDir,
    DATABASE_URL: `${PG_SERVER}/${dbName}`,
    REDIS_URL,
    REDIS_PREFIX: uniqueName("tsdprod"),
    PORT: String(port),
    CHAIN_RPC_URL: rpc,
    CHAIN_CONFIRMATIONS: "3",
    LOCAL_CHAIN_PORT: String(await freePort()),
    ANCHORER_PRIVATE_KEY: keys.anchorer.privateKey,
    SEAL_INTERVAL_MS: "300",
    // A network's block times may run behind this machine's clock (anvil's interval mining
    // under load does): the seal leaves the last 2 s for the next batch (docs/operating.md).
    SEAL_MARGIN_MS: "2000",
    SWEEP_INTERVAL_MS: "1000",
    LOG_LEVEL: "info",
    TSD_ACTOR: "operator chen",
  };
  api = `http://127.0.0.1:${port}`;
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  anchorQueue = new Queue("anchor", { connection: redis, prefix: env.REDIS_PREFIX });
});

afterAll(async () => {
  if (process.env.TSD_TEST_DUMP)
    writeFileSync(
      process.env.TSD_TEST_DUMP,
      service
        ?.logs()
        .map((l) => JSON.stringify(l))
        .join("\n") ?? "",
    );
  await service?.stop();
  await owner?.end();
  chain?.destroy();
  await anchorQueue?.obliterate({ force: true }).catch(() => undefined);
  await anchorQueue?.close();
  const left = await redis.keys(`${env.REDIS_PREFIX}:*`);
  if (left.length > 0) await redis.del(...left);
  await redis.quit();
  node?.kill("SIGTERM");
  const pgAdmin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await pgAdmin.connect();
  await pgAdmin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
  await pgAdmin.end();
  rmSync(dir, { recursive: true, force: true });
});

test("tsd admin deploy: refuses without the admin key (never generates one), then deploys and grants the roles", async () => {
  expect((await runCli(["admin", "migrate", "--create-database"], env)).code).toBe(0);
  owner = new pg.Client({ connectionString: env.DATABASE_URL });
  await owner.connect();

  const refused = await runCli(["admin", "deploy"], env);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toContain("no admin key: set ADMIN_PRIVATE_KEY");
  expect(existsSync(join(env.DATA_DIR!, "keys", "admin.key"))).toBe(false);
  expect(existsSync(join(env.DATA_DIR!, "deployment.json"))).toBe(false);

  const deployed = await runCli(["admin", "deploy", "--json"], {
    ...env,
    ADMIN_PRIVATE_KEY: keys.admin.privateKey,
  });
  expect(deployed.stderr).toBe("");
  expect(deployed.code).toBe(0);
  const out = JSON.parse(deployed.stdout) as { registry: string; chainId: number; deployed: boolean };
  expect(out).toMatchObject({
    chainId: CHAIN_ID,
    deployed: true,
    anchorer: keys.anchorer.address,
    certifier: keys.certifier.address,
  });
  expect(JSON.parse(readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8"))).toMatchObject({
    chainId: CHAIN_ID,
    registry: out.registry,
    rpcUrl: rpc,
  });
  const registry = registryAt(out.registry, chain);
  const role = (await registry.getFunction("ANCHORER_ROLE")()) as string;
  expect(await registry.getFunction("hasRole")(role, keys.anchorer.address)).toBe(true);
  const [since, until] = (await registry.getFunction("certifier")(keys.certifier.address)) as bigint[];
  expect(since).toBeGreaterThan(0n);
  expect(until).toBe(0n);
  const { rows } = await owner.query(
    "SELECT actor, action, subject, details FROM audit WHERE action = 'registry.deploy'",
  );
  expect(rows).toEqual([
    expect.objectContaining({
      actor: "operator chen",
      subject: out.registry,
      details: expect.objectContaining({ chainId: CHAIN_ID, deployed: true, admin: keys.admin.address }),
    }),
  ]);
});

test("the service uses the node it is given: it starts no chain and deploys nothing", async () => {
  service = startProcess("services/main.ts", env); // no admin key: the roles are granted already
  await service.waitForLog("tsd is up");
  const messages = service.logs().map((l) => l.msg);
  expect(messages).not.toContain("local chain started");
  expect(messages).not.toContain("registry deployed");
  await expect(
    fetch(`http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`, { method: "POST", body: "{}" }),
  ).rejects.toThrow();
  const created = await runCli(
    [
      "admin",
      "tenant",
      "create",
      "--name",
      "Consortium Co.",
      "--depositor",
      "uscc:91310115MA1K4E2E4D",
      "--json",
    ],
    env,
  );
  expect(created.code).toBe(0);
  ({ apiKey } = JSON.parse(created.stdout) as { apiKey: string });
});

test("a deposit is certified only once its anchor block has 3 confirmations", async () => {
  await rpcCall("evm_setIntervalMining", [0]); // the network holds still; the test mines
  try {
    const d = await deposit();
    const { txHash } = await inFlight(d.id);
    await rpcCall("evm_mine");
    const mined = (await rpcCall("eth_getTransactionReceipt", [txHash])) as { blockNumber: string } | null;
    expect(mined).not.toBeNull();
    const block = Number(BigInt(mined!.blockNumber));
    expect(await head()).toBe(block); // 1 confirmation

    for (let confirmations = 1; confirmations < 3; confirmations++) {
      await anchorPasses(3);
      expect(await status(d.id)).toBe("batched");
      const early = await http("GET", `/v1/deposits/${d.id}/certificate`);
      expect(early.status).toBe(409);
      expect(JSON.parse(early.text)).toMatchObject({ error: { code: "CERTIFICATE_NOT_READY" } });
      await rpcCall("evm_mine");
    }
    expect(await head()).toBe(block + 2); // 3 confirmations
    const cert = JSON.parse(await certificateText(d.id)) as Certificate;
    expect(cert.anchor).toMatchObject({ chainId: CHAIN_ID, blockNumber: block, txHash });
    expect((await verify(cert, d.digest)).outcome).toBe("VALID");
    const recorded = await owner.query<{ n: string }>(
      "SELECT count(*) AS n FROM batches WHERE block_number IS NOT NULL AND block_number > $1",
      [(await head()) - 2],
    );
    expect(Number(recorded.rows[0]!.n)).toBe(0); // nothing recorded with fewer than 3 confirmations
  } finally {
    await rpcCall("evm_setIntervalMining", [1]);
  }
});

test("a rollback of 2 blocks (fewer than the confirmations) changes no certificate", async () => {
  // certificates issued while the network runs, kept as fetched
  const issued: { id: string; digest: string; text: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const d = await deposit();
    issued.push({ ...d, text: await certificateText(d.id) });
  }
  const { rows: all } = await owner.query<{ id: string }>("SELECT id FROM deposits ORDER BY seq");
  for (const { id } of all.filter((r) => !issued.some((d) => d.id === r.id))) {
    const text = await certificateText(id);
    const { digest } = (JSON.parse(text) as Certificate).deposit;
    issued.push({ id, digest, text });
  }

  // an anchoring transaction in the newest block when the rollback comes
  await rpcCall("evm_setIntervalMining", [0]);
  let removed: string[];
  const late = await deposit();
  try {
    const { txHash } = await inFlight(late.id);
    await rpcCall("evm_mine");
    const top = await head();
    expect((await rpcCall("eth_getTransactionReceipt", [txHash])) as unknown).not.toBeNull();
    removed = await Promise.all(
      [top - 1, top].map(
        async (n) =>
          ((await rpcCall("eth_getBlockByNumber", [`0x${n.toString(16)}`, false])) as { hash: string }).hash,
      ),
    );
    await rpcCall("anvil_reorg", [2, []]);
    expect(await head()).toBe(top);
    const now = await Promise.all(
      [top - 1, top].map(
        async (n) =>
          ((await rpcCall("eth_getBlockByNumber", [`0x${n.toString(16)}`, false])) as { hash: string }).hash,
      ),
    );
    expect(now.filter((h) => removed.includes(h))).toEqual([]); // both blocks replaced
    expect(await rpcCall("eth_getTransactionReceipt", [txHash])).toBeNull(); // the anchor went with them
    // anvil_reorg gives the replacing blocks the old blocks' times, and the blocks after them
    // count on from there, seconds behind; a real network's new blocks carry the time they
    // are made at. Put the node's clock back in step with the world.
    await rpcCall("evm_setNextBlockTimestamp", [Math.ceil(Date.now() / 1000)]);
  } finally {
    await rpcCall("evm_setIntervalMining", [1]);
  }

  // the service sends the lost transaction again; it is certified on a block that stays
  const lateCert = JSON.parse(await certificateText(late.id)) as Certificate;
  expect(removed).not.toContain(lateCert.anchor.blockHash);
  expect((await verify(lateCert, late.digest)).outcome).toBe("VALID");
  // and every certificate issued before is served byte for byte as it was, and VALID
  for (const d of issued) {
    const again = await http("GET", `/v1/deposits/${d.id}/certificate`);
    expect(again.status).toBe(200);
    expect(again.text).toBe(d.text);
    expect((await verify(JSON.parse(d.text), d.digest)).outcome).toBe("VALID");
  }
  // no attestation, current or withdrawn, was ever signed for a block the rollback removed
  const { rows: hashes } = await owner.query<{ hash: string }>(
    "SELECT '0x' || encode(block_hash, 'hex') AS hash FROM attestations",
  );
  expect(hashes.filter((h) => removed.includes(h.hash))).toEqual([]);
  const { rows: withdrawn } = await owner.query("SELECT 1 FROM attestations WHERE NOT current");
  expect(withdrawn).toEqual([]);
});
