import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { ARTIFACTS, launchChromium } from "../helpers/browser";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The pages as the service serves them, under the Content-Security-Policy it sends (web/csp.ts:
// the SHA-256 of each page's inline script and style, computed when served): each page's main
// flow runs in headless Chromium and no directive is violated, in the page or in its hashing
// worker. A control shows the recorder sees violations, so "none" means none.

jest.setTimeout(180_000);

let stack: TestStack;
let browser: Browser;
let origin: string;
let apiKey: string;
const dir = mkdtempSync(join(tmpdir(), "tsd-csp-"));
const OPERATOR = randomBytes(24).toString("base64url");
const document = { path: join(dir, "contract.pdf"), content: randomBytes(3 << 20) };

beforeAll(async () => {
  writeFileSync(document.path, document.content);
  [stack, browser] = await Promise.all([
    startTestStack({ env: { OPERATOR_TOKEN: OPERATOR } }),
    launchChromium(),
  ]);
  origin = await stack.app.listen({ port: 0, host: "127.0.0.1" });
  apiKey = (await stack.tenant()).apiKey;
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

interface Recorder {
  page: Page;
  /** `securitypolicyviolation` events (directive and blocked URI) and CSP console messages. */
  violations: string[];
  /** Script errors and console errors of any kind. */
  errors: string[];
}

/**
 * A page that records every CSP violation: the DOM event (listened to before any page script
 * runs) and the browser's own report (DevTools' Log domain), which also covers the page's
 * workers: their violations reach neither the page's events nor Playwright's console events.
 */
async function recorder(o: { operator?: boolean } = {}): Promise<Recorder> {
  const context = await browser.newContext({
    acceptDownloads: true,
    ...(o.operator ? { httpCredentials: { username: "operator", password: OPERATOR } } : {}),
  });
  const page = await context.newPage();
  const violations: string[] = [];
  const errors: string[] = [];
  await page.exposeFunction("__tsdViolation", (v: string) => void violations.push(v));
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
    window.__tsdViolation("event: " + e.effectiveDirective + " " + e.blockedURI));`);
  const devtools = await page.context().newCDPSession(page);
  devtools.on("Log.entryAdded", ({ entry }) => {
    if (/content.security.policy/i.test(entry.text)) violations.push(`log (${entry.source}): ${entry.text}`);
  });
  await devtools.send("Log.enable");
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, violations, errors };
}

test("the pages are served with their hashes, not 'unsafe-inline'", async () => {
  for (const path of ["/", "/verify?registry=0x0000000000000000000000000000000000000000"]) {
    const res = await fetch(`${origin}${path}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] as string;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] as string;
    const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("base64");
    expect(csp).toContain(`script-src 'sha256-${sha(script)}' 'wasm-unsafe-eval'`);
    expect(csp).toContain(`style-src 'sha256-${sha(style)}'`);
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toMatch(/^default-src 'none';/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(path === "/" ? "connect-src 'self'" : "connect-src http: https:");
  }
});

test("the recorder sees a violation in the page and in a worker (control)", async () => {
  const { page, violations } = await recorder();
  await page.goto(`${origin}/`);
  await page.getByTestId("api-key-input").waitFor();
  // an inline script without the hash, and a request to another origin from a worker
  await page.evaluate(`(() => {
    const s = document.createElement("script");
    s.textContent = "window.injected = true";
    document.body.appendChild(s);
    new Worker(URL.createObjectURL(new Blob(["fetch('http://192.0.2.1/').catch(() => {})"])));
  })()`);
  await eventually(
    async () => (violations.some((v) => /event: script-src-elem/.test(v)) ? true : undefined),
    10_000,
    "the page's violation",
  );
  await eventually(
    async () => (violations.some((v) => /log \(worker\): .*192\.0\.2\.1/.test(v)) ? true : undefined),
    10_000,
    "the worker's violation",
  );
  expect(await page.evaluate("window.injected === true")).toBe(false);
  await page.close();
});

test("the deposit page: hash, deposit, certified, both downloads; no CSP violation", async () => {
  const { page, violations, errors } = await recorder();
  await page.goto(`${origin}/`);
  await page.getByTestId("api-key-input").fill(apiKey);
  await page.getByTestId("label-input").fill("csp check");
  await page.getByTestId("file-input").setInputFiles(document.path);
  const row = page.getByTestId("file-row").filter({ hasText: "contract.pdf" });
  const digest = createHash("sha256").update(document.content).digest("hex");
  // hashed in the worker, with WebAssembly: both allowed
  await row.getByTestId("digest").filter({ hasText: digest }).waitFor({ timeout: 20_000 });
  await page.getByTestId("deposit-button").click();
  await row
    .getByTestId("status")
    .filter({ hasText: /^certified$/ })
    .waitFor({ timeout: 60_000 });
  for (const kind of ["json", "pdf"]) {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByTestId(`download-${kind}`).click(),
    ]);
    expect(await download.failure()).toBeNull();
  }
  await page.screenshot({ path: join(ARTIFACTS, "csp-deposit-page.png"), fullPage: true });
  expect(violations).toEqual([]);
  expect(errors).toEqual([]);
  await page.close();
});

test("the verify page, served at /verify: a real certificate and its document are VALID; no CSP violation", async () => {
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const digest = createHash("sha256").update(document.content).digest("hex");
  const deposited = await stack.app.inject({
    method: "POST",
    url: "/v1/deposits",
    headers: auth,
    payload: { digest },
  });
  expect(deposited.statusCode).toBe(202);
  const certificate = await eventually(async () => {
    const got = await stack.app.inject({
      method: "GET",
      url: `/v1/deposits/${deposited.json().id as string}/certificate`,
      headers: auth,
    });
    return got.statusCode === 200 ? got.body : undefined;
  }, 60_000);
  writeFileSync(join(dir, "certificate.json"), certificate);

  const { page, violations, errors } = await recorder();
  // the service's own link: /verify redirects to itself with the registry to trust
  await page.goto(`${origin}/verify`);
  expect(page.url()).toContain(`registry=${stack.deployment.registry}`);
  await page.getByTestId("rpc-input").fill(stack.chain.rpcUrl);
  await page.getByTestId("certificate-input").setInputFiles(join(dir, "certificate.json"));
  await page.getByTestId("file-input").setInputFiles(document.path);
  const verdict = page.getByTestId("verdict");
  await verdict.and(page.locator('[data-outcome="VALID"]')).waitFor({ timeout: 30_000 });
  expect(await verdict.innerText()).toContain(`Chain consulted at ${stack.chain.rpcUrl}`);
  expect(await verdict.innerText()).toContain(`Registry pinned to the trusted ${stack.deployment.registry}`);
  await page.screenshot({ path: join(ARTIFACTS, "csp-verify-page.png"), fullPage: true });
  expect(violations).toEqual([]);
  expect(errors).toEqual([]);
  await page.close();
});

test("the API explorer at /docs loads under its own policy; no CSP violation", async () => {
  const { page, violations } = await recorder();
  await page.goto(`${origin}/docs`);
  await page.locator(".swagger-ui .info .title").waitFor({ timeout: 20_000 });
  expect(await page.locator(".swagger-ui .info .title").innerText()).toContain("tsd");
  expect(violations).toEqual([]);
  await page.close();
});

test("the queue dashboard at /admin/queues renders under its policy; only the Google Fonts link is refused", async () => {
  const { page, violations, errors } = await recorder({ operator: true });
  const res = await page.goto(`${origin}/admin/queues`);
  expect(res?.headers()["cache-control"]).toBe("no-store");
  // the queue list comes from the dashboard's own API (connect-src 'self')
  await page.getByText("anchor", { exact: true }).first().click({ timeout: 20_000 });
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: join(ARTIFACTS, "csp-queue-dashboard.png"), fullPage: true });
  // (by design: an operator's browser does not call Google)
  expect(violations.filter((v) => !v.includes("fonts.googleapis.com"))).toEqual([]);
  expect(errors.filter((e) => !/fonts\.googleapis\.com|Content Security Policy/.test(e))).toEqual([]);
  await page.close();
});
