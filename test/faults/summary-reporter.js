// Prints the fault suite's summary once, after every test file ran: one row per case (the
// cases append them to a file named here, through test/faults/harness.ts's recordCase).
const { existsSync, readFileSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");

class FaultSummaryReporter {
  constructor() {
    // Set before any test worker starts, so every worker inherits it.
    this.file = join(tmpdir(), `tsd-fault-summary-${process.pid}-${Date.now()}.jsonl`);
    process.env.TSD_FAULT_SUMMARY = this.file;
  }

  onRunComplete() {
    if (!existsSync(this.file)) return;
    const rows = readFileSync(this.file, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line));
    rmSync(this.file, { force: true });
    if (rows.length === 0) return;
    const columns = [
      ["case", (r) => r.case],
      ["deposits", (r) => r.deposits],
      ["batches", (r) => r.batches],
      ["lost", (r) => r.lost],
      ["duplicated", (r) => r.duplicated],
      ["roots sent twice", (r) => r.sentTwice],
      ["verified", (r) => r.verified],
    ];
    const cells = rows.map((r) => columns.map(([, get]) => String(get(r))));
    const widths = columns.map(([name], i) => Math.max(name.length, ...cells.map((c) => c[i].length)));
    const line = (values) =>
      values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
    const total = (key) => rows.reduce((sum, r) => sum + r[key], 0);
    const ok = rows.every(
      (r) => r.lost === 0 && r.duplicated === 0 && r.sentTwice === 0 && r.verified === r.deposits,
    );
    process.stdout.write(
      [
        "",
        `Fault suite summary (${rows.length} cases)`,
        line(columns.map(([name]) => name)),
        line(widths.map((w) => "-".repeat(w))),
        ...cells.map(line),
        line(widths.map((w) => "-".repeat(w))),
        line([
          "all cases",
          String(total("deposits")),
          String(total("batches")),
          String(total("lost")),
          String(total("duplicated")),
          String(total("sentTwice")),
          String(total("verified")),
        ]),
        ok
          ? "every deposit answered 2xx certified once and VALID; no root sent twice"
          : "PROMISE BROKEN: see the rows above",
        "",
      ].join("\n") + "\n",
    );
  }
}

module.exports = FaultSummaryReporter;
