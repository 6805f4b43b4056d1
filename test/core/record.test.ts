import canonicalize from "canonicalize";
import fc from "fast-check";
import {
  CoreError,
  canonicalRecord,
  createDepositRecord,
  hashLeaf,
  isDepositor,
  isDigestAlg,
  parseDepositRecord,
  recordLeafHash,
  toHex,
  type DepositRecord,
} from "../../services/core";
import { invariant } from "../../services/core/errors";

const DIGEST = "a".repeat(64);
const base = { depositor: "uscc:91310115MA1K4XXXXX", digest: DIGEST, receivedAt: 1_764_000_000_000 };

function malformedPath(value: unknown): string | undefined {
  try {
    parseDepositRecord(value);
  } catch (e) {
    if (e instanceof CoreError && e.code === "MALFORMED") return e.path;
    throw e;
  }
  return undefined;
}

describe("createDepositRecord", () => {
  test("draws a fresh UUID v4 and a 32-byte salt per record", () => {
    const a = createDepositRecord(base);
    const b = createDepositRecord(base);
    expect(a).toMatchObject({ v: 1, digestAlg: "sha256", ...base });
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.salt).toMatch(/^[0-9a-f]{64}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.salt).not.toBe(b.salt);
    expect("prev" in a).toBe(false);
  });

  test("names sha256 unless told sm3 or tsd-set/1 (protocol.md section 3)", () => {
    expect(createDepositRecord({ ...base, digestAlg: "sm3" }).digestAlg).toBe("sm3");
    expect(createDepositRecord({ ...base, digestAlg: "tsd-set/1" }).digestAlg).toBe("tsd-set/1");
    expect(isDigestAlg("sha256") && isDigestAlg("sm3") && isDigestAlg("tsd-set/1")).toBe(true);
    expect([isDigestAlg("SHA256"), isDigestAlg(undefined), isDigestAlg("md5")]).toEqual([
      false,
      false,
      false,
    ]);
  });

  test("keeps prev, and refuses a record that supersedes itself", () => {
    const first = createDepositRecord(base);
    expect(createDepositRecord({ ...base, prev: first.id }).prev).toBe(first.id);
    expect(() => createDepositRecord({ ...base, id: first.id, prev: first.id })).toThrow(/supersede itself/);
  });

  test("refuses bad fields", () => {
    expect(() => createDepositRecord({ ...base, digest: DIGEST.toUpperCase() })).toThrow(
      expect.objectContaining({ constructor: CoreError, code: "MALFORMED", path: "deposit.digest" }),
    );
    expect(() => createDepositRecord({ ...base, depositor: "公司" })).toThrow(/deposit.depositor/);
    expect(() => createDepositRecord({ ...base, receivedAt: -1 })).toThrow(/receivedAt/);
  });
});

describe("parseDepositRecord is strict", () => {
  const good = createDepositRecord({ ...base, prev: createDepositRecord(base).id });
  const without = (key: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key));

  test("accepts a good record as it is", () => {
    expect(parseDepositRecord(JSON.parse(JSON.stringify(good)))).toEqual(good);
  });

  test.each([
    ["not an object", "x", "deposit"],
    ["an array", [], "deposit"],
    ["null", null, "deposit"],
    ["an unknown field", { ...good, label: "secret formula" }, "deposit.label"],
    ["a missing id", without("id"), "deposit.id"],
    ["a missing salt", without("salt"), "deposit.salt"],
    ["version 2", { ...good, v: 2 }, "deposit.v"],
    ["an uppercase id", { ...good, id: good.id.toUpperCase() }, "deposit.id"],
    ["a UUID v1", { ...good, id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8" }, "deposit.id"],
    ["an empty depositor", { ...good, depositor: "" }, "deposit.depositor"],
    ["a control character", { ...good, depositor: "a\nb" }, "deposit.depositor"],
    ["a 257-character depositor", { ...good, depositor: "x".repeat(257) }, "deposit.depositor"],
    ["another algorithm", { ...good, digestAlg: "sha512" }, "deposit.digestAlg"],
    ["an algorithm in capitals", { ...good, digestAlg: "SM3" }, "deposit.digestAlg"],
    ["a numeric algorithm", { ...good, digestAlg: 256 }, "deposit.digestAlg"],
    ["a short digest", { ...good, digest: "ab" }, "deposit.digest"],
    ["a numeric salt", { ...good, salt: 5 }, "deposit.salt"],
    ["a string time", { ...good, receivedAt: "1764000000000" }, "deposit.receivedAt"],
    ["a fractional time", { ...good, receivedAt: 1.5 }, "deposit.receivedAt"],
    ["an unsafe time", { ...good, receivedAt: 2 ** 53 }, "deposit.receivedAt"],
    ["a bad prev", { ...good, prev: "nope" }, "deposit.prev"],
    ["an undefined prev", { ...good, prev: undefined }, "deposit.prev"],
  ])("refuses %s", (_, value, path) => {
    expect(malformedPath(value)).toBe(path);
  });

  test("depositor identifiers: printable ASCII, 1 to 256 characters", () => {
    expect(isDepositor("uscc:91310115MA1K4XXXXX")).toBe(true);
    expect(isDepositor(" ~")).toBe(true);
    expect(isDepositor("é")).toBe(false);
    expect(isDepositor(7)).toBe(false);
  });
});

describe("canonical form and leaf hash", () => {
  const record: DepositRecord = createDepositRecord(base);

  test("JCS equals JSON with keys sorted and no whitespace (protocol.md section 4)", () => {
    const sorted = Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(canonicalRecord(record)).toBe(JSON.stringify(sorted));
    expect(canonicalRecord(record)).toBe(canonicalize({ ...record }));
  });

  test("leafHash = SHA-256(0x00 || UTF-8(JCS(record)))", () => {
    expect(toHex(recordLeafHash(record))).toBe(
      toHex(hashLeaf(new TextEncoder().encode(canonicalRecord(record)))),
    );
  });

  test("property: key order never changes the leaf; any field change does", () => {
    const field = fc.constantFrom("digest", "salt", "depositor", "receivedAt");
    fc.assert(
      fc.property(
        fc.shuffledSubarray(Object.keys(record), { minLength: 7, maxLength: 7 }),
        field,
        (keys, f) => {
          const shuffled = Object.fromEntries(keys.map((k) => [k, record[k as keyof DepositRecord]]));
          const same = toHex(recordLeafHash(parseDepositRecord(shuffled))) === toHex(recordLeafHash(record));
          const changed = {
            ...record,
            [f]: f === "receivedAt" ? record.receivedAt + 1 : f === "depositor" ? "other" : "b".repeat(64),
          };
          return same && toHex(recordLeafHash(changed)) !== toHex(recordLeafHash(record));
        },
      ),
    );
  });
});

test("invariant() reports a broken invariant as our bug", () => {
  expect(() => invariant(false, "boom")).toThrow(expect.objectContaining({ code: "INVARIANT_VIOLATION" }));
});
