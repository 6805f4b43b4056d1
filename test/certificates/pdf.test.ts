import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatTime, type Certificate } from "../../services/core";
import { renderCertificatePdf, type CertificatePdfInput } from "../../services/certificates/pdf";

// The PDF certificate read back with poppler, as a court clerk's tools would read it. The
// poppler tools are required: a missing one fails these tests instead of skipping them.

const ROOT = join(__dirname, "..", "..");
const VECTOR = join(ROOT, "test", "vectors", "certificate.json");
const ARTIFACTS = join(ROOT, "test-artifacts");
const vector = JSON.parse(readFileSync(VECTOR, "utf8")) as { certificate: Certificate };
const cert = (): Certificate => structuredClone(vector.certificate);
const VERIFY_URL = `https://tsd.example.cn/verify?certificate=${vector.certificate.deposit.id}`;

function inputOf(certificate: Certificate, verifyUrl = VERIFY_URL): CertificatePdfInput {
  return { certificate, certificateJson: JSON.stringify(certificate, null, 2), verifyUrl };
}

let dir: string;
let pdf: Buffer;
let pdfPath: string;

/** Runs a poppler tool on `file`; throws (failing the test) when the tool is missing. */
function poppler(tool: string, ...args: string[]): string {
  return execFileSync(`/usr/bin/${tool}`, args, { encoding: "utf8", maxBuffer: 1 << 24 });
}

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tsd-pdf-"));
  pdf = await renderCertificatePdf(inputOf(cert()));
  pdfPath = write("certificate.pdf", pdf);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the poppler tools are installed", () => {
  for (const tool of ["pdfinfo", "pdftotext", "pdfdetach", "pdffonts", "pdftoppm"]) {
    const run = spawnSync(`/usr/bin/${tool}`, ["-v"], { encoding: "utf8" });
    expect(run.error).toBeUndefined();
    expect(run.stderr + run.stdout).toMatch(/version/);
  }
});

test("one A4 page", () => {
  const info = poppler("pdfinfo", pdfPath);
  expect(info).toMatch(/^Pages:\s+1$/m);
  expect(info).toMatch(/^Page size:\s+595\.28 x 841\.89 pts \(A4\)$/m);
  expect(info).toMatch(/^Title:\s+区块链存证证书 Deposit Certificate 788d8b02-3e71-44a8-8ccd-6d662633ae3c$/m);
  expect(info).toMatch(/^CreationDate:.*2025/m);
});

describe("the text a reader extracts", () => {
  let text: string;
  let compact: string;
  beforeAll(() => {
    text = poppler("pdftotext", "-layout", pdfPath, "-");
    compact = text.replace(/\s+/g, "");
  });

  test("both titles and the Chinese labels", () => {
    expect(text).toContain("DEPOSIT CERTIFICATE");
    // the title is set with letter spacing; the characters come out in order
    expect(compact).toContain("区块链存证证书");
    for (const label of ["证书编号", "存证人", "文件摘要", "锚定时间", "接收时间", "登记合约", "交易哈希"]) {
      expect(text).toContain(label);
    }
    for (const label of [
      "Certificate No.",
      "Depositor",
      "File digest",
      "Time anchored",
      "Transaction hash",
    ]) {
      expect(text).toContain(label);
    }
  });

  test("every value of the certificate, in full", () => {
    const c = vector.certificate;
    for (const value of [
      c.deposit.id,
      c.deposit.depositor,
      c.deposit.digest,
      c.deposit.prev!,
      c.anchor.registry,
      c.anchor.txHash,
      c.anchor.blockHash,
      c.anchor.root,
      c.attestation.signer,
      "SHA-256",
    ]) {
      expect(compact).toContain(value);
    }
    expect(text).toMatch(/Number\s+42\b/);
    expect(text).toMatch(/Chain ID\s+31337\b/);
    expect(text).toMatch(/Batch\s+17\s+叶子序号 leaf index 3\s+树大小 tree size 7/);
  });

  test("the anchor time, the receipt and the issue time in UTC and Asia/Shanghai", () => {
    expect(text).toContain("2025-11-24 16:01:00 UTC");
    expect(text).toContain("2025-11-25 00:01:00 (UTC+8, Asia/Shanghai)");
    expect(text).toContain("2025-11-24 16:00:03 UTC");
    expect(text).toContain("2025-11-25 00:00:03 (UTC+8, Asia/Shanghai)");
    const issued = formatTime(vector.certificate.attestation.typedData.message.issuedAt);
    expect(text).toContain(issued.utc);
    expect(text).toContain(issued.shanghai);
  });

  test("the statement in both languages, how to verify and the footer", () => {
    expect(compact).toContain(
      "的文件由tenant:acme-robotics存证，存证时间不晚于2025-11-2416:01:00UTC（北京时间",
    );
    expect(compact).toContain("wasdepositedbytenant:acme-roboticsnolaterthan2025-11-2416:01:00UTC");
    expect(compact).toContain(VERIFY_URL);
    expect(compact).toContain("nodetsd-verify.cjsverifycertificate.json--file<file>--rpc<chainRPCURL>");
    expect(text).toContain("如何验证");
    expect(text).toContain("How to verify");
    expect(compact).toContain("attachedtothisPDFascertificate.json");
    expect(compact).toContain("ThisPDFisarendering;theJSONistheevidence.");
    expect(compact).toContain("证据以JSON为准");
  });
});

test("certificate.json is attached, byte for byte", () => {
  expect(poppler("pdfdetach", "-list", pdfPath)).toMatch(/^1: certificate\.json$/m);
  const out = join(dir, "extracted.json");
  poppler("pdfdetach", "-save", "1", "-o", out, pdfPath);
  expect(readFileSync(out, "utf8")).toBe(inputOf(cert()).certificateJson);
});

test("every font is an embedded subset of Noto Sans SC", () => {
  const rows = poppler("pdffonts", pdfPath).trim().split("\n").slice(2);
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    const m = /^(\S+)\s+.+?\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$/.exec(row);
    expect(m).not.toBeNull();
    expect(m![1]).toMatch(/^[A-Z]{6}\+NotoSansSC-Regular$/);
    expect([m![2], m![3]]).toEqual(["yes", "yes"]);
  }
});

describe("deterministic bytes", () => {
  test("two renders are identical", async () => {
    expect((await renderCertificatePdf(inputOf(cert()))).equals(pdf)).toBe(true);
  });

  test("a render in another process is identical", () => {
    const script = `
      const { readFileSync } = require("node:fs");
      const { renderCertificatePdf } = require("./services/certificates/pdf.ts");
      const { certificate } = JSON.parse(readFileSync(${JSON.stringify(VECTOR)}, "utf8"));
      renderCertificatePdf({
        certificate,
        certificateJson: JSON.stringify(certificate, null, 2),
        verifyUrl: ${JSON.stringify(VERIFY_URL)},
      }).then((pdf) => process.stdout.write(pdf.toString("base64")));`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 1 << 24,
    });
    expect(Buffer.from(out, "base64").equals(pdf)).toBe(true);
  });

  test("no wall-clock date: the dates are the certifier's issuedAt", () => {
    const latin1 = pdf.toString("latin1");
    const dates = latin1.match(/D:\d{14}Z/g) ?? [];
    expect(dates.length).toBeGreaterThanOrEqual(4); // info CreationDate/ModDate, attachment dates
    expect(new Set(dates)).toEqual(new Set(["D:20251124160115Z"]));
  });
});

test("renders page 1 to test-artifacts/ for a person to look at", () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, "certificate.pdf"), pdf);
  poppler(
    "pdftoppm",
    "-png",
    "-r",
    "80",
    "-f",
    "1",
    "-l",
    "1",
    "-singlefile",
    pdfPath,
    join(ARTIFACTS, "certificate"),
  );
  expect(readFileSync(join(ARTIFACTS, "certificate.png")).subarray(1, 4).toString()).toBe("PNG");
});

describe("other certificates", () => {
  async function textOf(c: Certificate, verifyUrl?: string): Promise<{ text: string; pages: string }> {
    const path = write(
      `${c.deposit.digestAlg.replace("/", "-")}-${verifyUrl?.length ?? 0}.pdf`,
      await renderCertificatePdf(inputOf(c, verifyUrl)),
    );
    return { text: poppler("pdftotext", "-layout", path, "-"), pages: poppler("pdfinfo", path) };
  }

  test("an SM3 digest is named SM3", async () => {
    const c = cert();
    (c.deposit as { digestAlg: string }).digestAlg = "sm3";
    const { text } = await textOf(c);
    expect(text).toMatch(/Algorithm\s+SM3/);
    expect(text).toContain("（SM3）的文件由");
  });

  test("a deposit set shows its root and no prev row when there is none", async () => {
    const c = cert();
    (c.deposit as { digestAlg: string }).digestAlg = "tsd-set/1";
    delete (c.deposit as { prev?: string }).prev;
    const { text } = await textOf(c);
    expect(text).toContain("文件集合根哈希");
    expect(text).toContain("Root of the file set");
    expect(text.replace(/\s+/g, "")).toContain("Asetoffileswithroot858bc03f");
    expect(text).not.toContain("Supersedes");
  });

  test("the longest depositor and a long verify URL still fit on one page, in full", async () => {
    const c = cert();
    (c.deposit as { depositor: string }).depositor = "W".repeat(256);
    const url = `https://verify.tsd.example.cn/v1/verify?certificate=${c.deposit.id}&x=${"a".repeat(250)}`;
    const { text, pages } = await textOf(c, url);
    expect(pages).toMatch(/^Pages:\s+1$/m);
    const compact = text.replace(/\s+/g, "");
    expect(compact).toContain("W".repeat(256));
    expect(compact).toContain(url);
  });

  test("refuses a verify URL too long for the page rather than spill onto a second", async () => {
    const c = cert();
    (c.deposit as { depositor: string }).depositor = "W".repeat(256);
    await expect(renderCertificatePdf(inputOf(c, `https://x.example/${"a".repeat(1000)}`))).rejects.toThrow(
      /does not fit on one page/,
    );
  });

  test("refuses certificate JSON that is not the certificate's", async () => {
    const input = inputOf(cert());
    input.certificateJson = input.certificateJson.replace('"batch": 17', '"batch": 18');
    await expect(renderCertificatePdf(input)).rejects.toThrow(/not the JSON of the certificate/);
  });
});
