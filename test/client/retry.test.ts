import { TsdApiError } from "../../services/client/api-client";

// Which answers the depositor's client tries again: a rate limit yes (after its Retry-After),
// a spent daily quota no (its Retry-After is the next UTC midnight).

test.each([
  [429, "RATE_LIMITED", true],
  [429, "VERIFY_BUSY", true],
  [429, "QUOTA_EXCEEDED", false],
  [503, "SERVICE_UNAVAILABLE", true],
  [0, "NETWORK", true],
  [400, "VALIDATION_FAILED", false],
  [401, "UNAUTHENTICATED", false],
])("%i %s: retryable %s", (status, code, retryable) => {
  expect(new TsdApiError(status, code, "m").retryable).toBe(retryable);
});
