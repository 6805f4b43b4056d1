import fc from "fast-check";
import { BUMP_PERCENT, bump, initialFees, replacementFees, type Fees } from "../../services/anchor/fees";

// The fee policy of anchoring transactions, on its own.

const gwei = (n: number) => BigInt(Math.round(n * 1e9));
const eip1559 = (maxFee: number, priority: number) => ({
  maxFeePerGas: gwei(maxFee),
  maxPriorityFeePerGas: gwei(priority),
  gasPrice: gwei(maxFee),
});
const legacy = (price: number) => ({ maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: gwei(price) });

describe("initialFees", () => {
  test("the node's EIP-1559 fees, or its gas price on a legacy chain", () => {
    expect(initialFees(eip1559(30, 2))).toEqual({
      type: 2,
      maxFeePerGas: gwei(30),
      maxPriorityFeePerGas: gwei(2),
    });
    expect(initialFees(legacy(5))).toEqual({ type: 0, gasPrice: gwei(5) });
    expect(initialFees({ maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: null })).toEqual({
      type: 0,
      gasPrice: 0n,
    });
  });

  test("never above the cap; the tip never above the fee", () => {
    expect(initialFees(eip1559(30, 2), gwei(20))).toEqual({
      type: 2,
      maxFeePerGas: gwei(20),
      maxPriorityFeePerGas: gwei(2),
    });
    expect(initialFees(eip1559(30, 25), gwei(20))).toMatchObject({ maxPriorityFeePerGas: gwei(20) });
    expect(initialFees(legacy(50), gwei(20))).toEqual({ type: 0, gasPrice: gwei(20) });
  });
});

describe("replacementFees", () => {
  test("each field raised by the bump, or to the node's fees when they rose more", () => {
    const old: Fees = { type: 2, maxFeePerGas: gwei(30), maxPriorityFeePerGas: gwei(2) };
    expect(replacementFees(old, eip1559(30, 2))).toEqual({
      type: 2,
      maxFeePerGas: gwei(33.75),
      maxPriorityFeePerGas: gwei(2.25),
    });
    expect(replacementFees(old, eip1559(60, 5))).toEqual({
      type: 2,
      maxFeePerGas: gwei(60),
      maxPriorityFeePerGas: gwei(5),
    });
  });

  test("the old type is kept, never priced below the original when the node reports the other kind", () => {
    const old0: Fees = { type: 0, gasPrice: gwei(40) };
    expect(replacementFees(old0, eip1559(10, 1))).toEqual({ type: 0, gasPrice: gwei(45) });
    const old2: Fees = { type: 2, maxFeePerGas: gwei(40), maxPriorityFeePerGas: gwei(3) };
    expect(replacementFees(old2, legacy(10))).toEqual({
      type: 2,
      maxFeePerGas: gwei(45),
      maxPriorityFeePerGas: gwei(3.375),
    });
  });

  test("past the cap: capped (the transaction waits), never a replacement under the bump", () => {
    const old: Fees = { type: 2, maxFeePerGas: gwei(30), maxPriorityFeePerGas: gwei(2) };
    expect(replacementFees(old, eip1559(30, 2), gwei(33))).toBe("capped");
    expect(replacementFees(old, eip1559(30, 2), gwei(34))).toMatchObject({ type: 2 });
    expect(replacementFees({ type: 0, gasPrice: gwei(30) }, legacy(30), gwei(33))).toBe("capped");
  });

  test("property: every field of a replacement is at least BUMP_PERCENT above the old one, never past the cap", () => {
    const wei = fc.bigInt({ min: 0n, max: 10n ** 15n });
    fc.assert(
      fc.property(wei, wei, wei, wei, fc.option(wei), fc.boolean(), (a, b, c, d, cap, typed) => {
        const old: Fees = typed
          ? { type: 2, maxFeePerGas: a, maxPriorityFeePerGas: b > a ? a : b }
          : { type: 0, gasPrice: a };
        const next = replacementFees(
          old,
          { maxFeePerGas: c, maxPriorityFeePerGas: d, gasPrice: c },
          cap ?? undefined,
        );
        if (next === "capped") return cap !== null;
        const enough = (o: bigint, n: bigint) => n * 1000n >= o * BigInt(1000 + BUMP_PERCENT * 10) && n > o;
        const within = (n: bigint) => cap === null || n <= cap;
        if (old.type === 0)
          return next.type === 0 && enough(old.gasPrice, next.gasPrice) && within(next.gasPrice);
        return (
          next.type === 2 &&
          enough(old.maxFeePerGas, next.maxFeePerGas) &&
          next.maxPriorityFeePerGas <= next.maxFeePerGas &&
          within(next.maxFeePerGas)
        );
      }),
    );
  });
});

test("bump rounds up and always raises", () => {
  expect([bump(0n), bump(1n), bump(8n), bump(1000n)]).toEqual([1n, 2n, 9n, 1125n]);
});
