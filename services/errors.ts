// The service's one error catalogue: stable codes (clients and tests match these, never the
// message text), the HTTP status of each, and a default message. Adding a code is fine;
// renaming or reusing one breaks clients.

export const ERRORS = {
  // the caller's mistakes
  VALIDATION_FAILED: { status: 400, message: "the request does not match the API's schema" },
  BAD_REQUEST: { status: 400, message: "the request cannot be processed as sent" },
  MALFORMED_JSON: { status: 400, message: "the request body is not valid JSON" },
  MALFORMED_REQUEST: { status: 400, message: "the request is not well-formed HTTP" },
  JSON_TOO_DEEP: { status: 400, message: "the JSON body nests arrays and objects too deeply" },
  UNICODE_INVALID: {
    status: 400,
    message: "text must be well-formed Unicode: valid UTF-8, and no lone surrogate such as \\ud800",
  },
  DIGEST_INVALID: { status: 400, message: "a digest must be 64 hexadecimal characters" },
  DIGEST_ALG_UNSUPPORTED: { status: 400, message: "digestAlg must be sha256, sm3 or tsd-set/1" },
  DEPOSITOR_INVALID: {
    status: 400,
    message: "the depositor must be uscc:<18-character code> or lei:<20-character code>",
  },
  CURSOR_INVALID: { status: 400, message: "the cursor is not one this API issued" },
  WEBHOOK_URL_INVALID: {
    status: 400,
    message: "a webhook URL must be https:// (http:// only to a loopback address)",
  },
  UNAUTHENTICATED: { status: 401, message: "a valid API key is required (Authorization: Bearer <key>)" },
  OPERATOR_UNAUTHENTICATED: {
    status: 401,
    message:
      "this operator page needs OPERATOR_TOKEN (Authorization: Bearer <token>, or as the Basic password)",
  },
  TENANT_DISABLED: {
    status: 403,
    message: "this tenant is disabled by the operator; its certificates stay verifiable",
  },
  DEPOSIT_NOT_FOUND: { status: 404, message: "no such deposit" },
  TENANT_NOT_FOUND: { status: 404, message: "no such tenant" },
  API_KEY_NOT_FOUND: { status: 404, message: "no such API key" },
  ROUTE_NOT_FOUND: { status: 404, message: "no such route" },
  BATCH_NOT_FOUND: { status: 404, message: "no such batch" },
  CERTIFICATE_NOT_READY: { status: 409, message: "the deposit is not certified yet" },
  CERTIFICATE_WITHDRAWN: {
    status: 409,
    message:
      "the chain lost this deposit's anchor block; it is being anchored again and a new certificate will be issued (an earlier copy no longer verifies)",
  },
  BATCH_NOT_BLOCKED: { status: 409, message: "the batch is not blocked" },
  BATCH_BLOCKED: {
    status: 409,
    message: "the batch is blocked for an operator: mend the cause, then `tsd admin unblock` it",
  },
  BATCH_CERTIFIED: { status: 409, message: "the batch is certified: it has no next job" },
  IDEMPOTENCY_KEY_REUSED: { status: 409, message: "this Idempotency-Key was used for a different request" },
  DEPOSITOR_TAKEN: {
    status: 409,
    message: "another tenant already uses this depositor identifier, or one that looks like it",
  },
  REQUEST_TIMEOUT: { status: 408, message: "the request was not received in time" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "the request body is too large" },
  URI_TOO_LONG: { status: 414, message: "a segment of the request's path is too long" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "send application/json" },
  EXPECTATION_FAILED: { status: 417, message: "the only Expect this API meets is 100-continue" },
  PREV_NOT_FOUND: { status: 422, message: "prev must be the id of one of your own deposits" },
  HEADERS_TOO_LARGE: { status: 431, message: "the request's headers are too large" },
  // limits: wait the answer's Retry-After seconds, then send the same request again
  RATE_LIMITED: { status: 429, message: "too many requests; retry after Retry-After seconds" },
  QUOTA_EXCEEDED: {
    status: 429,
    message: "the tenant's deposit quota for the day is used up; it renews at 00:00 UTC (Retry-After)",
  },
  VERIFY_BUSY: { status: 429, message: "the verifier is busy; retry after Retry-After seconds" },
  // our side
  SERVICE_UNAVAILABLE: { status: 503, message: "a backing service is unavailable; retry later" },
  INTERNAL: { status: 500, message: "internal error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a catalogue code; `cause` keeps the underlying error for the logs. */
export class ServiceError extends Error {
  override readonly name = "ServiceError";
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The HTTP status of this error's code. */
  get status(): number {
    return ERRORS[this.code].status;
  }
}
