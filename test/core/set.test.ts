import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Wallet } from "ethers";
import {
  CoreError,
  MAX_MEMBER_PATH_BYTES,
  MerkleTree,
  attestationTypedData,
  buildCertificate,
  buildManifest,
  canonicalMember,
  compareUtf8,
  createDepositRecord,
  discloseMember,
  hashChildren,
  hashLeaf,
  isMemberDigestAlg,
  isMemberPath,
  memberLeafHash,
  memberPathProblem,
  parseDisclosure,
  parseManifest,
  parseSetMember,
  recordLeafHash,
  signAttestation,
  to0xHex,
  toHex,
  verifyCertificate,
  verifyDisclosure,
  type Certificate,
  type ChainReader,
  type DigestAlg,
  type Disclosure,
  type NewSetMember,
  type SetManifest,
  type SetMember,
} from "../../services/core";
import { memoryChain, type ChainFacts } from "../helpers/memory-chain";

// Deposit sets and selective disclosure (protocol.md section 10).

const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "certificate.json"), "utf8")) as {
  certificate: Certificate;
  chain: ChainFacts;
  certifierPrivateKey: string;
};
const certifier = new Wallet(vector.certifierPrivateKey);
const hex = (label: string | number) => toHex(hashLeaf(new TextEncoder().encode(String(label))));

/** A signed certificate for a deposit of `digest` (a set root unless told otherwise) and a chain that holds it. */
async function certify(
  digest: string,
  digestAlg: DigestAlg = "tsd-set/1",
): Promise<{ certificate: Certificate; chain: ChainReader }> {
  const records = [0, 1, 2].map((i) =>
    createDepositRecord({
      depositor: i === 1 ? "uscc:91310115MA1K4XXXXX" : "tenant:other",
      digestAlg: i === 1 ? digestAlg : "sha256",
      digest: i === 1 ? digest : hex(`other ${i}`),
      receivedAt: 1_764_000_000_000 + i,
    }),
  );
  const tree = MerkleTree.fromLeafHashes(records.map(recordLeafHash));
  const anchor = { ...vector.certificate.anchor, root: to0xHex(tree.root) };
  const typedData = attestationTypedData(anchor, tree.size, anchor.blockTimestamp);
  const certificate = buildCertificate({
    deposit: records[1]!,
    leafIndex: 1,
    treeSize: tree.size,
    auditPath: tree.auditPath(1),
    anchor,
    attestation: { ...(await signAttestation(certifier, typedData)), typedData },
  });
  const facts = { ...vector.chain, anchorOf: { ...vector.chain.anchorOf, treeSize: tree.size } };
  return { certificate, chain: memoryChain(facts, anchor) };
}

const FOLDER: NewSetMember[] = [
  { path: "配方/主配方.txt", digest: hex("formula"), bytes: 55 },
  { path: "README.md", digest: hex("readme"), bytes: 57 },
  { path: "src/main.c", digest: hex("main"), bytes: 66 },
  { path: "报告/2025年/实验记录.pdf", digestAlg: "sm3", digest: hex("report"), bytes: 82 },
  { path: "empty.txt", digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", bytes: 0 },
];
const manifest = buildManifest(FOLDER);
const FORMULA = "配方/主配方.txt";
const REPORT = "报告/2025年/实验记录.pdf";
let certificate: Certificate;
let chain: ChainReader;
beforeAll(async () => ({ certificate, chain } = await certify(manifest.root)));

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const member = (): SetMember => clone(manifest.members[0]!);

/** The CoreError's code and path, or null when `f` does not throw. */
function failure(f: () => unknown): { code: string; path?: string | undefined; message: string } | null {
  try {
    f();
  } catch (e) {
    if (e instanceof CoreError) return { code: e.code, path: e.path, message: e.message };
    throw e;
  }
  return null;
}

/** The reason code, or the outcome when not INVALID. */
async function codeOf(
  disclosure: unknown,
  options: { fileDigest?: string; certificate?: unknown; chain?: ChainReader | null } = {},
) {
  const r = await verifyDisclosure(disclosure, options.certificate ?? certificate, {
    ...(options.chain !== null && { chain: options.chain ?? chain }),
    ...(options.fileDigest !== undefined && { fileDigest: options.fileDigest }),
  });
  return r.outcome === "INVALID" ? r.code : r.outcome;
}

describe("member paths", () => {
  test.each([
    "a",
    "README.md",
    "配方/主配方.txt",
    "报告/2025年/实验记录.pdf",
    "a/b/c/d",
    ".hidden/...",
    "a b/c-d_e.f",
    "café", // precomposed é, NFC
    "\u{1F600}/\uFF01",
    "x".repeat(MAX_MEMBER_PATH_BYTES),
    "中".repeat(1365), // 4095 bytes
    "é".repeat(2048), // 4096 bytes
    "\u{1F600}".repeat(1024), // 4096 bytes
  ])("accepts %j", (p) => {
    expect(memberPathProblem(p)).toBeNull();
    expect(isMemberPath(p)).toBe(true);
  });

  test.each([
    [7, /expected a string/],
    [null, /expected a string/],
    ["", /non-empty/],
    ["x".repeat(MAX_MEMBER_PATH_BYTES + 1), /longer than 4096 UTF-8 bytes/],
    ["中".repeat(1366), /longer than 4096/], // 4098 bytes in 1366 units
    ["é".repeat(2049), /longer than 4096/],
    ["\u{1F600}".repeat(1025), /longer than 4096/],
    ["a\ud800", /lone surrogate/],
    ["\udc00a", /lone surrogate/],
    ["\ude00\ud83d", /lone surrogate/], // a pair in the wrong order
    ["a\u0000b", /control character/],
    ["a\nb", /control character/],
    ["a\tb", /control character/],
    ["a\u001fb", /control character/],
    ["a\u007f", /control character/],
    ["a\u0085", /control character/],
    ["a\u009f", /control character/],
    ["a\\b", /backslash/],
    ["cafe\u0301", /NFC/],
    ["\uAC00\u11A8".normalize("NFD"), /NFC/],
    ["/etc/passwd", /absolute/],
    ["/", /absolute/],
    ["a/", /empty segment/],
    ["a//b", /empty segment/],
    [".", /"\." segment/],
    ["..", /"\.\." segment/],
    ["./a", /"\." segment/],
    ["a/./b", /"\." segment/],
    ["a/../b", /"\.\." segment/],
    ["a/..", /"\.\." segment/],
  ])("refuses %j", (p, why) => {
    expect(memberPathProblem(p)).toMatch(why);
    expect(isMemberPath(p)).toBe(false);
  });
});

describe("compareUtf8: the order of UTF-8 bytes", () => {
  const bytesCompare = (a: string, b: string) => {
    const x = new TextEncoder().encode(a);
    const y = new TextEncoder().encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return Math.sign(x.length - y.length);
  };

  test("an astral character sorts after U+FF01, although JS < says otherwise", () => {
    expect(compareUtf8("\u{1F600}", "\uFF01")).toBe(1);
    expect(compareUtf8("\uFF01", "\u{1F600}")).toBe(-1);
    expect("\u{1F600}" < "\uFF01").toBe(true);
    expect(compareUtf8("a/\u{1F600}.txt", "a/\uFF01.txt")).toBe(1);
  });

  test("equal, prefix and ASCII cases", () => {
    expect(compareUtf8("", "")).toBe(0);
    expect(compareUtf8("配方", "配方")).toBe(0);
    expect(compareUtf8("\u{1F600}", "\u{1F600}")).toBe(0);
    expect(compareUtf8("a", "a/b")).toBe(-1);
    expect(compareUtf8("a/b", "a")).toBe(1);
    expect(compareUtf8("B", "a")).toBe(-1);
    expect(compareUtf8("a.txt", "a/b")).toBe(-1); // "." 0x2e before "/" 0x2f
  });

  test("property: the sign equals a comparison of the UTF-8 bytes", () => {
    const text = fc.string({ unit: "binary", maxLength: 6 });
    fc.assert(fc.property(text, text, (a, b) => compareUtf8(a, b) === bytesCompare(a, b)));
  });

  test("property: over any UTF-16 (lone surrogates too) the order is total and consistent with ===", () => {
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const wtf = fc.string({
      unit: fc.oneof(unit, fc.constantFrom("a", "\uD83D\uDE00", "\uFF01")),
      maxLength: 5,
    });
    fc.assert(
      fc.property(wtf, wtf, (a, b) => {
        const c = compareUtf8(a, b);
        return c === -compareUtf8(b, a) && (c === 0) === (a === b);
      }),
    );
  });
});

describe("parseSetMember is strict", () => {
  const without = (key: string) => Object.fromEntries(Object.entries(member()).filter(([k]) => k !== key));

  test("accepts a good member as it is", () => {
    const m = member();
    expect(parseSetMember(m)).toBe(m);
    expect(isMemberDigestAlg("sm3") && isMemberDigestAlg("sha256")).toBe(true);
    expect([isMemberDigestAlg("tsd-set/1"), isMemberDigestAlg(1)]).toEqual([false, false]);
  });

  test.each<[string, unknown, string]>([
    ["a string", "member", "member"],
    ["an array", [], "member"],
    ["null", null, "member"],
    ["an unknown field", { ...member(), mtime: 1 }, "member.mtime"],
    ...["v", "path", "digestAlg", "digest", "salt", "bytes"].map((k): [string, unknown, string] => [
      `a missing ${k}`,
      without(k),
      `member.${k}`,
    ]),
    ["version 2", { ...member(), v: 2 }, "member.v"],
    ["a string version", { ...member(), v: "1" }, "member.v"],
    ["a numeric path", { ...member(), path: 1 }, "member.path"],
    ["an absolute path", { ...member(), path: "/a" }, "member.path"],
    ["a non-NFC path", { ...member(), path: "cafe\u0301" }, "member.path"],
    ["a set as a member", { ...member(), digestAlg: "tsd-set/1" }, "member.digestAlg"],
    ["an algorithm in capitals", { ...member(), digestAlg: "SM3" }, "member.digestAlg"],
    ["an uppercase digest", { ...member(), digest: member().digest.toUpperCase() }, "member.digest"],
    ["a 0x digest", { ...member(), digest: `0x${member().digest}` }, "member.digest"],
    ["a short salt", { ...member(), salt: "ab" }, "member.salt"],
    ["a numeric salt", { ...member(), salt: 5 }, "member.salt"],
    ["negative bytes", { ...member(), bytes: -1 }, "member.bytes"],
    ["fractional bytes", { ...member(), bytes: 1.5 }, "member.bytes"],
    ["string bytes", { ...member(), bytes: "5" }, "member.bytes"],
    ["unsafe bytes", { ...member(), bytes: 2 ** 53 }, "member.bytes"],
  ])("refuses %s", (_, value, path) => {
    expect(failure(() => parseSetMember(value))).toMatchObject({ code: "MALFORMED", path });
  });

  test("names the path it was given, and why a path is refused", () => {
    expect(failure(() => parseSetMember({ ...member(), path: "a//b" }, "members[3]"))).toEqual({
      code: "MALFORMED",
      path: "members[3].path",
      message: "members[3].path: an empty segment (// or a trailing /)",
    });
  });
});

describe("member leaf", () => {
  const chinese: SetMember = { ...member(), path: FORMULA };

  test("JCS keeps non-ASCII characters as themselves (RFC 8785), sorted keys, no whitespace", () => {
    const jcs = canonicalMember(chinese);
    expect(jcs).toContain(`"path":"${FORMULA}"`);
    expect(jcs).not.toContain("\\u");
    const sorted = Object.fromEntries(Object.entries(chinese).sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(jcs).toBe(JSON.stringify(sorted));
    expect(jcs.startsWith('{"bytes":')).toBe(true);
    // 配 is U+914D, E9 85 8D in UTF-8: those bytes are what is hashed.
    expect(toHex(new TextEncoder().encode(jcs))).toContain("e9858d");
  });

  test("leaf = SHA-256(0x00 || UTF-8(JCS(member))), whatever the key order", () => {
    const leaf = toHex(memberLeafHash(chinese));
    expect(leaf).toBe(toHex(hashLeaf(new TextEncoder().encode(canonicalMember(chinese)))));
    const reversed = Object.fromEntries(Object.entries(chinese).reverse()) as unknown as SetMember;
    expect(toHex(memberLeafHash(reversed))).toBe(leaf);
  });

  test("property: any field change changes the leaf", () => {
    const changes: ((m: SetMember) => SetMember)[] = [
      (m) => ({ ...m, path: `${m.path}x` }),
      (m) => ({ ...m, digestAlg: m.digestAlg === "sm3" ? "sha256" : "sm3" }),
      (m) => ({ ...m, digest: "b".repeat(64) }),
      (m) => ({ ...m, salt: "c".repeat(64) }),
      (m) => ({ ...m, bytes: m.bytes + 1 }),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...changes), fc.constantFrom(...manifest.members), (change, m) => {
        return toHex(memberLeafHash(change(m))) !== toHex(memberLeafHash(m));
      }),
    );
  });
});

describe("buildManifest", () => {
  test("sorts by UTF-8 bytes, defaults to sha256, draws a fresh salt per member", () => {
    expect(manifest.format).toBe("tsd-set-manifest/1");
    expect(manifest.members.map((m) => m.path)).toEqual([
      "README.md",
      "empty.txt",
      "src/main.c",
      REPORT,
      FORMULA,
    ]);
    expect(manifest.members.map((m) => m.digestAlg)).toEqual(["sha256", "sha256", "sha256", "sm3", "sha256"]);
    const again = buildManifest(FOLDER);
    expect(again.root).not.toBe(manifest.root);
    const salts = [...manifest.members, ...again.members].map((m) => m.salt);
    expect(new Set(salts).size).toBe(salts.length);
    salts.forEach((s) => expect(s).toMatch(/^[0-9a-f]{64}$/));
  });

  test("U+FF01 before U+1F600, unlike a JS sort", () => {
    const m = buildManifest([
      { path: "\u{1F600}.txt", digest: hex(1), bytes: 1 },
      { path: "\uFF01.txt", digest: hex(2), bytes: 1 },
    ]);
    expect(m.members.map((x) => x.path)).toEqual(["\uFF01.txt", "\u{1F600}.txt"]);
    expect(["\uFF01.txt", "\u{1F600}.txt"].sort()).toEqual(["\u{1F600}.txt", "\uFF01.txt"]);
  });

  test("keeps given salts, drops foreign input fields; the root is the RFC 9162 root of the member leaves", () => {
    const input = FOLDER.map((m, i) => ({ ...m, salt: hex(`salt ${i}`), localFile: `/home/x/${m.path}` }));
    const built = buildManifest(input);
    const a = buildManifest(input);
    expect(a).toEqual(built);
    expect(Object.keys(built.members[0]!)).toEqual(["v", "path", "digestAlg", "digest", "salt", "bytes"]);
    expect(built.root).toBe(toHex(MerkleTree.fromLeafHashes(built.members.map(memberLeafHash)).root));
    expect(parseManifest(clone(built))).toEqual(built);
  });

  test("refuses an empty set and a repeated path (INVALID_ARGUMENT), a bad member (MALFORMED at its input index)", () => {
    expect(failure(() => buildManifest([]))).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(
      failure(() => buildManifest([...FOLDER, { path: "README.md", digest: hex(9), bytes: 1 }])),
    ).toEqual({
      code: "INVALID_ARGUMENT",
      path: undefined,
      message: "the path README.md appears twice",
    });
    expect(
      failure(() => buildManifest([...FOLDER, { path: "a/../b", digest: hex(9), bytes: 1 }])),
    ).toMatchObject({
      code: "MALFORMED",
      path: "members[5].path",
    });
    expect(failure(() => buildManifest([{ path: "a", digest: hex(9), bytes: 1, salt: "00" }]))).toMatchObject(
      {
        code: "MALFORMED",
        path: "members[0].salt",
      },
    );
  });
});

describe("parseManifest is strict and checks the root", () => {
  const mutate = (f: (m: Record<string, any>) => void) => {
    const m = clone(manifest) as Record<string, any>;
    f(m);
    return m;
  };

  test("accepts a good manifest as it is", () => {
    const m = clone(manifest);
    expect(parseManifest(m)).toBe(m);
  });

  test.each([
    ["not an object", () => "manifest", "manifest"],
    ["an unknown field", () => mutate((m) => (m.depositor = "x")), "manifest.depositor"],
    ["a missing root", () => mutate((m) => delete m.root), "manifest.root"],
    ["another format", () => mutate((m) => (m.format = "tsd-set-manifest/2")), "manifest.format"],
    ["a 0x root", () => mutate((m) => (m.root = `0x${m.root}`)), "manifest.root"],
    ["an uppercase root", () => mutate((m) => (m.root = m.root.toUpperCase())), "manifest.root"],
    ["members not an array", () => mutate((m) => (m.members = {})), "manifest.members"],
    ["no members", () => mutate((m) => (m.members = [])), "manifest.members"],
    ["a bad member", () => mutate((m) => (m.members[1].digest = "x")), "manifest.members[1].digest"],
    ["an extra member field", () => mutate((m) => (m.members[4].note = "")), "manifest.members[4].note"],
    ["members out of order", () => mutate((m) => m.members.reverse()), "manifest.members[1].path"],
    [
      "a repeated path",
      () => mutate((m) => (m.members[2] = { ...m.members[2], path: m.members[1].path })),
      "manifest.members[2].path",
    ],
    ["another root", () => mutate((m) => (m.root = hex("other"))), "manifest.root"],
    ["a changed salt", () => mutate((m) => (m.members[0].salt = hex("salt"))), "manifest.root"],
    ["a dropped member", () => mutate((m) => m.members.pop()), "manifest.root"],
  ])("refuses %s", (_, make, path) => {
    expect(failure(() => parseManifest(make()))).toMatchObject({ code: "MALFORMED", path });
  });

  test("refuses JS string order where it differs from UTF-8 order", () => {
    const m = buildManifest([
      { path: "\uFF01", digest: hex(1), bytes: 1 },
      { path: "\u{1F600}", digest: hex(2), bytes: 1 },
    ]);
    const jsOrder = { ...m, members: [...m.members].reverse() };
    expect(failure(() => parseManifest(jsOrder))).toMatchObject({ path: "manifest.members[1].path" });
  });
});

describe("discloseMember", () => {
  test("gives the member (a copy) and its RFC 9162 audit path", () => {
    const d = discloseMember(manifest, FORMULA);
    const index = manifest.members.findIndex((m) => m.path === FORMULA);
    const tree = MerkleTree.fromLeafHashes(manifest.members.map(memberLeafHash));
    expect(d).toEqual({
      format: "tsd-disclosure/1",
      root: manifest.root,
      member: manifest.members[index],
      proof: { leafIndex: index, treeSize: 5, auditPath: tree.auditPath(index).map(to0xHex) },
    });
    expect(d.member).not.toBe(manifest.members[index]);
    expect(parseDisclosure(clone(d))).toEqual(d);
  });

  test("a path not in the set is the caller's mistake; a bad manifest is MALFORMED", () => {
    expect(failure(() => discloseMember(manifest, "missing.txt"))).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: 'the set has no member "missing.txt"',
    });
    // the same name in NFD is another path
    expect(failure(() => discloseMember(manifest, FORMULA.normalize("NFD") + "x"))?.code).toBe(
      "INVALID_ARGUMENT",
    );
    const broken = { ...manifest, root: hex("x") } as SetManifest;
    expect(failure(() => discloseMember(broken, FORMULA))).toMatchObject({
      code: "MALFORMED",
      path: "manifest.root",
    });
  });
});

describe("parseDisclosure is strict", () => {
  const good = () => clone(discloseMember(manifest, FORMULA)) as unknown as Record<string, any>;
  const mutate = (f: (d: Record<string, any>) => void) => {
    const d = good();
    f(d);
    return d;
  };

  test.each([
    ["not an object", () => 42, "disclosure"],
    ["an array", () => [], "disclosure"],
    ["an unknown field", () => mutate((d) => (d.certificate = {})), "disclosure.certificate"],
    ["a missing member", () => mutate((d) => delete d.member), "disclosure.member"],
    ["a missing proof", () => mutate((d) => delete d.proof), "disclosure.proof"],
    ["another format", () => mutate((d) => (d.format = "tsd-disclosure/2")), "disclosure.format"],
    ["a 0x root", () => mutate((d) => (d.root = `0x${d.root}`)), "disclosure.root"],
    ["an uppercase root", () => mutate((d) => (d.root = d.root.toUpperCase())), "disclosure.root"],
    ["a bad member salt", () => mutate((d) => (d.member.salt = "")), "disclosure.member.salt"],
    ["a bad member path", () => mutate((d) => (d.member.path = "../x")), "disclosure.member.path"],
    ["a proof that is not an object", () => mutate((d) => (d.proof = [])), "disclosure.proof"],
    ["an extra proof field", () => mutate((d) => (d.proof.root = "")), "disclosure.proof.root"],
    ["a missing leaf index", () => mutate((d) => delete d.proof.leafIndex), "disclosure.proof.leafIndex"],
    ["a negative leaf index", () => mutate((d) => (d.proof.leafIndex = -1)), "disclosure.proof.leafIndex"],
    ["a string leaf index", () => mutate((d) => (d.proof.leafIndex = "4")), "disclosure.proof.leafIndex"],
    ["a zero tree size", () => mutate((d) => (d.proof.treeSize = 0)), "disclosure.proof.treeSize"],
    ["a fractional tree size", () => mutate((d) => (d.proof.treeSize = 5.5)), "disclosure.proof.treeSize"],
    [
      "an audit path that is not an array",
      () => mutate((d) => (d.proof.auditPath = "")),
      "disclosure.proof.auditPath",
    ],
    [
      "an audit path of 65 elements",
      () => mutate((d) => (d.proof.auditPath = Array(65).fill(d.proof.auditPath[0]))),
      "disclosure.proof.auditPath",
    ],
    [
      "an element without 0x",
      () => mutate((d) => (d.proof.auditPath[0] = d.proof.auditPath[0].slice(2))),
      "disclosure.proof.auditPath[0]",
    ],
    [
      "an uppercase element",
      () => mutate((d) => (d.proof.auditPath[0] = d.proof.auditPath[0].toUpperCase().replace("0X", "0x"))),
      "disclosure.proof.auditPath[0]",
    ],
    ["a numeric element", () => mutate((d) => (d.proof.auditPath[0] = 1)), "disclosure.proof.auditPath[0]"],
  ])("refuses %s", (_, make, path) => {
    expect(failure(() => parseDisclosure(make()))).toMatchObject({ code: "MALFORMED", path });
  });

  test("accepts 64 elements and an empty path (a set of one)", () => {
    expect(() =>
      parseDisclosure(mutate((d) => (d.proof.auditPath = Array(64).fill(d.proof.auditPath[0])))),
    ).not.toThrow();
    const one = buildManifest([{ path: "only.txt", digest: hex(1), bytes: 1 }]);
    const d = discloseMember(one, "only.txt");
    expect(d.proof).toEqual({ leafIndex: 0, treeSize: 1, auditPath: [] });
    expect(d.root).toBe(toHex(memberLeafHash(one.members[0]!)));
  });
});

describe("verifyDisclosure", () => {
  const disclosure = (path = FORMULA) => clone(discloseMember(manifest, path)) as Disclosure;
  const formula = () => manifest.members.find((m) => m.path === FORMULA)!;

  test("VALID: the file belonged to the set deposited by X no later than T", async () => {
    const d = disclosure();
    const r = await verifyDisclosure(d, clone(certificate), {
      chain,
      fileDigest: formula().digest.toUpperCase(),
    });
    expect(r).toMatchObject({ outcome: "VALID", digestChecked: true, disclosure: d, certificate });
    expect(r.message).toBe(
      `file ${FORMULA} (digest ${formula().digest}) belonged to the set deposited by ` +
        "uscc:91310115MA1K4XXXXX no later than 2025-11-24T16:01:00.000Z (block 42, chain 31337)",
    );
    const unchecked = await verifyDisclosure(d, certificate, { chain });
    expect(unchecked).toMatchObject({ outcome: "VALID", digestChecked: false });
  });

  test("the certificate's own digest step is skipped, even if a digest sneaks into the options", async () => {
    const options = { chain, digest: "0".repeat(64) } as Parameters<typeof verifyDisclosure>[2];
    expect((await verifyDisclosure(disclosure(), certificate, options)).outcome).toBe("VALID");
  });

  test("a malformed file digest is the caller's mistake", async () => {
    await expect(verifyDisclosure(disclosure(), certificate, { fileDigest: "abc" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  test("MALFORMED: the disclosure, or the certificate exactly as verifyCertificate says", async () => {
    const d = disclosure() as unknown as Record<string, any>;
    d.proof.treeSize = "5";
    const r = await verifyDisclosure(d, certificate, { chain, fileDigest: formula().digest });
    expect(r).toMatchObject({ outcome: "INVALID", code: "MALFORMED", digestChecked: true });
    expect(r.message).toMatch(/^disclosure\.proof\.treeSize: /);
    expect(r.disclosure).toBeUndefined();

    const c = clone(certificate) as unknown as Record<string, any>;
    c.anchor.txHash = "0xZZ";
    const rc = await verifyDisclosure(disclosure(), c, { chain });
    expect(rc).toMatchObject({ outcome: "INVALID", code: "MALFORMED", disclosure: disclosure() });
    expect(rc.message).toBe((await verifyCertificate(c)).message);
    expect(rc.certificate).toBeUndefined();
    // the disclosure is parsed first
    expect((await verifyDisclosure({}, c)).message).toMatch(/^disclosure\./);
  });

  test("DIGEST_MISMATCH for another file, naming the member's algorithm", async () => {
    const r = await verifyDisclosure(disclosure(), certificate, { chain, fileDigest: hex("other file") });
    expect(r).toMatchObject({ outcome: "INVALID", code: "DIGEST_MISMATCH", digestChecked: true });
    expect(r.message).toBe("the file's SHA-256 differs from the member's digest");
    const sm3 = await verifyDisclosure(disclosure(REPORT), certificate, { fileDigest: hex("other file") });
    expect(sm3.message).toBe("the file's SM3 differs from the member's digest");
    const report = manifest.members.find((m) => m.path === REPORT)!;
    expect(await codeOf(disclosure(REPORT), { fileDigest: report.digest })).toBe("VALID");
  });

  describe("PROOF_INVALID", () => {
    const change = (f: (d: Record<string, any>) => void) => {
      const d = disclosure() as unknown as Record<string, any>;
      f(d);
      return d;
    };
    test.each([
      ["a changed path", (d: Record<string, any>) => (d.member.path = "配方/副配方.txt")],
      ["a changed salt", (d: Record<string, any>) => (d.member.salt = hex("salt"))],
      ["a changed size", (d: Record<string, any>) => (d.member.bytes += 1)],
      ["a changed digest", (d: Record<string, any>) => (d.member.digest = hex("other"))],
      ["a changed algorithm", (d: Record<string, any>) => (d.member.digestAlg = "sm3")],
      ["another leaf index", (d: Record<string, any>) => (d.proof.leafIndex = 3)],
      ["a leaf index past the size", (d: Record<string, any>) => (d.proof.leafIndex = 5)],
      ["a tree size of another shape", (d: Record<string, any>) => (d.proof.treeSize = 6)],
      ["a changed path element", (d: Record<string, any>) => (d.proof.auditPath[0] = `0x${hex("x")}`)],
      ["a dropped path element", (d: Record<string, any>) => d.proof.auditPath.pop()],
      ["an extra path element", (d: Record<string, any>) => d.proof.auditPath.push(`0x${hex("x")}`)],
      ["another root", (d: Record<string, any>) => (d.root = hex("root"))],
    ])("%s", async (_, f) => {
      const r = await verifyDisclosure(change(f), certificate, { chain });
      expect(r).toMatchObject({ outcome: "INVALID", code: "PROOF_INVALID" });
      expect(r.message).toBe("the disclosure's audit path does not lead to its set root");
    });

    test("a certificate for another set, or for a plain deposit of the same digest", async () => {
      const other = await certify(buildManifest(FOLDER).root);
      const r = await verifyDisclosure(disclosure(), other.certificate, { chain: other.chain });
      expect(r).toMatchObject({
        code: "PROOF_INVALID",
        message: "the certificate deposits another set root",
      });
      for (const alg of ["sha256", "sm3"] as const) {
        const plain = await certify(manifest.root, alg);
        const rp = await verifyDisclosure(disclosure(), plain.certificate, { chain: plain.chain });
        expect(rp).toMatchObject({
          code: "PROOF_INVALID",
          message: "the certificate is not for a deposit set",
        });
      }
    });
  });

  test("then the certificate's own findings, unchanged", async () => {
    const forged = clone(certificate);
    forged.attestation.signature = `0x${"00".repeat(65)}`;
    expect(await codeOf(disclosure(), { certificate: forged })).toBe("SIGNATURE_INVALID");
    const tampered = clone(certificate);
    tampered.deposit = { ...tampered.deposit, receivedAt: tampered.deposit.receivedAt + 1 };
    expect(await codeOf(disclosure(), { certificate: tampered })).toBe("PROOF_INVALID");
    const elsewhere = memoryChain(vector.chain, {
      registry: certificate.anchor.registry,
      root: `0x${hex("r")}`,
    });
    expect(await codeOf(disclosure(), { chain: elsewhere })).toBe("NOT_ANCHORED");
    const untrusted = await verifyDisclosure(disclosure(), certificate, {
      chain,
      registry: "0x0000000000000000000000000000000000000001",
    });
    expect(untrusted.code).toBe("NOT_ANCHORED");
    const offline = await verifyDisclosure(disclosure(), certificate, { fileDigest: formula().digest });
    expect(offline).toMatchObject({
      outcome: "UNANCHORED_CHECK_ONLY",
      digestChecked: true,
      disclosure: disclosure(),
    });
  });

  test("the order of protocol.md section 10: the first failing step decides", async () => {
    const d = disclosure();
    const bad = { ...d, member: { ...d.member, salt: hex("salt") } }; // step 3 fails
    const forged = clone(certificate);
    forged.attestation.signature = `0x${"00".repeat(65)}`; // step 4 would too
    expect(await codeOf(bad, { certificate: forged, fileDigest: hex("x") })).toBe("DIGEST_MISMATCH");
    expect(await codeOf(bad, { certificate: forged })).toBe("PROOF_INVALID");
    expect(await codeOf({ ...d, format: "x" }, { certificate: forged, fileDigest: hex("x") })).toBe(
      "MALFORMED",
    );
  });

  test("a parse error that is not MALFORMED is not swallowed", async () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new TypeError("trap");
        },
      },
    );
    await expect(verifyDisclosure(hostile, certificate)).rejects.toThrow("trap");
    await expect(verifyDisclosure(disclosure(), hostile)).rejects.toThrow("trap");
  });

  test("leafIndex and treeSize are not authenticated by the root alone; membership still is", async () => {
    // RFC 9162 folds (0, 5) and (0, 8) the same way: the path proves the member is a leaf of
    // the set tree, not how many leaves the set has, so the statement never cites the size.
    const d = disclosure("README.md");
    expect(d.proof).toMatchObject({ leafIndex: 0, treeSize: 5 });
    const resized = { ...d, proof: { ...d.proof, treeSize: 8 } };
    const r = await verifyDisclosure(resized, certificate, { chain });
    expect(r.outcome).toBe("VALID");
    expect(r.message).not.toMatch(/\b(5|8) (members|files)\b/);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random sets.

const CHARS = [
  ..."abcxyzABZ019-_. ",
  "é",
  "配",
  "方",
  "报",
  "告",
  "年",
  "实",
  "验",
  "\uFF01",
  "\u{1F600}",
  "\u{20000}",
];
const segment = fc
  .array(fc.constantFrom(...CHARS), { minLength: 1, maxLength: 6 })
  .map((cs) => cs.join(""))
  .filter((s) => s !== "." && s !== "..");
const memberPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"));
const newMember = fc.record({
  path: memberPath,
  digestAlg: fc.constantFrom("sha256" as const, "sm3" as const),
  digest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex),
  bytes: fc.nat(),
});
const randomSet = fc.uniqueArray(newMember, { minLength: 1, maxLength: 64, selector: (m) => m.path });

/** Every node of the RFC 9162 tree over `leaves`: leaves and inner nodes, as 0x hex. */
function allNodes(leaves: Uint8Array[]): Set<string> {
  const out = new Set<string>();
  const mth = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) {
      out.add(to0xHex(leaves[lo]!));
      return leaves[lo]!;
    }
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    const h = hashChildren(mth(lo, lo + k), mth(lo + k, hi));
    out.add(to0xHex(h));
    return h;
  };
  mth(0, leaves.length);
  return out;
}

test("property: every member's disclosure verifies against the set's certificate, with its file", async () => {
  await fc.assert(
    fc.asyncProperty(randomSet, async (members) => {
      const m = buildManifest(members);
      expect(m.members.every((x) => x.path.normalize("NFC") === x.path)).toBe(true);
      const { certificate: c, chain: reader } = await certify(m.root);
      for (const x of m.members) {
        const d = JSON.parse(JSON.stringify(discloseMember(m, x.path)));
        const r = await verifyDisclosure(d, JSON.parse(JSON.stringify(c)), {
          chain: reader,
          fileDigest: x.digest,
        });
        expect(r.outcome).toBe("VALID");
        expect(r.message.startsWith(`file ${x.path} (digest ${x.digest}) belonged to the set`)).toBe(true);
      }
    }),
    { numRuns: 15 },
  );
});

test("property: a tampered disclosure or another file fails with the right code", async () => {
  type Tamper = "file" | "path" | "salt" | "bytes" | "leafIndex" | "treeSize";
  const tampers: Tamper[] = ["file", "path", "salt", "bytes", "leafIndex", "treeSize"];
  await fc.assert(
    fc.asyncProperty(
      randomSet.filter((s) => s.length >= 2),
      fc.nat(),
      fc.constantFrom(...tampers),
      fc.nat(),
      async (members, pick, tamper, other) => {
        const m = buildManifest(members);
        const i = pick % m.members.length;
        const x = m.members[i]!;
        const d = clone(discloseMember(m, x.path)) as unknown as Record<string, any>;
        let fileDigest: string | undefined;
        if (tamper === "file") fileDigest = hex(`another file ${other}`);
        if (tamper === "path") d.member.path = `${x.path}~`;
        if (tamper === "salt") d.member.salt = hex(`salt ${other}`);
        if (tamper === "bytes") d.member.bytes = x.bytes + 1 + (other % 1000);
        if (tamper === "leafIndex")
          d.proof.leafIndex = (i + 1 + (other % (m.members.length - 1))) % m.members.length;
        if (tamper === "treeSize") {
          // any size whose audit path for this index has another shape (see the test above)
          const sizes = Array.from({ length: 2 * m.members.length }, (_, n) => n + 1).filter(
            (n) => n !== m.members.length && !sameShape(i, m.members.length, n),
          );
          fc.pre(sizes.length > 0);
          d.proof.treeSize = sizes[other % sizes.length];
        }
        const { certificate: c, chain: reader } = await certify(m.root);
        const code = await codeOf(d, { certificate: c, chain: reader, ...(fileDigest && { fileDigest }) });
        expect(code).toBe(tamper === "file" ? "DIGEST_MISMATCH" : "PROOF_INVALID");
      },
    ),
    { numRuns: 60 },
  );
});

/** True when leaf `index` has an audit path of the same length and left/right pattern in trees of `n` and `m` leaves. */
function sameShape(index: number, n: number, m: number): boolean {
  if (index >= m) return false;
  const pattern = (size: number) => {
    const out: string[] = [];
    let fn = index;
    let sn = size - 1;
    while (sn > 0) {
      if (fn % 2 === 1 || fn === sn) {
        out.push("L");
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      } else out.push("R");
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return out.join("");
  };
  return pattern(n) === pattern(m);
}

test("property: a disclosure carries nothing of the other members but sibling hashes", () => {
  fc.assert(
    fc.property(randomSet, fc.nat(), (members, pick) => {
      const m = buildManifest(members);
      const x = m.members[pick % m.members.length]!;
      const d = discloseMember(m, x.path);
      const json = JSON.stringify(d);
      const leaves = m.members.map(memberLeafHash);
      const nodes = allNodes(leaves);
      const own = to0xHex(memberLeafHash(x));
      for (const y of m.members) {
        if (y === x) continue;
        // another path can be a substring of this one ("a" in "a/b"); check the JSON string values
        expect(json).not.toContain(JSON.stringify(y.path));
        if (y.digest !== x.digest) expect(json).not.toContain(y.digest);
        expect(json).not.toContain(y.salt);
      }
      expect(Object.keys(d)).toEqual(["format", "root", "member", "proof"]);
      for (const h of d.proof.auditPath) {
        expect(nodes.has(h)).toBe(true);
        expect(h).not.toBe(own);
        expect(m.members.some((y) => h.slice(2) === y.digest)).toBe(false);
      }
    }),
    { numRuns: 100 },
  );
});
