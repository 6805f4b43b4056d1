import type { BenchContext } from "./context";
import type { Measured, RowSpec } from "./report";

/** One benchmark: the rows it reports, and how to measure them. */
export interface BenchModule {
  rows: RowSpec[];
  /** Measures every row, by name. A row left out is reported as failed. */
  run(ctx: BenchContext): Promise<Record<string, Measured>>;
}
