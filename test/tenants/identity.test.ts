import fc from "fast-check";
import { usccWithChecks } from "../helpers/identity";
import {
  EXAMPLE_DEPOSITORS,
  depositorLookalikeKey,
  parseDepositor,
  suggestDepositor,
} from "../../services/tenants/identity";

// Real codes, to check the rules against codes that were issued, not only against codes this
// file computes. Where each comes from:
// - 914403001922038216: Huawei Technologies Co., Ltd., zh.wikipedia.org article 華為 (infobox).
// - The rest: python-stdnum, tests/test_cn_uscc.doctest ("found online and should all be
//   valid numbers"), github.com/arthurdejong/python-stdnum; holders not checked.
const REAL_USCCS = [
  "914403001922038216",
  "121200004013590816",
  "91110000600037341L",
  "91110000710926094P",
  "91120224064012553U",
  "911522010783710635",
  "91152201078371135X",
  "9115220107837757XE",
  "9115220107837941X1",
  "9115220107839138X8",
  "91310000631696382C",
  "91310000797046224D",
  "91310112087994932F",
  "913101127033980359",
  "91310115MA1K3BTP2B",
  "9131012056010553X5",
  "91320214745555318W",
  "913205056082348768",
  "91340600MA2PBM9HXD",
  "91340600MA2PBMA74B",
  "91340603MA2UJXXCXF",
  "91340621MA2PEMUHX8",
  "91371082775260043P",
  "91420684MA4927PJ7B",
  "91440300568520498A",
  "9144030071526726XG",
  "9144060573144633XL",
  "91620105L015101280",
  "91620105789620900B",
  "91620105MA71T4YW8Q",
  "91620105MA73NBBLXE",
  "92340602MA2PBMEM24",
  "92340602MA2UK33127",
  "92340603MA2PBN161D",
  "92340603MA2PBN17X5",
  "92340603MA2PBQ16XJ",
  "92340621MA2PBKRXXG",
  "92340621MA2UK3PJXE",
] as const;

// - 54930084UKLVMY22DS16, 213800WSGIIZCXF1P572, 5493000IBP32UQZ0KL24: the code-structure
//   table of the English Wikipedia article "Legal Entity Identifier".
// - HWUPKR0MPOU8FGXBT394: Apple Inc. in the GLEIF register (e.g. the openLEIr README).
// - 506700GE1G29325QX363: GLEIF itself, as used in GLEIF's vLEI sample scripts.
// - KGCEPHLVVKVRZYO1T647: the XBRL entity example at codes.eurofiling.info/lei.
// - The rest: python-stdnum, tests/test_lei.doctest ("found online").
const REAL_LEIS = [
  "54930084UKLVMY22DS16",
  "213800WSGIIZCXF1P572",
  "5493000IBP32UQZ0KL24",
  "HWUPKR0MPOU8FGXBT394",
  "506700GE1G29325QX363",
  "KGCEPHLVVKVRZYO1T647",
  "0YPKKE5F0QW6RC51HE09",
  "1YTX3EVB2EG3PFFYOI09",
  "2138001CY61HDFJ5ZA27",
  "549300001TP7X0VE9866",
  "5493006O7NV2IXKS4288",
  "815600065E4EA9D08446",
  "8156004572781E3F9023",
  "969500ZAUC3Z50DNZV77",
  "XNIO7KHWR2WD0BP1F484",
] as const;

// An oracle written from the standards' text, apart from the module, to generate valid codes
// (the USCC one in test/helpers/identity.ts, shared with the suites that need valid depositors).
const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const LEI_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function leiMod97(code: string): bigint {
  const digits = [...code].map((c) => LEI_ALPHABET.indexOf(c).toString()).join("");
  return BigInt(digits) % 97n;
}

function leiWithChecks(first18: string): string {
  return first18 + (98n - leiMod97(first18 + "00")).toString().padStart(2, "0");
}

const usccChar = fc.constantFrom(...USCC_ALPHABET);
const digit = fc.constantFrom(..."0123456789");
const generatedUscc = fc
  .tuple(
    fc.array(usccChar, { minLength: 2, maxLength: 2 }),
    fc.array(digit, { minLength: 6, maxLength: 6 }),
    fc.array(usccChar, { minLength: 8, maxLength: 8 }),
  )
  .map(([head, division, body]) => usccWithChecks(head.join("") + division.join("") + body.join("")));
const generatedLei = fc
  .array(fc.constantFrom(...LEI_ALPHABET), { minLength: 18, maxLength: 18 })
  .map((chars) => leiWithChecks(chars.join("")));

const ok = (depositor: string) => parseDepositor(depositor).ok;
const substitute = (s: string, i: number, c: string) => s.slice(0, i) + c + s.slice(i + 1);
const swap = (s: string, i: number) => s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
const isDigit = (c: string) => c >= "0" && c <= "9";

describe("real codes", () => {
  test.each(REAL_USCCS)("USCC %s is valid", (code) => {
    expect(parseDepositor(`uscc:${code}`)).toEqual({ ok: true, depositor: `uscc:${code}`, scheme: "uscc" });
  });

  test.each(REAL_LEIS)("LEI %s is valid", (code) => {
    expect(parseDepositor(`lei:${code}`)).toEqual({ ok: true, depositor: `lei:${code}`, scheme: "lei" });
  });

  test("the oracle reproduces the check characters of every real code", () => {
    for (const code of REAL_USCCS) expect(usccWithChecks(code.slice(0, 16))).toBe(code);
    for (const code of REAL_LEIS) expect(leiWithChecks(code.slice(0, 18))).toBe(code);
  });

  test("examples are valid, canonical and say what they are", () => {
    expect(EXAMPLE_DEPOSITORS.filter((e) => e.scheme === "uscc")).toHaveLength(3);
    expect(EXAMPLE_DEPOSITORS.filter((e) => e.scheme === "lei")).toHaveLength(1);
    for (const example of EXAMPLE_DEPOSITORS) {
      expect(parseDepositor(example.depositor)).toEqual({
        ok: true,
        depositor: example.depositor,
        scheme: example.scheme,
      });
      expect(example.note).not.toBe("");
    }
    expect(Object.isFrozen(EXAMPLE_DEPOSITORS)).toBe(true);
  });
});

describe("USCC check characters, computed by hand", () => {
  test("914403001922038216 (digits only)", () => {
    // organisation code 19220382|1:
    //   1*3 + 9*7 + 2*9 + 2*10 + 0*5 + 3*8 + 8*4 + 2*2 = 164; 164 mod 11 = 10; 11 - 10 = 1
    // final: 9*1 + 1*3 + 4*9 + 4*27 + 0*19 + 3*26 + 0*16 + 0*17 + 1*20 + 9*29 + 2*25 + 2*13
    //   + 0*8 + 3*24 + 8*10 + 2*30 + 1*28 = 831; 831 mod 31 = 25; 31 - 25 = 6
    expect(ok("uscc:914403001922038216")).toBe(true);
    expect(ok("uscc:914403001922038226")).toBe(false); // another organisation check character
  });

  test("91310115MA1K3BTP2B: letters have different values in the two checks", () => {
    // organisation code MA1K3BTP|2, letters over A..Z (M=22, A=10, K=20, B=11, T=29, P=25):
    //   22*3 + 10*7 + 1*9 + 20*10 + 3*5 + 11*8 + 29*4 + 25*2 = 614; 614 mod 11 = 9; 11 - 9 = 2
    //   (with GB 32100's values, M=21 K=19 T=26 P=23, the sum is 585 and the check would be 9)
    // final, letters over the 31-character alphabet (M=21, A=10, K=19, B=11, T=26, P=23):
    //   sum 2469; 2469 mod 31 = 20; 31 - 20 = 11, which is B
    expect(ok("uscc:91310115MA1K3BTP2B")).toBe(true);
  });

  test("an organisation check of 10 is X and of 11 is 0", () => {
    expect(ok("uscc:9144030071526726XG")).toBe(true); // 71526726 -> X
    expect(ok("uscc:91620105789620900B")).toBe(true); // 78962090: sum 264, 264 mod 11 = 0 -> 11 -> 0
  });
});

describe("parseDepositor refuses anything not canonical, and says what would be", () => {
  const huawei = "uscc:914403001922038216";
  const gleif = "lei:506700GE1G29325QX363";

  test.each([
    ["upper-case scheme", "USCC:914403001922038216", /scheme is written in lower case: uscc:/, huawei],
    ["mixed-case scheme", "Lei:506700GE1G29325QX363", /lower case: lei:/, gleif],
    ["spaces around", " uscc:914403001922038216\n", /spaces around it/, huawei],
    ["lower-case letters", "lei:506700ge1g29325qx363", /character 7 of the LEI, "g"/, gleif],
    ["no scheme", "914403001922038216", /no scheme/, huawei],
    ["no scheme, an LEI", "506700GE1G29325QX363", /no scheme/, gleif],
    ["grouped digits", "uscc:91 440300 192203821 6", /18 characters; this one has 21/, huawei],
    ["a hyphen", "lei:506700-GE1G29325QX363", /20 characters; this one has 21/, gleif],
    ["full-width characters", "ｕｓｃｃ：９１４４０３００１９２２０３８２１６", /no scheme/, huawei],
    ["O for 0", "uscc:9144O3001922O38216", /character 5 of the USCC, "O", is not used/, huawei],
    ["I and Z for 1 and 2", "uscc:9I44030019ZZ038Z16", /"I", is not used/, huawei],
    ["space after the colon", "uscc: 914403001922038216", /18 characters; this one has 19/, huawei],
  ])("%s", (_, input, reason, suggestion) => {
    const result = parseDepositor(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toMatch(reason);
    expect(result.reason).toMatch(new RegExp(`did you mean ${suggestion}\\?$`));
    expect(suggestDepositor(input)).toBe(suggestion);
  });

  test.each([
    ["empty", "", /is empty/],
    ["unknown scheme", "duns:150483782", /unknown scheme "duns": only uscc .* and lei .* are accepted/],
    ["odd scheme", "x y:1", /unknown scheme: only uscc/],
    ["a name", "Acme Trading Co.", /no scheme/],
    ["long", `uscc:${"9".repeat(80)}`, /has 85 characters/],
    ["wrong final check", "uscc:914403001922038217", /check character \(character 18\) does not match/],
    ["wrong check digits", "lei:506700GE1G29325QX364", /check digits do not match/],
    ["check digits 99", "lei:54930084UKLVMY22DS99", /check digits are 02 to 98/],
    ["a letter in the check digits", "lei:54930084UKLVMY22DSA6", /19 and 20 of an LEI are check digits/],
    ["letters in the division code", "uscc:91A40300192203821X", /characters 3 to 8 .* are digits/],
    ["a short USCC", "uscc:91440300192203821", /18 characters; this one has 17/],
    ["a long LEI", "lei:506700GE1G29325QX3631", /20 characters; this one has 21/],
    ["a control character", "lei:506700GE1G29325QX\u000063", /character 18 of the LEI, U\+0000/],
    ["an emoji", "lei:506700GE1G29325QX\u{1F600}3", /U\+1F600|U\+D83D/],
  ])("%s: refused, no suggestion", (_, input, reason) => {
    const result = parseDepositor(input);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(reason) });
    expect(suggestDepositor(input)).toBeUndefined();
    if (!result.ok) expect(result.reason).not.toMatch(/did you mean/);
  });

  test("a wrong check character is never 'corrected': that would certify the typo", () => {
    expect(suggestDepositor("uscc:914403001922038217")).toBeUndefined();
    expect(suggestDepositor("USCC:914403001922038217")).toBeUndefined();
    expect(suggestDepositor("lei:506700GE1G29325QX364")).toBeUndefined();
  });

  test("an organisation check that fails on its own is refused", () => {
    // final check recomputed over a wrong organisation check: only GB 11714 catches it
    const first17 = "91440300192203822";
    const sum = [...first17].reduce((s, c, i) => s + USCC_ALPHABET.indexOf(c) * (3 ** i % 31), 0);
    const code = first17 + USCC_ALPHABET[(31 - (sum % 31)) % 31];
    expect(parseDepositor(`uscc:${code}`)).toEqual({
      ok: false,
      reason: expect.stringMatching(/organisation code .* fails its GB 11714 check character/),
    });
  });

  test("non-conforming pilot codes are refused (their final check does not hold)", () => {
    // Issued in Fujian before GB 32100 took effect; noted as failing the check in
    // github.com/aarioai/id-rule chinese_org_id.go.
    for (const code of ["91350100M0001TGQXM", "91350211M0000XUF46", "91350203M0001FUE2P"]) {
      expect(ok(`uscc:${code}`)).toBe(false);
    }
  });

  test("a canonical valid depositor has nothing to suggest", () => {
    for (const e of EXAMPLE_DEPOSITORS) expect(suggestDepositor(e.depositor)).toBeUndefined();
  });

  test("property: parseDepositor never throws; it accepts only what it returns unchanged", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" })), (input) => {
        const result = parseDepositor(input);
        if (result.ok) {
          expect(result.depositor).toBe(input);
          expect(input).toMatch(/^(uscc:[0-9A-Z]{18}|lei:[0-9A-Z]{20})$/);
        } else {
          expect(result.reason).toMatch(/^[\x20-\x7e]+$/);
        }
      }),
    );
  });

  test("property: every suggestion parses, and parses to itself", () => {
    const noisy = fc
      .tuple(
        fc.oneof(
          generatedUscc.map((c) => `uscc:${c}`),
          generatedLei.map((c) => `lei:${c}`),
        ),
        fc.nat(),
      )
      .map(([depositor, n]) => {
        // one kind of noise a person adds: case, spaces, a missing scheme
        const variants = [
          depositor.toUpperCase(),
          depositor.toLowerCase(),
          ` ${depositor} `,
          depositor.slice(depositor.indexOf(":") + 1),
        ];
        return { depositor, input: variants[n % variants.length]! };
      });
    fc.assert(
      fc.property(noisy, ({ depositor, input }) => {
        expect(suggestDepositor(input)).toBe(input === depositor ? undefined : depositor);
        expect(parseDepositor(depositor)).toMatchObject({ ok: true, depositor });
      }),
    );
  });
});

describe("what the USCC check characters catch", () => {
  test("property: every code with correct check characters parses", () => {
    fc.assert(fc.property(generatedUscc, (code) => ok(`uscc:${code}`)));
  });

  test("proof: the final check catches every single substitution", () => {
    // A substitution at character i (i < 17) changes the sum by d * w_i, with d = 1..30.
    // 31 is prime and 0 < w_i < 31, so d * w_i is never 0 mod 31 and the check no longer
    // matches; a substituted check character no longer matches the unchanged sum.
    for (let i = 0; i < 17; i++) {
      const w = 3 ** i % 31;
      for (let d = 1; d <= 30; d++) expect((d * w) % 31).not.toBe(0);
    }
  });

  test("exhaustively on real codes: every single substitution is refused", () => {
    for (const code of REAL_USCCS) {
      for (let i = 0; i < 18; i++) {
        for (const c of USCC_ALPHABET) {
          if (c !== code[i]) expect(ok(`uscc:${substitute(code, i, c)}`)).toBe(false);
        }
      }
    }
  });

  test("property: any single substitution, by any character, is refused", () => {
    fc.assert(
      fc.property(generatedUscc, fc.nat(17), fc.string({ minLength: 1, maxLength: 1 }), (code, i, c) => {
        fc.pre(c !== code[i]);
        return !ok(`uscc:${substitute(code, i, c)}`);
      }),
    );
  });

  test("every adjacent transposition is caught", () => {
    // Within characters 1 to 17, swapping a, b at i, i+1 changes the sum by
    // (a - b)(w_i+1 - w_i) = (a - b) * 2 * w_i, since w_i+1 = 3 * w_i: never 0 mod 31.
    // Swapping characters 17 (a) and 18 (the check, b): both b = -(R + 28a) and
    // a = -(R + 28b) mod 31 would give 27(a - b) = 0 mod 31, so a = b.
    for (let i = 0; i < 16; i++) expect((2 * (3 ** i % 31)) % 31).not.toBe(0);
    expect(3 ** 16 % 31).toBe(28);
    fc.assert(
      fc.property(generatedUscc, fc.nat(16), (code, i) => {
        fc.pre(code[i] !== code[i + 1]);
        return !ok(`uscc:${swap(code, i)}`);
      }),
    );
    for (const code of REAL_USCCS) {
      for (let i = 0; i < 17; i++) {
        if (code[i] !== code[i + 1]) expect(ok(`uscc:${swap(code, i)}`)).toBe(false);
      }
    }
  });
});

describe("what the LEI check digits catch, and what they do not", () => {
  test("property: every code with correct check digits parses", () => {
    fc.assert(fc.property(generatedLei, (code) => ok(`lei:${code}`)));
  });

  test("a substitution of a digit for a digit or a letter for a letter is always caught", () => {
    // Same width, so the number changes by 10^k * d with 0 < |d| <= 35 < 97, and 10 is
    // invertible mod 97: never 0 mod 97.
    const sameKind = (a: string, b: string) => isDigit(a) === isDigit(b);
    for (const code of REAL_LEIS) {
      for (let i = 0; i < 20; i++) {
        for (const c of LEI_ALPHABET) {
          if (c !== code[i] && sameKind(c, code[i]!)) expect(ok(`lei:${substitute(code, i, c)}`)).toBe(false);
        }
      }
    }
    fc.assert(
      fc.property(generatedLei, fc.nat(19), fc.constantFrom(...LEI_ALPHABET), (code, i, c) => {
        fc.pre(c !== code[i] && sameKind(c, code[i]!));
        return !ok(`lei:${substitute(code, i, c)}`);
      }),
    );
  });

  test("a substitution of a letter for a digit (or back) is NOT always caught", () => {
    // A letter is two digits wide, so the change also shifts everything before it; about 1 in
    // 97 such substitutions leaves the remainder at 1. Even 0 -> O can pass: this is a valid
    // LEI one character away from the BBC's. The look-alike key is what refuses it.
    expect(ok("lei:5493000IBP32UQZ0KL24")).toBe(true);
    expect(ok("lei:5493000IBP32UQZOKL24")).toBe(true);
    expect(depositorLookalikeKey("lei:5493000IBP32UQZOKL24")).toBe(
      depositorLookalikeKey("lei:5493000IBP32UQZ0KL24"),
    );
    let missed = 0;
    let tried = 0;
    for (const code of REAL_LEIS) {
      for (let i = 0; i < 18; i++) {
        for (const c of LEI_ALPHABET) {
          if (isDigit(c) === isDigit(code[i]!)) continue;
          tried += 1;
          if (ok(`lei:${substitute(code, i, c)}`)) missed += 1;
        }
      }
    }
    expect(missed).toBeGreaterThan(0);
    expect(missed / tried).toBeLessThan(0.02);
  });

  test("adjacent transpositions are caught except 1B, 2M, 3X and back, which read as 111, 222, 333", () => {
    // digit-digit: 9(a - b); letter-letter: 99(x - y) = 2(x - y) mod 97; digit-letter:
    // 99d - 9L = 2d - 9L mod 97, which is 0 only for (1, B), (2, M), (3, X).
    const blind = new Set(["1B", "B1", "2M", "M2", "3X", "X3"]);
    const zero: string[] = [];
    for (const d of "0123456789") {
      for (const L of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
        if ((((2 * Number(d) - 9 * (L.charCodeAt(0) - 55)) % 97) + 97) % 97 === 0) zero.push(d + L);
      }
    }
    expect(zero).toEqual(["1B", "2M", "3X"]);
    expect(ok("lei:506700GE1G29325QX363")).toBe(true);
    expect(ok("lei:506700GE1G29325Q3X63")).toBe(true); // GLEIF's own LEI, X3 swapped
    for (const code of REAL_LEIS) {
      for (let i = 0; i < 19; i++) {
        const pair = code[i]! + code[i + 1]!;
        if (code[i] === code[i + 1] || blind.has(pair)) continue;
        expect(ok(`lei:${swap(code, i)}`)).toBe(false);
      }
    }
    fc.assert(
      fc.property(generatedLei, fc.nat(18), (code, i) => {
        const pair = code[i]! + code[i + 1]!;
        fc.pre(code[i] !== code[i + 1] && !blind.has(pair));
        return !ok(`lei:${swap(code, i)}`);
      }),
    );
  });
});

describe("depositorLookalikeKey", () => {
  test("frozen: changing the key means recomputing every stored one", () => {
    expect(EXAMPLE_DEPOSITORS.map((e) => depositorLookalikeKey(e.depositor))).toEqual([
      "U5CC:914403001922038216",
      "U5CC:9144030071526726X6",
      "U5CC:121200004013590816",
      "1E1:5067006E16293250X363",
    ]);
  });

  test.each([
    ["0, O, D, Q", ["lei:5493000IBP32UQZ0KL24", "lei:5493000IBP32UQZOKL24", "lei:5493000IBP32UQZDKL24"]],
    ["Q and 0", ["lei:Q0", "lei:0Q"]],
    ["1, I, L, l", ["uscc:91310115MA1K3BTP2B", "uscc:9I310115MAIK3BTP2B", "uscc:9l31011SMALK3BTPZB"]],
    ["2 and Z", ["uscc:92", "uscc:9Z"]],
    ["5 and S", ["uscc:95", "uscc:9S", "uscc:9s"]],
    ["6 and G", ["lei:6", "lei:G", "lei:g"]],
    ["8 and B", ["lei:8B", "lei:B8"]],
    ["U and V", ["lei:U", "lei:V", "lei:v"]],
    ["case", ["uscc:9144030071526726XG", "USCC:9144030071526726xg"]],
    ["whitespace", ["uscc:914403001922038216", " uscc: 9144 0300 1922 0382 16 "]],
    ["full-width forms", ["uscc:914403001922038216", "ｕｓｃｃ：９１４４０３００１９２２０３８２１６"]],
  ])("%s collide", (_, depositors) => {
    const keys = new Set(depositors.map(depositorLookalikeKey));
    expect(keys.size).toBe(1);
  });

  test("distinct real codes have distinct keys", () => {
    const depositors = [...REAL_USCCS.map((c) => `uscc:${c}`), ...REAL_LEIS.map((c) => `lei:${c}`)];
    expect(new Set(depositors.map(depositorLookalikeKey)).size).toBe(depositors.length);
  });

  test("characters outside the groups stay apart", () => {
    const others = "3479ACEFHJKMNPRTWXY";
    expect(new Set([...others].map((c) => depositorLookalikeKey(`lei:${c}`))).size).toBe(
      new Set(others).size,
    );
  });

  test("property: a look-alike of a valid code has its key; a different code usually does not", () => {
    const swaps: Record<string, string> = { "0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", U: "V" };
    fc.assert(
      fc.property(generatedUscc, fc.nat(17), (code, i) => {
        const c = swaps[code[i]!];
        fc.pre(c !== undefined);
        return (
          depositorLookalikeKey(`uscc:${substitute(code, i, c)}`) === depositorLookalikeKey(`uscc:${code}`)
        );
      }),
    );
    fc.assert(
      fc.property(generatedUscc, generatedUscc, (a, b) => {
        fc.pre(a !== b);
        return depositorLookalikeKey(`uscc:${a}`) !== depositorLookalikeKey(`uscc:${b}`);
      }),
    );
  });
});
