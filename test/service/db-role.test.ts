import { randomBytes } from "node:crypto";
import { acceptDeposits } from "../../services/deposits/store";
import { startTestStack, type TestStack } from "../helpers/stack";

// Deposits are written once by rule of the database: the service's role may insert and read
// them, never change or remove them; the same for the audit trail.

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ workers: false });
});
afterAll(async () => stack?.close());

test("the service works as tsd_service, with the API's statement timeout", async () => {
  const { rows } = await stack.conn.db.query<{ role: string; timeout: string }>(
    "SELECT current_user AS role, current_setting('statement_timeout') AS timeout",
  );
  expect(rows[0]).toEqual({ role: "tsd_service", timeout: "5s" });
  const worker = await stack.conn
    .workerDb()
    .query<{ timeout: string }>("SELECT current_setting('statement_timeout') AS timeout");
  expect(worker.rows[0]!.timeout).toBe("5min");
});

test("it may insert and read deposits, never update or delete them (nor the audit trail)", async () => {
  const tenant = await stack.tenant();
  const { deposits } = await acceptDeposits(
    stack.conn.db,
    tenant,
    [{ digest: randomBytes(32).toString("hex") }],
    {
      bulk: false,
    },
  );
  const id = deposits[0]!.id;
  for (const sql of [
    "UPDATE deposits SET label = 'changed' WHERE id = $1",
    "DELETE FROM deposits WHERE id = $1",
  ]) {
    await expect(stack.conn.db.query(sql, [id])).rejects.toMatchObject({ code: "42501" }); // insufficient_privilege
  }
  await expect(stack.conn.db.query("TRUNCATE deposits CASCADE")).rejects.toMatchObject({ code: "42501" });
  await stack.conn.db.query("INSERT INTO audit (actor, action) VALUES ('test', 'test')");
  await expect(stack.conn.db.query("DELETE FROM audit")).rejects.toMatchObject({ code: "42501" });
  await expect(stack.conn.db.query("UPDATE service_secrets SET value = value")).rejects.toMatchObject({
    code: "42501",
  });
  const { rows } = await stack.conn.db.query("SELECT label FROM deposits WHERE id = $1", [id]);
  expect(rows[0]).toEqual({ label: null });
});
