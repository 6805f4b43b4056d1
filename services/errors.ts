// The service's one error catalogue: stable codes (clients and tests match these, never the
// message text), the HTTP status of each, and a default message. Adding a code is fine;
// renaming or reusing one breaks clients.

export const ERRORS = {
  // the caller's mistakes
  VALIDATION_FAILED: { status: 400, message: "the request does not match the API's schema" },
  BAD_REQUEST: { status: 400, message: "the request cannot be processed as sent" },
  MALFORMED_JSON: { status: 400, message: "the request body is not valid JSON" },
  DIGEST_INVALID: { status: 400, message: "a digest must be 64 hexadecimal characters (SHA-256)" },
  DIGEST_ALG_UNSUPPORTED: { status: 400, message: "only sha256 digests are accepted" },
  CURSOR_INVALID: { status: 400, message: "the cursor is not one this API issued" },
  UNAUTHENTICATED: { status: 401, message: "a valid API key is required (Authorization: Bearer <key>)" },
  DEPOSIT_NOT_FOUND: { status: 404, message: "no such deposit" },
  TENANT_NOT_FOUND: { status: 404, message: "no such tenant" },
  API_KEY_NOT_FOUND: { status: 404, message: "no such API key" },
  ROUTE_NOT_FOUND: { status: 404, message: "no such route" },
  CERTIFICATE_NOT_READY: { status: 409, message: "the deposit is not certified yet" },
  IDEMPOTENCY_KEY_REUSED: { status: 409, message: "this Idempotency-Key was used for a different request" },
  DEPOSITOR_TAKEN: { status: 409, message: "another tenant already uses this depositor identifier" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "the request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "send application/json" },
  PREV_NOT_FOUND: { status: 422, message: "prev must be the id of one of your own deposits" },
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
