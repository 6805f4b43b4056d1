import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

// The process's Prometheus series, one registry per process. Events are counted where they
// happen (API: deposits, errors, verify outcomes; workers: batches, anchors, certificates);
// the state every process shares — pending deposits, queue depths, the last anchor — is read
// from PostgreSQL and Redis when scraped (services/metrics/state.ts), so any one process's
// /metrics tells the whole installation's backlog. docs/operating.md lists each series.

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "tsd_" });

const SECONDS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export const metrics = {
  depositsAccepted: new Counter({
    name: "tsd_deposits_accepted_total",
    help: "Deposits answered 2xx and stored (a replayed Idempotency-Key counts once)",
    registers: [registry],
  }),
  errors: new Counter({
    name: "tsd_http_errors_total",
    help: "API answers with an error, by catalogue code and status",
    labelNames: ["code", "status"] as const,
    registers: [registry],
  }),
  verifyOutcomes: new Counter({
    name: "tsd_verify_outcomes_total",
    help: "POST /v1/verify verdicts, by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  batchesSealed: new Counter({
    name: "tsd_batches_sealed_total",
    help: "Batches sealed by this process",
    registers: [registry],
  }),
  batchSize: new Histogram({
    name: "tsd_batch_size",
    help: "Leaves per sealed batch",
    buckets: [1, 10, 100, 1000, 10_000, 100_000, 1_000_000],
    registers: [registry],
  }),
  anchoringSeconds: new Histogram({
    name: "tsd_anchoring_seconds",
    help: "From a batch's seal to its anchor recorded (block mined and confirmed)",
    buckets: SECONDS,
    registers: [registry],
  }),
  anchorGas: new Histogram({
    name: "tsd_anchor_gas_used",
    help: "Gas used by each anchoring transaction",
    buckets: [30_000, 40_000, 50_000, 60_000, 80_000, 100_000, 150_000],
    registers: [registry],
  }),
  jobFailures: new Counter({
    name: "tsd_job_failures_total",
    help: "Failed job attempts, by queue (anchor failures are the ones to alert on)",
    labelNames: ["queue"] as const,
    registers: [registry],
  }),
  certificatesIssued: new Counter({
    name: "tsd_certificates_issued_total",
    help: "Deposits certified (one certificate each) by this process",
    registers: [registry],
  }),
  // Read at scrape time (state.ts):
  pendingDeposits: new Gauge({
    name: "tsd_pending_deposits",
    help: "Deposits accepted and not yet in a certified batch",
    registers: [registry],
  }),
  pendingAgeSeconds: new Gauge({
    name: "tsd_pending_oldest_age_seconds",
    help: "Age of the oldest deposit not yet certified (0 when none waits)",
    registers: [registry],
  }),
  batchesByState: new Gauge({
    name: "tsd_batches",
    help: "Batches not yet certified, by state; blocked ones apart",
    labelNames: ["state"] as const,
    registers: [registry],
  }),
  lastAnchorAgeSeconds: new Gauge({
    name: "tsd_last_anchor_age_seconds",
    help: "Seconds since the newest anchor was recorded (-1 when there is none)",
    registers: [registry],
  }),
  queueJobs: new Gauge({
    name: "tsd_queue_jobs",
    help: "BullMQ jobs per queue and state",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
  }),
  anchorerBalanceWei: new Gauge({
    name: "tsd_anchorer_balance_wei",
    help: "The anchoring key's balance on the chain (it pays gas for every anchor)",
    registers: [registry],
  }),
};
