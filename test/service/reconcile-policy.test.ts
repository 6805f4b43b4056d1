import { judgeAnchor } from "../../services/anchor/reconcile";

// The reconciler's decision for one recorded anchor block, on its own (protocol.md section 12).

const H = `0x${"11".repeat(32)}`;
const OTHER = `0x${"22".repeat(32)}`;
const now = 1_800_000_000_000;

test.each([
  ["the recorded block", H, null, 0, "held"],
  ["the recorded block, after being missing", H, now - 5000, 60_000, "held"],
  ["another block at that height", OTHER, null, 60_000, "replaced"],
  ["another block even within the grace", OTHER, now - 1, 60_000, "replaced"],
  ["no block, first seen now, with a grace", null, null, 60_000, "missing"],
  ["no block, for less than the grace", null, now - 59_999, 60_000, "missing"],
  ["no block, for the whole grace", null, now - 60_000, 60_000, "lost"],
  ["no block on a chain that cannot lag (grace 0)", null, null, 0, "lost"],
] as const)("%s: %s", (_, canonical, missingSince, grace, finding) => {
  expect(judgeAnchor(H, canonical, missingSince, now, grace)).toBe(finding);
});
