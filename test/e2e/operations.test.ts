import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Contract, Wallet, getAddress } from "ethers";
import pg from "pg";
import { REGISTRY_ABI } from "../../services/chain/abi";
import { EthersChainReader, createProvider } from "../../services/chain/reader";
import {
  attestationTypedData,
  signAttestation,
  verifyCertificate,
  type Certificate,
} from "../../services/core";
import { MAX_KEY_CACHE_MS } from "../../services/tenants/key-cache";
import { expectWithin } from "../helpers/api";
import { PG_SERVER, REDIS_URL, eventually, freePort, uniqueName } from "../helpers/stack";
import { runCli, startProcess, type ServiceProcess } from "./processes";

// Issue 11's operator CLI against the running service, as an operator uses them: `npm start`'s
// entry point on its local chain, `tsd admin …` as separate processes with the same
// environment, deposits over HTTP. Each change is checked in the audit table.

jest.setTimeout(600_000);

const dir = mkdtempSync(join(tmpdir(), "tsd-ops-"));
const dbName = uniqueName("tsd_ops");
let env: Record<string, string>;
let api: string;
let rpc: string;
let service: ServiceProcess | undefined;
let apiKey: string;
let tenantId: string;
let owner: pg.Client;
let redis: Redis;
let anchorQueue: Queue;

const admin = (args: string[]) => runCli(["admin", ...args], env);

async function http(method: string, path: string, body?: unknown, key = apiKey) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
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

/** The certificate's exact bytes as served, once the deposit is certified. */
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

async function verify(cert: unknown, digest?: string) {
  const provider = createProvider(rpc, 31337);
  try {
    return await verifyCertificate(cert, {
      chain: new EthersChainReader(provider),
      ...(digest ? { digest } : {}),
    });
  } finally {
    provider.destroy();
  }
}

/** The audit rows written after row `after`, oldest first. */
async function auditSince(after: number) {
  const { rows } = await owner.query<{
    id: string;
    actor: string;
    action: string;
    subject: string;
    details: Record<string, unknown>;
  }>("SELECT id, actor, action, subject, details FROM audit WHERE id > $1 ORDER BY id", [after]);
  return rows;
}

async function lastAuditId(): Promise<number> {
  const { rows } = await owner.query<{ id: string | null }>("SELECT max(id) AS id FROM audit");
  return Number(rows[0]?.id ?? 0);
}

/** Waits until the anchor sender has completed `passes` more passes (evidence that it looked). */
async function anchorPasses(passes: number): Promise<void> {
  const start = (await anchorQueue.getJobCounts("completed")).completed ?? 0;
  await eventually(
    async () =>
      ((await anchorQueue.getJobCounts("completed")).completed ?? 0) >= start + passes ? true : undefined,
    60_000,
    `${passes} anchor passes`,
  );
}

beforeAll(async () => {
  const port = await freePort();
  env = {
    DATA_DIR: join(dir, "data"),
    DATABASE_URL: `${PG_SERVER}/${dbName}`,
    REDIS_URL,
    REDIS_PREFIX: uniqueName("tsdops"),
    PORT: String(port),
    LOCAL_CHAIN_PORT: String(await freePort()),
    SEAL_INTERVAL_MS: "300",
    SWEEP_INTERVAL_MS: "1000",
    LOG_LEVEL: "info",
    TSD_ACTOR: "operator wang",
  };
  api = `http://127.0.0.1:${port}`;
  rpc = `http://127.0.0.1:${env.LOCAL_CHAIN_PORT}`;
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  anchorQueue = new Queue("anchor", { connection: redis, prefix: env.REDIS_PREFIX });
});

afterAll(async () => {
  await service?.stop();
  await owner?.end();
  await anchorQueue?.obliterate({ force: true }).catch(() => undefined);
  await anchorQueue?.close();
  const keys = await redis.keys(`${env.REDIS_PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  const pgAdmin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await pgAdmin.connect();
  await pgAdmin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
  await pgAdmin.end();
  rmSync(dir, { recursive: true, force: true });
});

test("no command creates the database unless asked: `migrate --create-database` does, audited", async () => {
  const refused = await admin(["tenant", "list"]);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toContain(`database "${dbName}" does not exist`);
  expect(refused.stderr).toContain("DATABASE_URL=");
  expect(refused.stderr).toContain("tsd admin migrate --create-database");
  const plain = await admin(["migrate"]);
  expect(plain.code).toBe(3);
  expect(plain.stderr).toContain("tsd admin migrate --create-database");

  const created = await admin(["migrate", "--create-database"]);
  expect(created.code).toBe(0);
  expect(created.stdout).toContain("applied 1765310000000_operator-controls");
  owner = new pg.Client({ connectionString: env.DATABASE_URL });
  await owner.connect();
  const rows = await auditSince(0);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ actor: "operator wang", action: "database.migrate", subject: dbName });
  expect(rows[0]!.details.applied).toContain("1765310000000_operator-controls");
  // nothing left to apply: nothing changed, no row
  expect((await admin(["migrate"])).stdout).toContain("up to date");
  expect(await auditSince(Number(rows[0]!.id))).toEqual([]);
});

test("the service starts on the migrated database; a tenant deposits", async () => {
  service = startProcess("services/main.ts", env);
  await service.waitForLog("tsd is up");
  const created = await admin([
    "tenant",
    "create",
    "--name",
    "Ops Co.",
    "--depositor",
    "uscc:91310115MA1K4E2E4D",
    "--json",
  ]);
  expect(created.code).toBe(0);
  ({ apiKey, tenantId } = JSON.parse(created.stdout) as { apiKey: string; tenantId: string });
});

const before: { id: string; digest: string; text?: string } = { id: "", digest: "" };

test("certifier rotate: certificates before and after are both VALID, with different signers; the retired key's later attestation is SIGNER_NOT_AUTHORISED", async () => {
  Object.assign(before, await deposit());
  before.text = await certificateText(before.id);
  const certBefore = JSON.parse(before.text) as Certificate;
  const oldKey = new Wallet(readFileSync(join(env.DATA_DIR!, "keys", "certifier.key"), "utf8").trim());
  expect(certBefore.attestation.signer).toBe(oldKey.address);
  const mark = await lastAuditId();

  const rotated = await admin(["certifier", "rotate", "--generate", "--json"]);
  expect(rotated.stderr).toBe("");
  expect(rotated.code).toBe(0);
  const { from, to, retired } = JSON.parse(rotated.stdout) as {
    from: string;
    to: string;
    retired: { until: number };
  };
  expect(from).toBe(oldKey.address);
  expect(to).not.toBe(from);
  const newKey = new Wallet(readFileSync(join(env.DATA_DIR!, "keys", "certifier.key"), "utf8").trim());
  expect(newKey.address).toBe(to);
  expect(await auditSince(mark)).toEqual([
    expect.objectContaining({ action: "certifier.add", subject: to, actor: "operator wang" }),
    expect.objectContaining({ action: "certifier.rotate", subject: to, details: { from, to } }),
    expect.objectContaining({ action: "certifier.retire", subject: from }),
  ]);

  // the running workers sign new attestations with the new key, without a restart
  const after = await deposit();
  const afterText = await certificateText(after.id);
  const certAfter = JSON.parse(afterText) as Certificate;
  expect(certAfter.attestation.signer).toBe(to);
  expect((await verify(certAfter, after.digest)).outcome).toBe("VALID");
  // the earlier certificate: served unchanged, still VALID
  expect((await http("GET", `/v1/deposits/${before.id}/certificate`)).text).toBe(before.text);
  expect((await verify(certBefore, before.digest)).outcome).toBe("VALID");

  // the retired key signing after its retirement: a certificate that does not verify
  const issuedAt = Math.max(retired.until, Math.floor(Date.now() / 1000));
  const typedData = attestationTypedData(certAfter.anchor, certAfter.proof.treeSize, issuedAt);
  const forged = { ...certAfter, attestation: { ...(await signAttestation(oldKey, typedData)), typedData } };
  const verdict = await verify(forged, after.digest);
  expect(verdict).toMatchObject({ outcome: "INVALID", code: "SIGNER_NOT_AUTHORISED" });

  // the registry as the API reports it
  const registry = JSON.parse((await http("GET", "/v1/registry")).text) as {
    certifiers: { address: string; active: boolean; until: number | null }[];
  };
  expect(registry.certifiers).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ address: from, active: false, until: retired.until }),
      expect.objectContaining({ address: to, active: true }),
    ]),
  );
  // retiring the key the workers sign with is refused: that is what rotate is for
  const again = await admin(["certifier", "retire", to]);
  expect(again.code).toBe(3);
  expect(again.stderr).toContain("tsd admin certifier rotate");

  // a key kept elsewhere (an HSM's): added, listed, retired, each audited
  const outside = Wallet.createRandom().address;
  const mark2 = await lastAuditId();
  expect((await admin(["certifier", "add", outside])).code).toBe(0);
  expect((await admin(["certifier", "retire", outside])).code).toBe(0);
  const listed = JSON.parse((await admin(["certifier", "list", "--json"])).stdout) as {
    address: string;
    until: number | null;
    inUse: boolean;
  }[];
  expect(listed.map((c) => [c.address, c.until === null, c.inUse])).toEqual([
    [from, false, false],
    [to, true, true],
    [outside, false, false],
  ]);
  expect((await auditSince(mark2)).map((r) => [r.action, r.subject])).toEqual([
    ["certifier.add", outside],
    ["certifier.retire", outside],
  ]);
});

test("pause stops anchoring (deposits stay batched; a transaction in flight is still recorded), redrive asks for the batch's next job, unpause resumes", async () => {
  const mark = await lastAuditId();
  // a transaction in flight when the pause comes: the chain holds still until then
  const provider = createProvider(rpc, 31337, 100);
  let flying: { id: string; digest: string };
  try {
    await provider.send("evm_setAutomine", [false]);
    flying = await deposit();
    await eventually(
      async () =>
        (
          await owner.query(
            `SELECT 1 FROM anchor_attempts a JOIN proofs p ON p.batch_id = a.batch_id
               JOIN deposits d ON d.seq = p.deposit_seq WHERE d.id = $1 AND a.state = 'sent'`,
            [flying.id],
          )
        ).rowCount === 1
          ? true
          : undefined,
      60_000,
      "a transaction in flight",
    );
    const paused = await admin(["pause", "--reason", "node maintenance"]);
    expect(paused.code).toBe(0);
  } finally {
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    provider.destroy();
  }
  const flown = await certificateText(flying.id);
  expect((await verify(JSON.parse(flown), flying.digest)).outcome).toBe("VALID");

  const d = await deposit();
  await eventually(async () => ((await status(d.id)) === "batched" ? true : undefined), 60_000, "sealed");
  const { rows } = await owner.query<{ batch_id: string }>(
    "SELECT p.batch_id FROM proofs p JOIN deposits d ON d.seq = p.deposit_seq WHERE d.id = $1",
    [d.id],
  );
  const batch = Number(rows[0]!.batch_id);
  // the sender has looked several times since (the sweeper asks every second), and sent nothing
  await anchorPasses(3);
  expect(await status(d.id)).toBe("batched");
  const attempts = await owner.query("SELECT 1 FROM anchor_attempts WHERE batch_id = $1", [batch]);
  expect(attempts.rowCount).toBe(0);

  const lag = await admin(["lag", "--json"]);
  expect(lag.code).toBe(0);
  const report = JSON.parse(lag.stdout) as {
    batches: { sealed: number };
    paused: { actor: string; reason: string } | null;
    anchorer: { address: string; balance: { wei: string } | null };
    lastAnchor: { batch: number } | null;
  };
  expect(report.batches.sealed).toBeGreaterThanOrEqual(1);
  expect(report.paused).toMatchObject({ actor: "operator wang", reason: "node maintenance" });
  expect(BigInt(report.anchorer.balance!.wei)).toBeGreaterThan(0n);
  expect(report.lastAnchor).not.toBeNull();
  const human = await admin(["lag"]);
  expect(human.stdout).toMatch(/anchoring {10}PAUSED since .* by operator wang: node maintenance/);

  // pausing what is paused changes nothing and writes nothing
  expect((await admin(["pause"])).stdout).toContain("paused already");
  const redriven = await admin(["redrive", String(batch)]);
  expect(redriven.code).toBe(0);
  expect(redriven.stdout).toContain(`batch ${batch} is sealed: its anchor job`);
  await anchorPasses(1);
  expect(await status(d.id)).toBe("batched");

  const resumed = await admin(["unpause"]);
  expect(resumed.code).toBe(0);
  const text = await certificateText(d.id);
  expect((await verify(JSON.parse(text), d.digest)).outcome).toBe("VALID");

  expect((await auditSince(mark)).map((r) => [r.action, r.subject])).toEqual([
    ["anchoring.pause", "anchoring"],
    ["batch.redrive", `batch:${batch}`],
    ["anchoring.unpause", "anchoring"],
  ]);
  const certified = await admin(["redrive", String(batch)]);
  expect(certified.code).toBe(3);
  expect(certified.stderr).toContain("BATCH_CERTIFIED");
  expect((await admin(["redrive", "424242"])).stderr).toContain("BATCH_NOT_FOUND");
});

test("tenant disable: its key gets 403 TENANT_DISABLED, its certificates stay verifiable; enable restores it", async () => {
  const mark = await lastAuditId();
  expect((await admin(["tenant", "disable", tenantId])).code).toBe(0);
  const disabled = Date.now();
  for (const [method, path, body] of [
    ["GET", "/v1/deposits", undefined],
    ["POST", "/v1/deposits", { digest: randomBytes(32).toString("hex") }],
  ] as const) {
    // API processes remember a key's tenant for up to a second (API_KEY_CACHE_MS)
    const res = await expectWithin(
      MAX_KEY_CACHE_MS,
      disabled,
      () => http(method, path, body),
      (r) => r.status !== 200 && r.status !== 202,
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: "TENANT_DISABLED" } });
  }
  // anyone can still verify what it was issued, at the service's public verify route too
  const checked = await fetch(`${api}/v1/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ certificate: JSON.parse(before.text!), digest: before.digest }),
  });
  expect(((await checked.json()) as { outcome: string }).outcome).toBe("VALID");
  expect((await admin(["tenant", "disable", tenantId])).stdout).toContain("disabled already");
  expect((await admin(["tenant", "list"])).stdout).toContain("(disabled)");

  expect((await admin(["tenant", "enable", tenantId])).code).toBe(0);
  const enabled = Date.now();
  const back = await expectWithin(
    MAX_KEY_CACHE_MS,
    enabled,
    () => http("GET", `/v1/deposits/${before.id}/certificate`),
    (r) => r.status !== 403,
  );
  expect(back.status).toBe(200);
  expect(
    (
      await expectWithin(
        MAX_KEY_CACHE_MS,
        enabled,
        () => http("GET", "/v1/deposits"),
        (r) => r.status !== 403,
      )
    ).status,
  ).toBe(200);
  expect(back.text).toBe(before.text);
  expect((await auditSince(mark)).map((r) => [r.action, r.subject])).toEqual([
    ["tenant.disable", tenantId],
    ["tenant.enable", tenantId],
  ]);
  expect((await admin(["tenant", "disable", "00000000-0000-4000-8000-000000000000"])).stderr).toContain(
    "TENANT_NOT_FOUND",
  );
});

test("anchorer rotate: the new key anchors, the old one's role is revoked, and its transaction in flight at the switch is still recorded", async () => {
  const provider = createProvider(rpc, 31337, 100);
  const { registry } = JSON.parse(readFileSync(join(env.DATA_DIR!, "deployment.json"), "utf8")) as {
    registry: string;
  };
  const roles = new Contract(registry, REGISTRY_ABI, provider);
  const role = (await roles.getFunction("ANCHORER_ROLE")()) as string;
  const hasRole = async (a: string) => (await roles.getFunction("hasRole")(role, a)) as boolean;
  try {
    // 1. a plain rotation: granted, switched, revoked, audited
    const first = new Wallet(readFileSync(join(env.DATA_DIR!, "keys", "anchorer.key"), "utf8").trim())
      .address;
    let mark = await lastAuditId();
    const rotated = await admin(["anchorer", "rotate", "--generate", "--json"]);
    expect(rotated.stderr).toBe("");
    expect(rotated.code).toBe(0);
    const one = JSON.parse(rotated.stdout) as { from: string; to: string; revoked: string | null };
    expect(one.from).toBe(first);
    expect(one.revoked).not.toBeNull();
    expect(await hasRole(first)).toBe(false);
    expect(await hasRole(one.to)).toBe(true);
    expect((await auditSince(mark)).map((r) => [r.action, r.subject])).toEqual([
      ["anchorer.grant", one.to],
      ["anchorer.rotate", one.to],
      ["anchorer.revoke", first],
    ]);
    const d1 = await deposit();
    await certificateText(d1.id);
    const sender = await owner.query<{ sender: string }>(
      `SELECT a.sender FROM anchor_attempts a JOIN proofs p ON p.batch_id = a.batch_id
         JOIN deposits d ON d.seq = p.deposit_seq WHERE d.id = $1 AND a.state = 'mined'`,
      [d1.id],
    );
    expect(getAddress(sender.rows[0]!.sender)).toBe(one.to);

    // 2. a transaction in flight under the old key when the switch happens. The new key got
    // its role beforehand (as a rotation interrupted after its grant leaves it), so that the
    // chain can stay still until the switch.
    const next = Wallet.createRandom();
    const nextFile = join(dir, "next-anchorer.key");
    writeFileSync(nextFile, `${next.privateKey}\n`, { mode: 0o600 });
    const adminKey = new Wallet(
      readFileSync(join(env.DATA_DIR!, "keys", "admin.key"), "utf8").trim(),
      provider,
    );
    await (
      await new Contract(registry, REGISTRY_ABI, adminKey).getFunction("grantRole")(role, next.address)
    ).wait();
    await provider.send("evm_setAutomine", [false]);
    const d2 = await deposit();
    const inFlight = await eventually(
      async () =>
        (
          await owner.query<{ batch_id: string; sender: string }>(
            `SELECT a.batch_id, a.sender FROM anchor_attempts a JOIN proofs p ON p.batch_id = a.batch_id
               JOIN deposits d ON d.seq = p.deposit_seq WHERE d.id = $1 AND a.state = 'sent'`,
            [d2.id],
          )
        ).rows[0],
      60_000,
      "the old key's transaction in flight",
    );
    expect(getAddress(inFlight.sender)).toBe(one.to);
    mark = await lastAuditId();
    const rotation = admin(["anchorer", "rotate", "--key-file", nextFile, "--json"]);
    // the switch is made while the old key's transaction is still unmined
    await eventually(
      async () => {
        const { rows } = await owner.query<{ address: string }>(
          "SELECT address FROM keys_in_use WHERE role = 'anchorer'",
        );
        return rows[0] && getAddress(rows[0].address) === next.address ? true : undefined;
      },
      60_000,
      "the switch",
    );
    const stillSent = await owner.query(
      "SELECT 1 FROM anchor_attempts WHERE batch_id = $1 AND state = 'sent'",
      [inFlight.batch_id],
    );
    expect(stillSent.rowCount).toBe(1);
    expect(await hasRole(one.to)).toBe(true); // not revoked while it has a transaction in flight
    // now the chain moves again: the old transaction is mined and recorded, then the role goes
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    const done = await rotation;
    expect(done.stderr).toBe("");
    expect(done.code).toBe(0);
    const two = JSON.parse(done.stdout) as { from: string; to: string; revoked: string | null };
    expect(two).toMatchObject({ from: one.to, to: next.address });
    expect(two.revoked).not.toBeNull();
    expect(await hasRole(one.to)).toBe(false);
    await certificateText(d2.id);
    const attempts = await owner.query<{ sender: string; state: string }>(
      "SELECT sender, state FROM anchor_attempts WHERE batch_id = $1 ORDER BY id",
      [inFlight.batch_id],
    );
    expect(attempts.rows.map((a) => [getAddress(a.sender), a.state])).toEqual([[one.to, "mined"]]);
    expect((await auditSince(mark)).map((r) => [r.action, r.subject])).toEqual([
      ["anchorer.rotate", next.address],
      ["anchorer.revoke", one.to],
    ]);
    // and the new key anchors what comes next
    const d3 = await deposit();
    await certificateText(d3.id);
    const latest = await owner.query<{ sender: string }>(
      `SELECT a.sender FROM anchor_attempts a JOIN proofs p ON p.batch_id = a.batch_id
         JOIN deposits d ON d.seq = p.deposit_seq WHERE d.id = $1 AND a.state = 'mined'`,
      [d3.id],
    );
    expect(getAddress(latest.rows[0]!.sender)).toBe(next.address);
  } finally {
    await provider.send("evm_setAutomine", [true]).catch(() => undefined);
    provider.destroy();
  }
});
