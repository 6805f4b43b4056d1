import pg from "pg";
import { createdMeanwhile, migrate } from "../../services/db/migrate";
import { PG_SERVER, silentLog, uniqueName } from "../helpers/stack";

// The processes of a fresh installation (or of an upgrade) start together, and each migrates
// before it serves: they must create the database once and apply each migration once, none
// of them failing. Before, three of four failed: two CREATE DATABASE at the same moment end in
// a unique violation (23505), not 42P04, and node-pg-migrate refuses a second runner
// ("Another migration is already running") instead of waiting.

test.each([
  ["42P04 (duplicate_database)", true, { code: "42P04" }],
  ["23505 (two creations at the same moment)", true, { code: "23505" }],
  ["3D000 (no such database)", false, { code: "3D000" }],
  ["42501 (no permission)", false, { code: "42501" }],
  ["no code", false, new Error("connection refused")],
  ["not an error", false, null],
] as const)("CREATE DATABASE failing with %s: created meanwhile, %s", (_, meanwhile, error) => {
  expect(createdMeanwhile(error)).toBe(meanwhile);
});

test("four processes migrating a database that does not exist yet: all succeed, each migration applied once", async () => {
  const name = uniqueName("tsd_together");
  const url = `${PG_SERVER}/${name}`;
  try {
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => migrate(url, silentLog)));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client
      .query<{ name: string; n: number }>("SELECT name, count(*)::int AS n FROM pgmigrations GROUP BY name")
      .finally(() => client.end());
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  } finally {
    const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  }
});
