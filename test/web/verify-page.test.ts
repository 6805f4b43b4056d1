import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { buildManifest, discloseMember, type Certificate } from "../../services/core";
import { buildVerifier } from "../../web/build";
import { ARTIFACTS, launchChromium } from "../helpers/browser";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";

// The court page as a clerk uses it: dist/verify.html opened from disk (file://) in headless
// Chromium, a real certificate from the service, the document, and the anvil node's RPC URL.

jest.setTimeout(120_000);

let stack: TestStack;
let browser: Browser;
let dir: string;
let certificate: Certificate;
const document = randomBytes(300_000);
const files: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tsd-page-"));
  await buildVerifier(dir);
  [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const digest = createHash("sha256").update(document).digest("hex");
  const res = await stack.app.inject({
    method: "POST",
    url: "/v1/deposits",
    headers: auth,
    payload: { digest },
  });
  const id = res.json().id as string;
  certificate = await eventually(async () => {
    const got = await stack.app.inject({
      method: "GET",
      url: `/v1/deposits/${id}/certificate`,
      headers: auth,
    });
    return got.statusCode === 200 ? (got.json() as Certificate) : undefined;
  });
  const write = (name: string, data: string | Buffer) => {
    files[name] = join(dir, name);
    writeFileSync(files[name]!, data);
  };
  write("certificate.json", JSON.stringify(certificate, null, 2));
  write("document.bin", document);
  const changed = Buffer.from(document);
  changed[1000] = (changed[1000] ?? 0) ^ 1;
  write("changed.bin", changed);
  write(
    "tampered.json",
    JSON.stringify({ ...certificate, deposit: { ...certificate.deposit, salt: "0".repeat(64) } }),
  );
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** Opens the page from disk, recording every request it makes. */
async function open(): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`file://${join(dir, "verify.html")}`);
  return { page, requests };
}

async function verdictOf(page: Page, outcome: string): Promise<string> {
  const verdict = page.getByTestId("verdict");
  await verdict.and(page.locator(`[data-outcome="${outcome}"]`)).waitFor({ timeout: 30_000 });
  return verdict.innerText();
}

test("VALID for a real certificate and its document, read from disk; nothing requested but the chain", async () => {
  const { page, requests } = await open();
  await page.getByTestId("certificate-input").setInputFiles(files["certificate.json"]!);
  // without a chain: intact and signed, but not proven
  const offline = await verdictOf(page, "UNANCHORED_CHECK_ONLY");
  expect(offline).toContain("未查询区块链 Chain not consulted: no RPC URL given");
  await page.getByTestId("rpc-input").fill(stack.chain.rpcUrl);
  await page.getByTestId("file-input").setInputFiles(files["document.bin"]!);
  const text = await verdictOf(page, "VALID");
  expect(text).toContain("有效 VALID");
  expect(text).toContain(`was deposited by ${certificate.deposit.depositor}`);
  expect(text).toContain(`由 ${certificate.deposit.depositor} 存证`);
  expect(text).toContain("(UTC+8, Asia/Shanghai)");
  expect(text).toContain("✔ 已比对文件");
  expect(await page.getByTestId("claimed").count()).toBe(0); // a VALID verdict's facts are established
  expect(text).toContain(`✔ 已查询区块链 Chain consulted at ${stack.chain.rpcUrl}`);
  expect(text).toContain("✘ 合约未锁定 Registry not pinned");
  expect(await page.getByTestId("file-digest").innerText()).toBe(
    `SHA-256: ${createHash("sha256").update(document).digest("hex")}`,
  );
  // pinning the platform's registry
  await page.getByTestId("registry-input").fill(stack.deployment.registry);
  expect(await verdictOf(page, "VALID")).toContain(
    `✔ 合约已锁定 Registry pinned to the trusted ${stack.deployment.registry}`,
  );
  await page.screenshot({ path: join(ARTIFACTS, "verify-page-valid.png"), fullPage: true });
  const elsewhere = requests.filter(
    (url) => !url.startsWith("file://") && !url.startsWith("blob:") && !url.startsWith(stack.chain.rpcUrl),
  );
  expect(elsewhere).toEqual([]);
  expect(requests.some((url) => url.startsWith(stack.chain.rpcUrl))).toBe(true);
  await page.close();
});

test("INVALID with its reason: a changed document, a tampered certificate, another registry", async () => {
  const { page } = await open();
  await page.getByTestId("rpc-input").fill(stack.chain.rpcUrl);
  await page.getByTestId("certificate-input").setInputFiles(files["certificate.json"]!);
  await page.getByTestId("file-input").setInputFiles(files["changed.bin"]!);
  const changed = await verdictOf(page, "INVALID");
  expect(changed).toContain("DIGEST_MISMATCH");
  expect(changed).toContain("文件不符");
  // what the certificate states is shown under a caption that it was not established
  expect(changed).toContain("What the certificate states — not established by this check");
  await page.screenshot({ path: join(ARTIFACTS, "verify-page-digest-mismatch.png"), fullPage: true });

  await page.getByTestId("file-input").setInputFiles([]);
  await page.getByTestId("certificate-input").setInputFiles(files["tampered.json"]!);
  expect(await verdictOf(page, "INVALID")).toContain("PROOF_INVALID");
  await page.screenshot({ path: join(ARTIFACTS, "verify-page-proof-invalid.png"), fullPage: true });

  await page.getByTestId("certificate-input").setInputFiles(files["certificate.json"]!);
  await page.getByTestId("registry-input").fill(`0x${"11".repeat(20)}`);
  expect(await verdictOf(page, "INVALID")).toContain("NOT_ANCHORED");
  await page.close();
});

test("a chain that cannot be reached: UNANCHORED_CHECK_ONLY, and why", async () => {
  const { page } = await open();
  await page.getByTestId("certificate-input").setInputFiles(files["certificate.json"]!);
  await page.getByTestId("rpc-input").fill("http://127.0.0.1:9");
  const text = await verdictOf(page, "UNANCHORED_CHECK_ONLY");
  expect(text).toContain("无法连接区块链节点");
  expect(text).toContain("http://127.0.0.1:9 could not be read");
  await page.screenshot({ path: join(ARTIFACTS, "verify-page-unreachable.png"), fullPage: true });
  await page.close();
});

test("one file of a deposited set: VALID with its disclosure, DIGEST_MISMATCH for a file outside the set", async () => {
  const member = Buffer.from("配方：甲 30%，乙 70%\n");
  const other = randomBytes(1000);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const manifest = buildManifest([
    { path: "配方/主配方.txt", digest: sha(member), bytes: member.length },
    { path: "src/main.c", digest: sha(other), bytes: other.length },
  ]);
  const tenant = await stack.tenant();
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const res = await stack.app.inject({
    method: "POST",
    url: "/v1/deposits",
    headers: auth,
    payload: { digest: manifest.root, digestAlg: "tsd-set/1" },
  });
  const id = res.json().id as string;
  const setCertificate = await eventually(async () => {
    const got = await stack.app.inject({
      method: "GET",
      url: `/v1/deposits/${id}/certificate`,
      headers: auth,
    });
    return got.statusCode === 200 ? got.body : undefined;
  });
  const write = (name: string, data: string | Buffer) => {
    files[name] = join(dir, name);
    writeFileSync(files[name]!, data);
  };
  write("set-certificate.json", setCertificate);
  write("disclosure.json", JSON.stringify(discloseMember(manifest, "配方/主配方.txt")));
  write("主配方.txt", member);
  write("outsider.txt", "配方：甲 31%，乙 69%\n");

  const { page } = await open();
  await page.getByTestId("rpc-input").fill(stack.chain.rpcUrl);
  await page.getByTestId("certificate-input").setInputFiles(files["set-certificate.json"]!);
  await page.getByTestId("file-input").setInputFiles(files["主配方.txt"]!);
  // a set's certificate alone cannot compare a file: the page says what is missing
  expect(await verdictOf(page, "VALID")).toContain("add the file's disclosure");
  await page.getByTestId("disclosure-input").setInputFiles(files["disclosure.json"]!);
  const text = await verdictOf(page, "VALID");
  expect(text).toContain("The file 配方/主配方.txt");
  expect(text).toContain("✔ 已比对文件");
  await page.screenshot({ path: join(ARTIFACTS, "verify-page-disclosure.png"), fullPage: true });
  await page.getByTestId("file-input").setInputFiles(files["outsider.txt"]!);
  expect(await verdictOf(page, "INVALID")).toContain("DIGEST_MISMATCH");
  await page.close();
});
