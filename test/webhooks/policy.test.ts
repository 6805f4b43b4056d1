import { ServiceError } from "../../services/errors";
import { checkWebhookUrl } from "../../services/webhooks/registration";
import { WEBHOOK_ATTEMPTS, WEBHOOK_RETRY_MAX_MS, webhookRetryDelayMs } from "../../services/webhooks/retry";

// The webhook policies that are arithmetic or parsing: how long between retries, and which
// URLs a tenant may register.

test("retries wait 5 s, doubling, never more than an hour; 12 POSTs span about 2.4 hours", () => {
  const waits = Array.from({ length: WEBHOOK_ATTEMPTS - 1 }, (_, i) => webhookRetryDelayMs(i + 1, 5000));
  expect(waits.map((ms) => ms / 1000)).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
  const total = waits.reduce((a, b) => a + b, 0);
  expect(total / 3_600_000).toBeCloseTo(2.42, 2);
  expect(webhookRetryDelayMs(1000, 5000)).toBe(WEBHOOK_RETRY_MAX_MS);
  expect(webhookRetryDelayMs(0, 5000)).toBe(5000);
  expect(webhookRetryDelayMs(3, 200, 500)).toBe(500);
});

test.each([
  "https://hooks.acme.example/tsd",
  "https://hooks.acme.example:8443/tsd?source=tsd",
  "http://127.0.0.1:9000/hook",
  "http://127.1.2.3/hook",
  "http://localhost:8080/",
  "http://[::1]:9000/hook",
])("%s is accepted", (url) => {
  expect(checkWebhookUrl(url)).toBe(new URL(url).href);
});

test.each([
  ["plain http to another host", "http://hooks.acme.example/tsd"],
  ["plain http to a private address", "http://10.0.0.5/tsd"],
  ["plain http to a look-alike of localhost", "http://localhost.acme.example/tsd"],
  ["another scheme", "ftp://hooks.acme.example/tsd"],
  ["credentials in the URL", "https://user:pass@hooks.acme.example/tsd"],
  ["no URL at all", "hooks.acme.example/tsd"],
  ["a URL too long", `https://hooks.acme.example/${"a".repeat(2000)}`],
])("%s is refused with WEBHOOK_URL_INVALID (400)", (_what, url) => {
  let error: unknown;
  try {
    checkWebhookUrl(url);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ServiceError);
  expect(error).toMatchObject({ code: "WEBHOOK_URL_INVALID", status: 400 });
});
