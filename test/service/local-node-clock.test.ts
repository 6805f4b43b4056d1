import { clockTarget } from "../../services/chain/local-node";

// The clock given to the local anvil after every start (services/chain/local-node.ts): block
// times are whole seconds and must never come before the moment a block is made, or a batch's
// deposits of the second before would be newer than their anchor block (the time invariant).

const second = 1_800_000_000;

test.each([
  ["on a whole second", second * 1000, second - 5, second],
  ["just after a whole second: the next one", second * 1000 + 1, second - 5, second + 1],
  ["just before a whole second: that one", second * 1000 + 999, second - 5, second + 1],
  ["a latest block ahead of the clock: never back in time", second * 1000 + 500, second + 3, second + 3],
  ["a latest block in the same second", second * 1000 + 500, second + 1, second + 1],
] as const)("%s", (_, nowMs, latest, target) => {
  expect(clockTarget(nowMs, latest)).toBe(target);
});

test("never before the clock's own second, whatever the milliseconds", () => {
  for (let ms = 0; ms < 1000; ms += 7) {
    const t = clockTarget(second * 1000 + ms, 0);
    expect(t * 1000).toBeGreaterThanOrEqual(second * 1000 + ms);
    expect(t * 1000 - (second * 1000 + ms)).toBeLessThan(1000);
  }
});
