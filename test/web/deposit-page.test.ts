import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { verifyCertificate } from "../../services/core";
import { ARTIFACTS, launchChromium } from "../helpers/browser";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The depositor's page as an SME's IT person uses it: served at / by the real API listening on
// a port (with PostgreSQL, Redis, anvil and the workers behind it), opened in headless
// Chromium. It serves dist/deposit.html as `npm run build:verifier` built it (npm test's
// pretest step), the same file the service serves.

jest.setTimeout(120_000);

const DIST = join(__dirname, "..", "..", "dist");

let stack: TestStack;
let browser: Browser;
let origin: string;
let apiKey: string;
const dir = mkdtempSync(join(tmpdir(), "tsd-deposit-page-"));
const formula = { name: "formula.bin", path: join(dir, "formula.bin"), content: randomBytes(6 << 20) };
const notes = { name: "notes.txt", path: join(dir, "notes.txt"), content: randomBytes(20_000) };

beforeAll(async () => {
  writeFileSync(formula.path, formula.content);
  writeFileSync(notes.path, notes.content);
  [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
  origin = await stack.app.listen({ port: 0, host: "127.0.0.1" });
  apiKey = (await stack.tenant()).apiKey;
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** The digest the system's own tools give: `sha256sum`, `openssl dgst -sm3`. */
function systemDigest(path: string, alg: "sha256" | "sm3"): string {
  const out =
    alg === "sha256"
      ? execFileSync("sha256sum", [path], { encoding: "utf8" })
      : execFileSync("openssl", ["dgst", "-sm3", "-r", path], { encoding: "utf8" });
  const hex = out.split(/\s/)[0] as string;
  expect(hex).toMatch(/^[0-9a-f]{64}$/);
  return hex;
}

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** Opens the page at /, recording every request it makes (with its body) and every error it logs. */
async function open(): Promise<{ page: Page; requests: Recorded[]; errors: string[] }> {
  const page = await browser.newPage();
  const requests: Recorded[] = [];
  const errors: string[] = [];
  page.on("request", (r) =>
    requests.push({ url: r.url(), method: r.method(), headers: r.headers(), body: r.postDataBuffer() }),
  );
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  await page.goto(`${origin}/`);
  return { page, requests, errors };
}

const rowOf = (page: Page, name: string) => page.getByTestId("file-row").filter({ hasText: name });

async function statusIs(row: Locator, status: string, timeout = 10_000): Promise<void> {
  await row
    .getByTestId("status")
    .filter({ hasText: new RegExp(`^${status}$`) })
    .waitFor({ timeout });
}

test("/ serves the built page, whose SHA-256 is published in SHA256SUMS; it is not a download", async () => {
  const page = await fetch(`${origin}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  // the page's own policy, naming its inline script by hash (test/web/csp.test.ts drives it)
  expect(page.headers.get("content-security-policy")).toMatch(/script-src 'sha256-[^']+' 'wasm-unsafe-eval'/);
  expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  const bytes = Buffer.from(await page.arrayBuffer());
  expect(bytes.equals(readFileSync(join(DIST, "deposit.html")))).toBe(true);
  const sums = await (await fetch(`${origin}/downloads/SHA256SUMS`)).text();
  expect(sums).toContain(`${createHash("sha256").update(bytes).digest("hex")}  deposit.html\n`);
  expect((await fetch(`${origin}/downloads/deposit.html`)).status).toBe(404);
  expect((await fetch(`${origin}/verify`, { redirect: "manual" })).status).toBe(302);
});

test("a file's digest is computed in the browser: sha256sum's, and with SM3 openssl's", async () => {
  const { page } = await open();
  expect(await page.getByTestId("deposit-button").isDisabled()).toBe(true);
  await page.getByTestId("file-input").setInputFiles(formula.path);
  const row = rowOf(page, formula.name);
  await statusIs(row, "ready");
  expect(await row.getByTestId("digest").innerText()).toBe(systemDigest(formula.path, "sha256"));
  // hashed, but no key yet: nothing to deposit with
  expect(await page.getByTestId("deposit-button").isDisabled()).toBe(true);
  await page.getByTestId("api-key-input").fill(apiKey);
  expect(await page.getByTestId("deposit-button").isEnabled()).toBe(true);

  await page.getByTestId("alg-select").selectOption("sm3");
  const sm3 = systemDigest(formula.path, "sm3");
  await row.getByTestId("digest").filter({ hasText: sm3 }).waitFor({ timeout: 10_000 });
  await statusIs(row, "ready");
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-hashed-sm3.png"), fullPage: true });
  await page.close();
});

test("deposit: certified, the certificate downloads verify VALID, and only digests left the browser", async () => {
  const { page, requests, errors } = await open();
  await page.getByTestId("api-key-input").fill(apiKey);
  await page.getByTestId("label-input").fill("formula v3");
  // several files, hashed one after another
  await page.getByTestId("file-input").setInputFiles([formula.path, notes.path]);
  const row = rowOf(page, formula.name);
  await statusIs(row, "ready");
  await statusIs(rowOf(page, notes.name), "ready");
  const digest = systemDigest(formula.path, "sha256");
  expect(await row.getByTestId("digest").innerText()).toBe(digest);
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-ready.png"), fullPage: true });

  await page.getByTestId("deposit-button").click();
  // (a look at the page on its way: the first status poll is a second after the deposit)
  await statusIs(row, "(pending|batched|anchored|certified)");
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-deposited.png"), fullPage: true });
  await statusIs(row, "certified", 30_000);
  await statusIs(rowOf(page, notes.name), "certified", 30_000);
  await page.getByTestId("message").filter({ hasText: "Certified" }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-certified.png"), fullPage: true });

  // the certificate JSON, as the API serves it, and VALID for the file
  const id = await row.getByTestId("deposit-id").innerText();
  const [json] = await Promise.all([page.waitForEvent("download"), row.getByTestId("download-json").click()]);
  expect(json.suggestedFilename()).toBe("formula.bin.certificate.json");
  const downloaded = readFileSync(await json.path());
  const served = await stack.app.inject({
    method: "GET",
    url: `/v1/deposits/${id}/certificate`,
    headers: { authorization: `Bearer ${apiKey}` },
  });
  expect(served.statusCode).toBe(200);
  expect(downloaded.equals(served.rawPayload)).toBe(true);
  const verdict = await verifyCertificate(JSON.parse(downloaded.toString("utf8")), {
    digest,
    chain: stack.conn.chain,
    registry: stack.deployment.registry,
  });
  expect(verdict).toMatchObject({ outcome: "VALID", digestChecked: true, chainConsulted: true });
  const [pdf] = await Promise.all([page.waitForEvent("download"), row.getByTestId("download-pdf").click()]);
  expect(pdf.suggestedFilename()).toBe("formula.bin.certificate.pdf");
  expect(
    readFileSync(await pdf.path())
      .subarray(0, 5)
      .toString("latin1"),
  ).toBe("%PDF-");

  // every request went to the page's own origin (blob: URLs are the page's own too)
  const page0 = new URL(origin).origin;
  expect(requests.filter((r) => new URL(r.url).origin !== page0).map((r) => r.url)).toEqual([]);
  // the statuses were polled one by one
  expect(requests.some((r) => r.url === `${origin}/v1/deposits/${id}`)).toBe(true);
  // the only POST is the one bulk deposit, with digests and nothing else
  const posts = requests.filter((r) => r.method !== "GET");
  expect(posts.map((r) => `${r.method} ${r.url}`)).toEqual([`POST ${origin}/v1/deposits/bulk`]);
  expect(posts[0]!.headers["idempotency-key"]).toMatch(/^deposit-page-[0-9a-f]{32}$/);
  const { items } = JSON.parse(posts[0]!.body!.toString("utf8")) as { items: Record<string, unknown>[] };
  expect(items).toEqual([
    { digest, digestAlg: "sha256", label: "formula v3" },
    { digest: systemDigest(notes.path, "sha256"), digestAlg: "sha256", label: "formula v3" },
  ]);
  // no request carried any of the file's bytes: raw, as hex or as base64, in its URL or body
  for (const file of [formula, notes]) {
    const n = file.content.length;
    for (const at of [0, 4097, Math.floor(n / 2), n - 64]) {
      const window = file.content.subarray(at, at + 64);
      const text = [window.toString("hex")];
      // a base64 encoding of the file holds every 3-byte-aligned run of it: try each alignment
      for (const shift of [0, 1, 2]) {
        const run = window.subarray(shift, shift + 60);
        text.push(run.toString("base64"), run.toString("base64url"));
      }
      for (const r of requests) {
        const body = r.body ?? Buffer.alloc(0);
        expect(body.indexOf(window)).toBe(-1);
        const seen = `${r.url}\n${body.toString("latin1")}`.toLowerCase();
        for (const t of text) expect(seen.includes(t.toLowerCase())).toBe(false);
      }
    }
  }

  // no script error, no request the page's CSP refused
  expect(errors).toEqual([]);

  // the label went with the deposit
  const listed = await stack.app.inject({
    method: "GET",
    url: `/v1/deposits?digest=${digest}`,
    headers: { authorization: `Bearer ${apiKey}` },
  });
  expect(listed.json().items).toMatchObject([{ id, label: "formula v3", status: "certified" }]);
  await page.close();
});

test("a 1 GiB file: hashed after the file before it, with its progress shown; sha256sum's digest", async () => {
  const big = join(dir, "archive.img");
  execFileSync("truncate", ["-s", "1G", big]); // sparse: no disk, the same bytes to hash
  const gone = join(dir, "gone.bin");
  writeFileSync(gone, "deleted before its turn");
  const { page } = await open();
  await page.getByTestId("file-input").setInputFiles([notes.path, big, gone]);
  unlinkSync(gone);
  const row = rowOf(page, "archive.img");
  await row.locator("progress").waitFor({ state: "visible" });
  await eventually(
    async () => Number(await row.locator("progress").getAttribute("value")) > 100 << 20 || undefined,
    30_000,
    "100 MiB hashed",
  );
  // one file after another: the first is done before the second is being hashed
  expect(await rowOf(page, notes.name).getByTestId("status").innerText()).toBe("ready");
  expect(await row.getByTestId("status").innerText()).toBe("hashing");
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-hashing.png"), fullPage: true });
  await statusIs(row, "ready", 60_000);
  expect(await row.getByTestId("digest").innerText()).toBe(systemDigest(big, "sha256"));
  // a file that can no longer be read fails alone
  await statusIs(rowOf(page, "gone.bin"), "failed: FILE_UNREADABLE");
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-unreadable.png"), fullPage: true });
  await page.close();
});

test("a wrong API key: UNAUTHENTICATED in the message, and the key is asked for again", async () => {
  const { page } = await open();
  await page.getByTestId("api-key-input").fill(`tsd_${"0".repeat(40)}`);
  await page.getByTestId("file-input").setInputFiles(notes.path);
  await statusIs(rowOf(page, notes.name), "ready");
  await page.getByTestId("deposit-button").click();
  const message = page.getByTestId("message");
  await message.filter({ hasText: "UNAUTHENTICATED" }).waitFor({ timeout: 10_000 });
  const text = await message.innerText();
  expect(text).toContain("API 密钥无效");
  expect(text).toContain("The API key was refused");
  // the refused key is gone, the field asks for another, the file waits
  expect(await page.getByTestId("api-key-input").inputValue()).toBe("");
  // (page scripts as strings: the tests are compiled without the DOM's types)
  expect(await page.evaluate(`document.activeElement.dataset.testid`)).toBe("api-key-input");
  expect(await page.evaluate(`sessionStorage.length`)).toBe(0);
  expect(await page.getByTestId("deposit-button").isDisabled()).toBe(true);
  await statusIs(rowOf(page, notes.name), "ready");
  await page.screenshot({ path: join(ARTIFACTS, "deposit-page-unauthenticated.png"), fullPage: true });
  await page.close();
});

test("the key survives a reload of the tab, only in sessionStorage; another tab does not have it", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.getByTestId("api-key-input").fill(apiKey);
  await page.reload();
  expect(await page.getByTestId("api-key-input").inputValue()).toBe(apiKey);
  const stored = (await page.evaluate(
    `({ session: Object.values(sessionStorage), local: JSON.stringify(localStorage), cookie: document.cookie })`,
  )) as { session: string[]; local: string; cookie: string };
  expect(stored.session).toEqual([apiKey]);
  expect(stored.local).not.toContain(apiKey);
  expect(stored.local).toBe("{}");
  expect(stored.cookie).toBe("");
  expect(await context.cookies()).toEqual([]);
  // a new tab of the same browser profile starts without it
  const other = await context.newPage();
  await other.goto(`${origin}/`);
  expect(await other.getByTestId("api-key-input").inputValue()).toBe("");
  await context.close();
});
