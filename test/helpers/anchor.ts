import { anchorTick, type AnchorContext } from "../../services/anchor/anchor";

/** Runs sender passes, as the anchor queue does, until the batch is anchored or `passes` are spent. */
export async function anchorNow(ctx: AnchorContext, batchId: number, passes = 20): Promise<boolean> {
  for (let i = 0; i < passes; i++) {
    await anchorTick(ctx);
    const { rows } = await ctx.db.query<{ state: string }>("SELECT state FROM batches WHERE id = $1", [
      batchId,
    ]);
    if (rows[0]?.state !== "sealed") return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
