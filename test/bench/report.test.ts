import { randomBytes } from "node:crypto";
import { MerkleTree } from "../../services/core";
import { parseOptions, selected } from "../../bench/options";
import {
  auditPathBytesPerLeaf,
  failedRow,
  finishRow,
  formatNumber,
  percentile,
  ratioOf,
  renderMarkdown,
  sumOfAuditPathLengths,
  targetText,
  type Report,
  type RowSpec,
} from "../../bench/report";
import { outcomesOf } from "../../bench/rows/verif-cli";

// The benchmark's pure parts: how a row's ratio and "met" are computed and how the report
// reads. The measurements themselves run with `npm run bench`, never in jest.

const single: RowSpec = {
  name: "single: POST /v1/deposits, 64 connections",
  unit: "req/s",
  goal: {
    value: { op: ">=", limit: 5000 },
    ratio: { of: "value/baseline", op: ">=", limit: 0.1 },
    also: [{ key: "p99", unit: "ms", bound: { op: "<=", limit: 50 } }],
  },
};
const gas: RowSpec = {
  name: "gas per deposit",
  unit: "gas",
  goal: { value: { op: "<=", limit: 1 }, ratio: { of: "baseline/value", op: ">=", limit: 10_000 } },
};

describe("finishRow", () => {
  test("met when the figure, the ratio and every further check hold", () => {
    const row = finishRow(single, { value: 6000, baseline: 40_000, checks: { p99: 30 } });
    expect(row).toEqual({
      name: single.name,
      value: 6000,
      unit: "req/s",
      target: "≥ 5,000 req/s; ratio ≥ 0.1; p99 ≤ 50 ms",
      baseline: 40_000,
      ratio: 0.15,
      met: true,
      notes: "p99 30 ms",
    });
  });

  test.each([
    ["the figure misses", { value: 4999, baseline: 40_000, checks: { p99: 30 } }],
    ["the ratio misses", { value: 6000, baseline: 70_000, checks: { p99: 30 } }],
    ["the p99 misses", { value: 6000, baseline: 40_000, checks: { p99: 51 } }],
    ["the p99 is missing", { value: 6000, baseline: 40_000 }],
    ["the baseline is missing", { value: 6000, checks: { p99: 30 } }],
  ])("not met when %s", (_why, measured) => {
    expect(finishRow(single, measured).met).toBe(false);
  });

  test("a ratio read baseline over value (gas: how many times less)", () => {
    const row = finishRow(gas, { value: 0.5, baseline: 51_000 });
    expect(row.ratio).toBe(102_000);
    expect(row.met).toBe(true);
    expect(finishRow(gas, { value: 0.5, baseline: 4_000 }).met).toBe(false);
    expect(finishRow(gas, { value: 1.5, baseline: 51_000 }).met).toBe(false);
  });

  test("a row without a figure is never met and keeps its notes", () => {
    const row = finishRow(single, { value: null, notes: ["tsd verify DIR not available"] });
    expect(row).toMatchObject({ value: null, ratio: null, met: false });
    expect(row.notes).toContain("tsd verify DIR not available");
  });

  test("a baseline without a ratio goal still gives a ratio (informational), and only the figure decides", () => {
    const storage: RowSpec = { name: "storage", unit: "B", goal: { value: { op: "<=", limit: 100 } } };
    const row = finishRow(storage, { value: 80, baseline: 640 });
    expect(row).toMatchObject({ ratio: 0.125, met: true });
    expect(row).not.toHaveProperty("notes");
    expect(finishRow(storage, { value: 101, baseline: 640 }).met).toBe(false);
  });

  test("bounds are inclusive", () => {
    expect(finishRow(gas, { value: 1, baseline: 10_000 }).met).toBe(true);
  });
});

test("a failed row: no figure, not met, the error's first line in the notes", () => {
  expect(failedRow(gas, new Error("anvil did not answer\nstack"))).toEqual({
    name: "gas per deposit",
    value: null,
    unit: "gas",
    target: "≤ 1 gas; baseline/value ≥ 10,000",
    baseline: null,
    ratio: null,
    met: false,
    notes: "failed: anvil did not answer",
  });
});

test("ratioOf: none without a baseline or with a zero divisor", () => {
  expect(ratioOf(2, undefined, "value/baseline")).toBeNull();
  expect(ratioOf(2, 0, "value/baseline")).toBeNull();
  expect(ratioOf(0, 5, "baseline/value")).toBeNull();
  expect(ratioOf(null, 5, "baseline/value")).toBeNull();
  expect(ratioOf(3, 12, "value/baseline")).toBe(0.25);
  expect(ratioOf(3, 12, "baseline/value")).toBe(4);
});

test("targetText: a row with no goal says so", () => {
  expect(targetText({ name: "x", unit: "s", goal: {} })).toBe("—");
  expect(
    targetText({ name: "x", unit: "s", goal: { ratio: { of: "value/baseline", op: "<=", limit: 1.3 } } }),
  ).toBe("ratio ≤ 1.3");
});

test("formatNumber: three significant figures, thousands in full", () => {
  expect(formatNumber(null)).toBe("—");
  expect(formatNumber(0)).toBe("0");
  expect(formatNumber(0.0123456)).toBe("0.0123");
  expect(formatNumber(1.23456)).toBe("1.23");
  expect(formatNumber(123.456)).toBe("123");
  expect(formatNumber(51_653.4)).toBe("51,653");
});

test("renderMarkdown: one table line per row, misses in bold, pipes escaped", () => {
  const report: Report = {
    mode: "quick",
    startedAt: "2026-11-28T12:00:00.000Z",
    durationS: 91.6,
    environment: { node: "v20.20.2" },
    rows: [
      finishRow(gas, { value: 0.517, baseline: 51_653, notes: ["a | b"] }),
      finishRow(single, { value: 333, baseline: 5241, checks: { p99: 405 } }),
    ],
  };
  const md = renderMarkdown(report);
  const lines = md.split("\n");
  expect(lines[0]).toBe("# Benchmark report (quick)");
  expect(md).toContain("- node: v20.20.2");
  expect(lines).toContain("| row | value | unit | target | baseline | ratio | met | notes |");
  expect(lines).toContain(
    "| gas per deposit | 0.517 | gas | ≤ 1 gas; baseline/value ≥ 10,000 | 51,653 | 99,909 | yes | a \\| b |",
  );
  expect(lines).toContain(
    "| single: POST /v1/deposits, 64 connections | 333 | req/s | ≥ 5,000 req/s; ratio ≥ 0.1; p99 ≤ 50 ms | 5,241 | 0.0635 | **no** | p99 405 ms |",
  );
});

describe("the storage baseline: audit path bytes per leaf when every path is stored", () => {
  test("the sum of path lengths is MerkleTree's, for every size up to 70", () => {
    for (let n = 1; n <= 70; n++) {
      const tree = MerkleTree.fromLeafHashes(Array.from({ length: n }, () => randomBytes(32)));
      let sum = 0;
      for (let i = 0; i < n; i++) sum += tree.auditPath(i).length;
      expect(sumOfAuditPathLengths(n)).toBe(sum);
    }
  });

  test("a million leaves: between 19 and 20 nodes a leaf", () => {
    const perLeaf = auditPathBytesPerLeaf(1_000_000) / 32;
    expect(perLeaf).toBeGreaterThan(19);
    expect(perLeaf).toBeLessThan(20);
    expect(auditPathBytesPerLeaf(1024)).toBe(320);
  });

  test("no tree without leaves", () => {
    expect(() => sumOfAuditPathLengths(0)).toThrow(RangeError);
  });
});

test("percentile: nearest rank", () => {
  expect(percentile([], 95)).toBeNull();
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
  expect(percentile(samples, 95)).toBe(95);
  expect(percentile(samples, 50)).toBe(50);
  expect(percentile([7], 99)).toBe(7);
});

describe("options", () => {
  test("--quick and repeated --only", () => {
    expect(parseOptions([])).toEqual({ quick: false, only: [] });
    expect(parseOptions(["--quick", "--only", "Verif", "--only=hash"])).toEqual({
      quick: true,
      only: ["verif", "hash"],
    });
    expect(() => parseOptions(["--only"])).toThrow("--only needs");
    expect(() => parseOptions(["--fast"])).toThrow("unknown option --fast");
  });

  test("a module runs when any of its rows' names contains a substring", () => {
    const names = ["seal: a batch", "storage: proof bytes"];
    expect(selected(parseOptions([]), names)).toBe(true);
    expect(selected(parseOptions(["--only", "storage"]), names)).toBe(true);
    expect(selected(parseOptions(["--only", "lookup"]), names)).toBe(false);
  });
});

test("the CLI's outcomes: a JSON array or one object a line", () => {
  expect(outcomesOf('[{"outcome":"VALID"},{"outcome":"INVALID"}]')).toEqual(["VALID", "INVALID"]);
  expect(outcomesOf('{"outcome":"VALID"}\n{"outcome":"VALID"}\n')).toEqual(["VALID", "VALID"]);
  expect(outcomesOf("")).toEqual([]);
  expect(outcomesOf("not json\n")).toEqual([]);
});
