import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CoreError,
  certificateStatement,
  formatTime,
  isFormattableTime,
  reasonText,
  type Certificate,
  type Finding,
} from "../../services/core";

const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "certificate.json"), "utf8")) as {
  certificate: Certificate;
};
const cert = (): Certificate => structuredClone(vector.certificate);
const CJK = /[\u4e00-\u9fff]/;

describe("formatTime", () => {
  test("the frozen certificate's anchor time, in UTC and Asia/Shanghai", () => {
    expect(formatTime(1_764_000_060)).toEqual({
      utc: "2025-11-24 16:01:00 UTC",
      shanghai: "2025-11-25 00:01:00 (UTC+8, Asia/Shanghai)",
    });
  });

  test("epoch 0", () => {
    expect(formatTime(0)).toEqual({
      utc: "1970-01-01 00:00:00 UTC",
      shanghai: "1970-01-01 08:00:00 (UTC+8, Asia/Shanghai)",
    });
  });

  test("crossing midnight into the next day, month and year in Shanghai", () => {
    expect(formatTime(Date.UTC(2025, 11, 31, 16, 0, 0) / 1000)).toEqual({
      utc: "2025-12-31 16:00:00 UTC",
      shanghai: "2026-01-01 00:00:00 (UTC+8, Asia/Shanghai)",
    });
    expect(formatTime(Date.UTC(2024, 1, 28, 23, 59, 59) / 1000).shanghai).toBe(
      "2024-02-29 07:59:59 (UTC+8, Asia/Shanghai)",
    );
  });

  test("2038 and later (past a signed 32-bit time), up to year 9999", () => {
    expect(formatTime(2 ** 31).utc).toBe("2038-01-19 03:14:08 UTC");
    expect(formatTime(4_102_444_800)).toEqual({
      utc: "2100-01-01 00:00:00 UTC",
      shanghai: "2100-01-01 08:00:00 (UTC+8, Asia/Shanghai)",
    });
    expect(formatTime(253_402_271_999)).toEqual({
      utc: "9999-12-31 15:59:59 UTC",
      shanghai: "9999-12-31 23:59:59 (UTC+8, Asia/Shanghai)",
    });
  });

  test("a receivedAt in ms shows its milliseconds, and only when there are some", () => {
    expect(formatTime(1_764_000_003_000 / 1000).utc).toBe("2025-11-24 16:00:03 UTC");
    expect(formatTime(1_764_000_003_123 / 1000)).toEqual({
      utc: "2025-11-24 16:00:03.123 UTC",
      shanghai: "2025-11-25 00:00:03.123 (UTC+8, Asia/Shanghai)",
    });
    expect(formatTime(0.007).utc).toBe("1970-01-01 00:00:00.007 UTC");
  });

  test.each([-1, NaN, Infinity, 253_402_272_000, Number.MAX_SAFE_INTEGER])(
    "refuses %p as the caller's mistake",
    (t) => {
      expect(isFormattableTime(t)).toBe(false);
      expect(() => formatTime(t)).toThrow(
        expect.objectContaining({ constructor: CoreError, code: "INVALID_ARGUMENT" }),
      );
      expect(() => formatTime(t)).toThrow(/seconds since the epoch/);
    },
  );

  test.each([0, 0.007, 1_764_000_060, 253_402_271_999])(
    "isFormattableTime(%p): what formatTime shows",
    (t) => {
      expect(isFormattableTime(t)).toBe(true);
      expect(() => formatTime(t)).not.toThrow();
    },
  );
});

describe("certificateStatement", () => {
  test("the frozen certificate, exactly", () => {
    expect(certificateStatement(cert())).toEqual({
      en:
        "The file with SHA-256 digest 858bc03ff4d76434c33c3ee90ee58537fee08193d6351c7d6e057deb3f3db6d9 " +
        "was deposited by tenant:acme-robotics no later than 2025-11-24 16:01:00 UTC " +
        "(2025-11-25 00:01:00 Beijing time, UTC+8), block 42 on chain 31337, " +
        "registry 0x5FbDB2315678afecb367f032d93F642f64180aa3.",
      zh:
        "摘要为 858bc03ff4d76434c33c3ee90ee58537fee08193d6351c7d6e057deb3f3db6d9（SHA-256）的文件由 " +
        "tenant:acme-robotics 存证，存证时间不晚于 2025-11-24 16:01:00 UTC（北京时间 2025-11-25 00:01:00），" +
        "区块 42，链 31337，合约 0x5FbDB2315678afecb367f032d93F642f64180aa3。",
    });
  });

  test("names SM3 for an sm3 digest", () => {
    const c = cert();
    (c.deposit as { digestAlg: string }).digestAlg = "sm3";
    const s = certificateStatement(c);
    expect(s.en).toMatch(/^The file with SM3 digest 858bc03f/);
    expect(s.zh).toMatch(/^摘要为 858bc03f[0-9a-f]+（SM3）的文件由/);
  });

  test("a deposit set is a set of files with a root", () => {
    const c = cert();
    (c.deposit as { digestAlg: string }).digestAlg = "tsd-set/1";
    const s = certificateStatement(c);
    expect(s.en).toMatch(/^A set of files with root 858bc03f[0-9a-f]+ \(tsd-set\/1\) was deposited by /);
    expect(s.zh).toMatch(/^根哈希为 858bc03f[0-9a-f]+（tsd-set\/1）的文件集合由 /);
  });
});

describe("reasonText", () => {
  const findings: Finding[] = [
    "VALID",
    "UNANCHORED_CHECK_ONLY",
    "MALFORMED",
    "DIGEST_MISMATCH",
    "PROOF_INVALID",
    "SIGNATURE_INVALID",
    "CHAIN_MISMATCH",
    "NOT_ANCHORED",
    "ANCHOR_MISMATCH",
    "SIGNER_NOT_AUTHORISED",
  ];

  test.each(findings)("%s has an English and a Chinese text", (code) => {
    const { en, zh } = reasonText(code);
    expect(en.length).toBeGreaterThan(40);
    expect(en).toMatch(/^[\x20-\x7e]+$/);
    expect(zh).toMatch(CJK);
    expect(zh.length).toBeGreaterThan(20);
  });

  test("each text is its own, and a caller cannot change the catalogue", () => {
    const texts = findings.map((f) => reasonText(f).en);
    expect(new Set(texts).size).toBe(findings.length);
    reasonText("VALID").en = "changed";
    expect(reasonText("VALID").en).toMatch(/^Valid\./);
  });

  test("ANCHOR_MISMATCH also covers a deposit received after the anchor block", () => {
    expect(reasonText("ANCHOR_MISMATCH").en).toMatch(/received later than that block's time/);
    expect(reasonText("ANCHOR_MISMATCH").zh).toMatch(/接收时间晚于该区块时间/);
  });
});
