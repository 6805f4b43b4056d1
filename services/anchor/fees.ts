// Fees of anchoring transactions: pure arithmetic, so the policy is tested on its own. All
// values are wei per gas.

/** A transaction's fee fields: EIP-1559 (type 2) or legacy (type 0). */
export type Fees =
  { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

/** What a node says fees are now (ethers' FeeData). */
export interface NodeFees {
  maxFeePerGas: bigint | null;
  maxPriorityFeePerGas: bigint | null;
  gasPrice: bigint | null;
}

/**
 * How much a replacement must raise every fee field: nodes refuse a replacement at the same
 * nonce unless it pays at least 10% more (geth's default price bump); 12.5% clears it with room
 * for integer rounding.
 */
export const BUMP_PERCENT = 12.5;

/** The fees of a new transaction: the node's, never above `cap` (ANCHOR_MAX_FEE_PER_GAS). */
export function initialFees(node: NodeFees, cap?: bigint): Fees {
  if (node.maxFeePerGas !== null) {
    const maxFee = capped(node.maxFeePerGas, cap);
    const priority = node.maxPriorityFeePerGas ?? 0n;
    return { type: 2, maxFeePerGas: maxFee, maxPriorityFeePerGas: priority > maxFee ? maxFee : priority };
  }
  return { type: 0, gasPrice: capped(node.gasPrice ?? 0n, cap) };
}

/**
 * The fees of a replacement for a transaction priced `old`: the same type as the old one (a
 * node compares like with like), each field raised by BUMP_PERCENT or to what the node asks
 * now, whichever is higher — so a replacement is never priced below the original, whatever
 * fields the node reports. "capped" when the raise would pass `cap`: the transaction waits
 * instead (a replacement under the bump would be refused anyway).
 */
export function replacementFees(old: Fees, node: NodeFees, cap?: bigint): Fees | "capped" {
  const nodeMax = node.maxFeePerGas ?? node.gasPrice ?? 0n;
  if (old.type === 0) {
    const price = max(bump(old.gasPrice), node.gasPrice ?? nodeMax);
    return cap !== undefined && price > cap ? "capped" : { type: 0, gasPrice: price };
  }
  const maxFee = max(bump(old.maxFeePerGas), nodeMax);
  const priority = max(bump(old.maxPriorityFeePerGas), node.maxPriorityFeePerGas ?? 0n);
  if (cap !== undefined && maxFee > cap) return "capped";
  return { type: 2, maxFeePerGas: maxFee, maxPriorityFeePerGas: priority > maxFee ? maxFee : priority };
}

/** `fee` raised by BUMP_PERCENT, rounded up, and by at least 1 wei. */
export function bump(fee: bigint): bigint {
  const raised = (fee * 1125n + 999n) / 1000n;
  return raised > fee ? raised : fee + 1n;
}

function capped(fee: bigint, cap?: bigint): bigint {
  return cap !== undefined && fee > cap ? cap : fee;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
