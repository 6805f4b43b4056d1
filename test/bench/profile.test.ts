import { placeOf, summarise, type CpuProfile } from "../../bench/profile";

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

test("placeOf: a package (scoped too), node's own modules, a folder of the repository, V8's pseudo-frames", () => {
  expect(placeOf(frame("parse", "file:///r/node_modules/fastify/lib/x.js"))).toBe("fastify");
  expect(placeOf(frame("f", "/r/node_modules/@fastify/rate-limit/index.js"))).toBe("@fastify/rate-limit");
  expect(placeOf(frame("f", "/r/node_modules/a/node_modules/pg-protocol/dist/parser.js"))).toBe(
    "pg-protocol",
  );
  expect(placeOf(frame("write", "node:internal/stream_base_commons"))).toBe("node:stream_base_commons");
  expect(placeOf(frame("emit", "node:events"))).toBe("node:events");
  expect(placeOf(frame("acceptDeposits", "file:///r/services/deposits/store.ts"))).toBe("services/deposits");
  expect(placeOf(frame("(garbage collector)", ""))).toBe("(garbage collector)");
  expect(placeOf(frame("hash", ""))).toBe("(native)");
  expect(placeOf(frame("f", "file:///elsewhere/x.js"))).toBe("other");
});

test("summarise: self time by place and by function, idle left out, shares of the busy time", () => {
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 100_000, // 100 ms over 10 hits: 10 ms a hit
    nodes: [
      { id: 1, callFrame: frame("(idle)", ""), hitCount: 5 },
      { id: 2, callFrame: frame("query", "/r/node_modules/pg/lib/client.js", 9), hitCount: 3 },
      { id: 3, callFrame: frame("query", "/r/node_modules/pg/lib/client.js", 9), hitCount: 0 },
      { id: 4, callFrame: frame("handler", "/r/services/deposits/routes.ts", 41), hitCount: 1 },
      { id: 5, callFrame: frame("(garbage collector)", ""), hitCount: 1 },
    ],
  };
  const s = summarise([profile, profile]);
  expect(s.busyMs).toBeCloseTo(100); // (3 + 1 + 1) hits × 10 ms, twice
  expect(s.byPlace.map((p) => [p.place, Math.round(p.share * 100)])).toEqual([
    ["pg", 60],
    ["services/deposits", 20],
    ["(garbage collector)", 20],
  ]);
  expect(s.byFunction[0]).toMatchObject({ fn: "query node_modules/pg/lib/client.js:10", place: "pg" });
  expect(s.byFunction[0]!.ms).toBeCloseTo(60);
  expect(summarise([profile], 1).byFunction).toHaveLength(1);
  expect(summarise([{ ...profile, nodes: [] }]).busyMs).toBe(0);
});
