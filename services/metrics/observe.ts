import type { JsonRpcProvider } from "ethers";
import type { Db } from "../db/pool";
import { metrics } from "./metrics";

// Worker-side observations that need a look at what a job recorded: how long a batch waited
// for its anchor, what its transaction cost, how many certificates a batch made. A failure
// here is only a missing sample: it never fails the job.

/** Anchoring latency and gas of batches whose anchor was just recorded. */
export async function observeAnchored(db: Db, provider: JsonRpcProvider, batchIds: number[]): Promise<void> {
  if (batchIds.length === 0) return;
  try {
    const { rows } = await db.query<{ seconds: number; tx: string }>(
      `SELECT extract(epoch FROM anchored_at - sealed_at)::float8 AS seconds, '0x' || encode(tx_hash, 'hex') AS tx
         FROM batches WHERE id = ANY($1::bigint[]) AND anchored_at IS NOT NULL`,
      [batchIds],
    );
    for (const r of rows) {
      metrics.anchoringSeconds.observe(Math.max(0, r.seconds));
      const receipt = await provider.getTransactionReceipt(r.tx);
      if (receipt) metrics.anchorGas.observe(Number(receipt.gasUsed));
    }
  } catch {
    // a sample lost, nothing more
  }
}

/** Certificates a batch made once attested: one per leaf. */
export async function observeCertified(db: Db, batchId: number): Promise<void> {
  try {
    const { rows } = await db.query<{ size: number }>("SELECT tree_size AS size FROM batches WHERE id = $1", [
      batchId,
    ]);
    if (rows[0]) metrics.certificatesIssued.inc(rows[0].size);
  } catch {
    // a sample lost, nothing more
  }
}
