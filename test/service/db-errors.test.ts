import { isConnectionError, isDataError } from "../../services/db/pool";

// Which PostgreSQL errors mean "the database is away" (503, retry) rather than a bad query.

test.each<[string, unknown, boolean]>([
  ["admin shutdown (pg_terminate_backend)", { code: "57P01" }, true],
  ["connection failure (class 08)", { code: "08006" }, true],
  ["refused", { code: "ECONNREFUSED" }, true],
  ["reset", { code: "ECONNRESET" }, true],
  ["pool timeout", new Error("timeout exceeded when trying to connect"), true],
  [
    "a client whose connection died",
    new Error("Client has encountered a connection error and is not queryable"),
    true,
  ],
  ["the connection dying under a query", new Error("Connection terminated unexpectedly"), true],
  ["a unique violation", { code: "23505" }, false],
  ["a syntax error", { code: "42601" }, false],
  ["an ordinary error", new Error("boom"), false],
])("%s", (_, error, expected) => {
  expect(isConnectionError(error)).toBe(expected);
});

test("data exceptions (class 22) are the caller's values", () => {
  expect(isDataError({ code: "22021" })).toBe(true);
  expect(isDataError({ code: "57P01" })).toBe(false);
  expect(isDataError(new Error("x"))).toBe(false);
});
