// The benchmark's report (issue 10): one row per figure, each beside its same-run baseline,
// written as bench/report.json and bench/report.md. Pure: no I/O, so the arithmetic that says
// "met" is unit-tested (test/bench/report.test.ts).

/** A limit a figure must stay within. */
export interface Bound {
  op: "<=" | ">=";
  limit: number;
}

/** How a row's ratio reads: the figure over its baseline, or the other way round. */
export type RatioOf = "value/baseline" | "baseline/value";

/** What a row must reach to count as met. */
export interface Goal {
  /** The figure itself. */
  value?: Bound;
  /** The figure against its same-run baseline. */
  ratio?: Bound & { of: RatioOf };
  /** Further figures the same measurement must keep within bounds (e.g. a p99 beside a rate). */
  also?: { key: string; unit: string; bound: Bound }[];
}

/** A row as a benchmark module declares it, before it runs. */
export interface RowSpec {
  /** Stable across modes: quick mode says its smaller sizes in the notes, not in the name. */
  name: string;
  unit: string;
  goal: Goal;
  /** How the ratio reads when there is a baseline but no ratio goal (default value/baseline). */
  ratioOf?: RatioOf;
}

/** What a row measured. */
export interface Measured {
  /** null: the row ran but has no figure (the notes say why); never met. */
  value: number | null;
  baseline?: number;
  /** Values for the goal's `also` checks, by key. */
  checks?: Record<string, number>;
  notes?: string[];
}

/** One row of bench/report.json: exactly this shape (notes optional). */
export interface ReportRow {
  name: string;
  value: number | null;
  unit: string;
  target: string;
  baseline: number | null;
  ratio: number | null;
  met: boolean;
  notes?: string;
}

export interface Report {
  mode: "full" | "quick";
  startedAt: string;
  durationS: number;
  environment: Record<string, string | number>;
  rows: ReportRow[];
}

const OP_TEXT: Record<Bound["op"], string> = { "<=": "≤", ">=": "≥" };

export function holds(value: number, bound: Bound): boolean {
  return bound.op === "<=" ? value <= bound.limit : value >= bound.limit;
}

/** The goal as the report prints it, e.g. "≥ 5000 req/s; ratio ≥ 0.1; p99 ≤ 50 ms". */
export function targetText(spec: RowSpec): string {
  const { goal, unit } = spec;
  const parts: string[] = [];
  if (goal.value) parts.push(`${OP_TEXT[goal.value.op]} ${formatNumber(goal.value.limit)} ${unit}`);
  if (goal.ratio) {
    parts.push(`${goal.ratio.of === "value/baseline" ? "ratio" : "baseline/value"} ${OP_TEXT[goal.ratio.op]} ${formatNumber(goal.ratio.limit)}`);
  }
  for (const a of goal.also ?? []) {
    parts.push(`${a.key} ${OP_TEXT[a.bound.op]} ${formatNumber(a.bound.limit)} ${a.unit}`);
  }
  return parts.length === 0 ? "—" : parts.join("; ");
}

/** The ratio of a figure and its baseline, as `of` reads it; null without both or with a zero divisor. */
export function ratioOf(value: number | null, baseline: number | undefined, of: RatioOf): number | null {
  if (value === null || baseline === undefined) return null;
  const [num, den] = of === "value/baseline" ? [value, baseline] : [baseline, value];
  if (den === 0 || !Number.isFinite(num) || !Number.isFinite(den)) return null;
  return num / den;
}

/** The finished row: ratio computed, "met" only when every bound of the goal holds. */
export function finishRow(spec: RowSpec, measured: Measured): ReportRow {
  const of = spec.goal.ratio?.of ?? spec.ratioOf ?? "value/baseline";
  const ratio = ratioOf(measured.value, measured.baseline, of);
  const notes = [...(measured.notes ?? [])];
  const value = measured.value;
  let met = value !== null && Number.isFinite(value);
  if (spec.goal.value && (value === null || !holds(value, spec.goal.value))) met = false;
  if (spec.goal.ratio) {
    if (ratio === null) {
      met = false;
      notes.push("no baseline measured: the ratio goal cannot be checked");
    } else if (!holds(ratio, spec.goal.ratio)) met = false;
  }
  for (const a of spec.goal.also ?? []) {
    const v = measured.checks?.[a.key];
    if (v === undefined) {
      met = false;
      notes.push(`${a.key} not measured`);
      continue;
    }
    notes.unshift(`${a.key} ${formatNumber(v)} ${a.unit}`);
    if (!holds(v, a.bound)) met = false;
  }
  return {
    name: spec.name,
    value,
    unit: spec.unit,
    target: targetText(spec),
    baseline: measured.baseline ?? null,
    ratio,
    met,
    ...(notes.length > 0 ? { notes: notes.join("; ") } : {}),
  };
}

/** The row of a module that failed to run: no figure, not met, the error in the notes. */
export function failedRow(spec: RowSpec, error: unknown): ReportRow {
  const message = error instanceof Error ? error.message : String(error);
  return {
    name: spec.name,
    value: null,
    unit: spec.unit,
    target: targetText(spec),
    baseline: null,
    ratio: null,
    met: false,
    notes: `failed: ${message.split("\n")[0]}`,
  };
}

/** Three significant figures, thousands separated; integers above 1000 in full. */
export function formatNumber(n: number | null): string {
  if (n === null) return "—";
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString("en-US");
  if (abs === 0) return "0";
  const digits = Math.max(0, 2 - Math.floor(Math.log10(abs)));
  return Number(n.toFixed(digits)).toString();
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** bench/report.md: a heading, the environment, and the table of rows. */
export function renderMarkdown(report: Report): string {
  const lines = [
    `# Benchmark report (${report.mode})`,
    "",
    `Started ${report.startedAt}, took ${formatNumber(report.durationS)} s.`,
    "",
    ...Object.entries(report.environment).map(([k, v]) => `- ${k}: ${v}`),
    "",
    "| row | value | unit | target | baseline | ratio | met | notes |",
    "|---|---:|---|---|---:|---:|---|---|",
    ...report.rows.map(
      (r) =>
        `| ${cell(r.name)} | ${formatNumber(r.value)} | ${cell(r.unit)} | ${cell(r.target)} | ${formatNumber(r.baseline)} | ${formatNumber(r.ratio)} | ${r.met ? "yes" : "**no**"} | ${cell(r.notes ?? "")} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

/**
 * Bytes of audit path per leaf that storing every leaf's path costs (the design before O(n)
 * proof storage): the sum of RFC 9162 audit path lengths of a tree of n leaves × 32 / n. A
 * tree of n > 1 leaves splits at the largest power of two k < n; each leaf's path is one node
 * longer than in its subtree.
 */
export function auditPathBytesPerLeaf(n: number): number {
  return (32 * sumOfAuditPathLengths(n)) / n;
}

export function sumOfAuditPathLengths(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError("a tree has at least one leaf");
  if ((n & (n - 1)) === 0 && n <= 2 ** 30) return n * Math.log2(n); // a perfect tree: log2 n each
  let k = 1;
  while (k * 2 < n) k *= 2;
  return n + sumOfAuditPathLengths(k) + sumOfAuditPathLengths(n - k);
}

/** The p-th percentile (0–100) of samples, nearest rank; null when there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}
