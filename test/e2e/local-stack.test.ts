import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Interface, JsonRpcProvider } from "ethers";
import pg from "pg";
import type { Certificate } from "../../services/core";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { foundryBinary } from "../../services/chain/local-node";
import { VERIFYING_GUIDE, codeBlocks, guideScript } from "../helpers/guide";
import { PG_SERVER, REDIS_URL, eventually, freePort, uniqueName } from "../helpers/stack";
import { run, runCli, runOneFileVerifier, startProcess, type ServiceProcess } from "./processes";

// Issue 3's "done when", as an operator and a court would do it: `npm start`'s entry point on
// its local defaults (anvil started under DATA_DIR, registry deployed), deposits over HTTP,
// `tsd verify`, generic tools, a restart, and a second worker process.

jest.setTimeout(180_000);

const dir = mkdtempSync(join(tmpdir(), "tsd-e2e-"));
const dbName = uniqueName("tsd_e2e");
let env: Record<string, string>;
let api: string;
let service: ServiceProcess | undefined;
let apiKey: string;
const deposits: { id: string; file: string; certFile: string }[] = [];

const cast = (args: string[]) => run(foundryBinary("cast"), args);
/** What docs/verifying.md's check-certificate.py prints for a record received after its block. */
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function http(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function certificateOf(id: string): Promise<Certificate | undefined> {
  const res = await http("GET", `/v1/deposits/${id}/certificate`);
  return res.status === 200 ? (res.body as unknown as Certificate) : undefined;
}

beforeAll(async () => {
  const port = await freePort();
  env = {
    DATA_DIR: join(dir, "data"),
    DATABASE_URL: `${PG_SERVER}/${dbName}`,
    REDIS_URL,
    REDIS_PREFIX: uniqueName("tsde2e"),
    PORT: String(port),
    LOCAL_CHAIN_PORT: String(await freePort()),
    SEAL_INTERVAL_MS: "500",
    SWEEP_INTERVAL_MS: "2000",
    LOG_LEVEL: "info",
  };
  api = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await service?.stop();
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

test("npm start's entry point brings the service up on a fresh database and data folder", async () => {
  service = startProcess("services/main.ts", env);
  await service.waitForLog("tsd is up");
  expect(service.logs().map((l) => l.msg)).toEqual(
    expect.arrayContaining([
      "database created",
      "local chain started",
      "registry deployed",
      "certifier key registered",
    ]),
  );
  const deployment = JSON.parse(readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8"));
  expect(deployment).toMatchObject({ chainId: 31337, rpcUrl: `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}` });
});

test("5 deposited files come back as certificates that `tsd verify` reports VALID", async () => {
  const created = await runCli(
    [
      "admin",
      "tenant",
      "create",
      "--name",
      "Acme Robotics",
      "--depositor",
      "uscc:91310115MA1K4E2E4D",
      "--json",
    ],
    env,
  );
  expect(created.code).toBe(0);
  ({ apiKey } = JSON.parse(created.stdout) as { apiKey: string });

  for (let i = 0; i < 5; i++) {
    const file = join(dir, `secret-${i}.bin`);
    writeFileSync(file, randomBytes(10_000 + i));
    const res = await http("POST", "/v1/deposits", {
      digest: sha256(readFileSync(file)),
      label: `formula ${i}`,
    });
    expect(res.status).toBe(202);
    deposits.push({ id: res.body.id as string, file, certFile: join(dir, `certificate-${i}.json`) });
  }
  for (const d of deposits) {
    const cert = await eventually(() => certificateOf(d.id), 30_000, `certificate of ${d.id}`);
    writeFileSync(d.certFile, JSON.stringify(cert, null, 2));
    const verified = await runCli([
      "verify",
      d.certFile,
      "--file",
      d.file,
      "--rpc",
      `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`,
    ]);
    expect(verified.stdout).toMatch(
      /^VALID {2}digest [0-9a-f]{64} was deposited by uscc:91310115MA1K4E2E4D no later than /,
    );
    expect(verified.code).toBe(0);
  }
});

test("one changed byte in a file gives DIGEST_MISMATCH (exit 1)", async () => {
  const { file, certFile } = deposits[0]!;
  const data = readFileSync(file);
  data[1234] = (data[1234] ?? 0) ^ 0x01;
  const changed = join(dir, "changed.bin");
  writeFileSync(changed, data);
  const verified = await runCli([
    "verify",
    certFile,
    "--file",
    changed,
    "--rpc",
    `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`,
  ]);
  expect(verified.stdout).toMatch(/^INVALID DIGEST_MISMATCH/);
  expect(verified.code).toBe(1);
});

test("a court pins the platform's registry: another one gives NOT_ANCHORED", async () => {
  const { file, certFile } = deposits[0]!;
  const rpc = `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`;
  const { registry } = JSON.parse(readFileSync(certFile, "utf8")).anchor as { registry: string };
  const pinned = await runCli(["verify", certFile, "--file", file, "--rpc", rpc, "--registry", registry]);
  expect(pinned.code).toBe(0);
  expect(pinned.stdout).toContain(`registry: ${registry}  (trusted, --registry)`);
  const other = await runCli([
    "verify",
    certFile,
    "--file",
    file,
    "--rpc",
    rpc,
    "--registry",
    `0x${"11".repeat(20)}`,
  ]);
  expect(other.stdout).toMatch(/^INVALID NOT_ANCHORED/);
  expect(other.code).toBe(1);
});

test("the certificates also verify with generic tools: sha256sum, Python, cast (docs/verifying.md)", async () => {
  const rpc = `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`;
  const checkCertificate = guideScript("check-certificate.py", join(dir, "guide"));
  const guideBlockLine = codeBlocks(readFileSync(VERIFYING_GUIDE, "utf8"))
    .flatMap((b) => b.code.split("\n"))
    .find((l) => l.startsWith("cast block ")) as string;
  expect(guideBlockLine).toContain("python3 -c");
  for (const d of deposits) {
    const cert = JSON.parse(readFileSync(d.certFile, "utf8")) as Certificate;
    // the file's digest
    const sum = await run("sha256sum", [d.file]);
    expect(sum.stdout.split(" ")[0]).toBe(cert.deposit.digest);
    // the record, the leaf, the audit path and the time rule: the court guide's Python, as printed
    const checked = await run("python3", [checkCertificate, d.certFile, d.file]);
    expect(checked.stdout).toContain(`computed root: ${cert.anchor.root}\n`);
    expect(checked.stdout.split("\n").filter((l) => l.startsWith("FAIL  "))).toEqual([]);
    expect(checked.code).toBe(0);
    // the EIP-712 attestation as it stands in the certificate
    const typedDataFile = `${d.certFile}.typed-data.json`;
    writeFileSync(typedDataFile, JSON.stringify(cert.attestation.typedData));
    const signed = await cast([
      "wallet",
      "verify",
      "--data",
      "--from-file",
      "--address",
      cert.attestation.signer,
      typedDataFile,
      cert.attestation.signature,
    ]);
    expect(signed.code).toBe(0);
    // the chain, through plain JSON-RPC
    expect((await cast(["chain-id", "--rpc-url", rpc])).stdout.trim()).toBe(String(cert.anchor.chainId));
    const anchorOf = await cast([
      "call",
      cert.anchor.registry,
      "anchorOf(bytes32)(uint64,uint64,uint64,uint64)",
      cert.anchor.root,
      "--json",
      "--rpc-url",
      rpc,
    ]);
    const [, blockNumber, treeSize, batch] = (JSON.parse(anchorOf.stdout) as string[]).map(Number);
    expect([blockNumber, treeSize, batch]).toEqual([
      cert.anchor.blockNumber,
      cert.proof.treeSize,
      cert.anchor.batch,
    ]);
    const block = JSON.parse(
      (await cast(["block", String(cert.anchor.blockNumber), "--json", "--rpc-url", rpc])).stdout,
    ) as {
      hash: string;
      timestamp: string;
    };
    expect(block.hash).toBe(cert.anchor.blockHash);
    expect(Number(block.timestamp)).toBe(cert.anchor.blockTimestamp);
    // the guide's own line for the block, with its placeholders filled in
    const blockLine = guideBlockLine
      .replace(/^cast /, `"${foundryBinary("cast")}" `)
      .replace("<anchor.blockNumber>", String(cert.anchor.blockNumber));
    const printed = spawnSync("sh", ["-c", blockLine], {
      env: { ...process.env, RPC: rpc },
      encoding: "utf8",
    });
    expect(printed.stdout).toBe(`${cert.anchor.blockHash} ${cert.anchor.blockTimestamp}\n`);
    const period = await cast([
      "call",
      cert.anchor.registry,
      "certifier(address)(uint64,uint64)",
      cert.attestation.signer,
      "--json",
      "--rpc-url",
      rpc,
    ]);
    const [since, until] = (JSON.parse(period.stdout) as string[]).map(Number);
    expect(since).toBeGreaterThan(0);
    expect(since).toBeLessThanOrEqual(cert.attestation.typedData.message.issuedAt);
    expect(until).toBe(0);
  }
});

test("`tsd certificate --pdf --out`: the JSON and the PDF that carries it; the one-file verifier says VALID", async () => {
  const { id, file } = deposits[1]!;
  const out = join(dir, "fetched");
  const fetched = await runCli(["certificate", id, "--pdf", "--out", out], {
    ...env,
    TSD_API_URL: api,
    TSD_API_KEY: apiKey,
  });
  expect(fetched).toMatchObject({ code: 0 });
  const json = readFileSync(join(out, `tsd-certificate-${id}.json`), "utf8");
  expect(json).toBe(
    await (
      await fetch(`${api}/v1/deposits/${id}/certificate`, { headers: { authorization: `Bearer ${apiKey}` } })
    ).text(),
  );
  const detached = join(out, "attached.json");
  expect(
    (await run("pdfdetach", ["-save", "1", "-o", detached, join(out, `tsd-certificate-${id}.pdf`)])).code,
  ).toBe(0);
  expect(readFileSync(detached, "utf8")).toBe(json);
  // the page and the verifier as the running service serves them
  const page = await fetch(`${api}/verify`);
  expect(page.status).toBe(200);
  expect(new URL(page.url).searchParams.get("rpc")).toBe(`http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`);
  const cjs = join(out, "tsd-verify.cjs");
  writeFileSync(cjs, Buffer.from(await (await fetch(`${api}/downloads/tsd-verify.cjs`)).arrayBuffer()));
  const verified = await runOneFileVerifier(out, [
    detached,
    "--file",
    file,
    "--rpc",
    `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`,
  ]);
  expect(verified.stdout).toMatch(/^VALID {2}/);
  expect(verified.code).toBe(0);
});

test("a restart keeps the chain and the data, and re-uses the registry", async () => {
  const deploymentBefore = readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8");
  expect(await service!.stop()).toBe(0);
  // anvil stopped too: nothing listens on its port
  await expect(fetch(`http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`, { method: "POST" })).rejects.toMatchObject({
    name: "TypeError",
    cause: { code: "ECONNREFUSED" },
  });

  service = startProcess("services/main.ts", env);
  await service.waitForLog("tsd is up");
  expect(service.logs().map((l) => l.msg)).not.toContain("registry deployed");
  expect(readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8")).toBe(deploymentBefore);

  // without --rpc, the CLI uses the local installation's node (DATA_DIR/deployment.json)
  for (const d of deposits) {
    const verified = await runCli(["verify", d.certFile, "--file", d.file], env);
    expect(verified.stdout).toMatch(/^VALID/);
    expect(verified.stdout).toMatch(/\(trusted, from .*deployment\.json\)/);
  }
  const listed = await http("GET", "/v1/deposits?limit=10");
  expect((listed.body.items as unknown[]).length).toBe(5);
  const again = await http("POST", "/v1/deposits", { digest: sha256(Buffer.from("after restart")) });
  await eventually(() => certificateOf(again.body.id as string), 30_000, "certificate after restart");
});

test("killed outright (SIGKILL), it starts again: the orphaned chain is stopped and taken over", async () => {
  service!.child.kill("SIGKILL");
  await service!.stop();
  // anvil runs in its own process group, so it outlived the kill and still holds the port: it
  // answers JSON-RPC as the local chain
  const { chainId } = JSON.parse(readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8")) as {
    chainId: number;
  };
  const orphan = await fetch(`http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
  });
  expect(orphan.status).toBe(200);
  expect(await orphan.json()).toEqual({ jsonrpc: "2.0", id: 1, result: `0x${chainId.toString(16)}` });
  service = startProcess("services/main.ts", env);
  await service.waitForLog("tsd is up");
  expect(service.logs().map((l) => l.msg)).toContain("stopping the local chain a previous run left behind");
  for (const d of deposits) {
    expect((await runCli(["verify", d.certFile, "--file", d.file], env)).stdout).toMatch(/^VALID/);
  }
});

test("a second worker process alongside never anchors a root twice", async () => {
  const second = startProcess("services/jobs/worker-process.ts", env);
  try {
    await second.waitForLog("workers started");
    const ids: string[] = [];
    for (let round = 0; round < 12; round++) {
      const items = Array.from({ length: 40 }, () => ({ digest: randomBytes(32).toString("hex") }));
      const res = await http("POST", "/v1/deposits/bulk", { items });
      ids.push(...(res.body.deposits as { id: string }[]).map((d) => d.id));
      await new Promise((r) => setTimeout(r, 150));
    }
    const count = async (query: string) =>
      ((await http("GET", `/v1/deposits?limit=1000${query}`)).body.items as unknown[]).length;
    const all = await count("");
    expect(all).toBe(ids.length + 6); // the 6 earlier deposits of this tenant, too
    const certified = async () => ((await count("&status=certified")) === all ? true : undefined);
    await eventually(certified, 60_000, "every deposit certified");
    const db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    try {
      const batches = await db.query<{ id: string; root: string; tx: string; state: string }>(
        "SELECT id, '0x' || encode(root, 'hex') AS root, '0x' || encode(tx_hash, 'hex') AS tx, state FROM batches ORDER BY id",
      );
      expect(batches.rows.length).toBeGreaterThan(1);
      expect(batches.rows.every((b) => b.state === "certified")).toBe(true);
      const attempts = await db.query<{ batch_id: string; mined: string; other: string }>(
        `SELECT batch_id, count(*) FILTER (WHERE state = 'mined') AS mined, count(*) FILTER (WHERE state <> 'mined') AS other
           FROM anchor_attempts GROUP BY batch_id`,
      );
      expect(attempts.rows.every((a) => Number(a.mined) === 1 && Number(a.other) === 0)).toBe(true);
      expect(attempts.rows.length).toBe(batches.rows.length);

      // The chain's own account: one RootAnchored per batch, each root once, from the recorded tx.
      const provider = new JsonRpcProvider(`http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`, undefined, {
        staticNetwork: true,
      });
      const iface = new Interface(REGISTRY_ABI);
      const { registry } = JSON.parse(readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8")) as {
        registry: string;
      };
      const logs = await provider.getLogs({
        address: registry,
        topics: [iface.getEvent("RootAnchored")!.topicHash],
        fromBlock: 0,
      });
      provider.destroy();
      const roots = logs.map((l) => l.topics[1]);
      expect(roots.sort()).toEqual(batches.rows.map((b) => b.root).sort());
      expect(logs.map((l) => l.transactionHash).sort()).toEqual(batches.rows.map((b) => b.tx).sort());
    } finally {
      await db.end();
    }
  } finally {
    expect(await second.stop()).toBe(0);
  }
});
