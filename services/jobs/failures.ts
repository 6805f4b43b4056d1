// Why a job failed, and what the queue does about it: one table. A failure not named here
// (a dropped connection, a node that timed out) is retried with backoff, and the sweeper
// re-drives the batch after the job's attempts run out.

/** What happens after a failure of each kind. */
export const FAILURE_POLICY = {
  /**
   * The root is on chain under other data (another batch number or size): retrying cannot
   * mend it. The batch is blocked until an operator looks.
   */
  ANCHOR_CONFLICT: "block",
  /**
   * A deposit of the batch was received after its anchor block's time (clocks of the service
   * and the chain disagree): certifying it would break the time invariant. Blocked.
   */
  TIME_INVARIANT: "block",
  /**
   * The anchoring key lacks ANCHORER_ROLE, or gas: nothing is sent until an operator grants
   * the role or funds the key. Stops the pass; the sweeper starts the next one.
   */
  ANCHORER_UNAUTHORISED: "stop",
  ANCHORER_UNFUNDED: "stop",
  /** The certifier key is not active on the registry: it must not sign. Stops the attest job. */
  CERTIFIER_INACTIVE: "stop",
} as const satisfies Record<string, "retry" | "stop" | "block">;

export type FailureCode = keyof typeof FAILURE_POLICY;

/** A job failure with a code of FAILURE_POLICY; `batchId` names the batch to block, if any. */
export class JobFailure extends Error {
  override readonly name = "JobFailure";
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly batchId?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** What the queue does about this failure. */
  get policy(): "retry" | "stop" | "block" {
    return FAILURE_POLICY[this.code];
  }
}
