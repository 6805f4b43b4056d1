// Depositor identities: the tenant's public identifier printed on every certificate. A court
// reads it years later, so tsd stores one spelling of one checked code, never a variant:
// input that is not already canonical is refused, with the canonical form offered as a hint
// for the operator to confirm. Pure: no I/O. The rules and their reasons are in
// docs/decisions.md, "Depositor identities".

/** The identifier schemes tsd accepts. A new scheme needs its own checked rule here. */
export type DepositorScheme = "uscc" | "lei";

/** The canonical depositor and its scheme, or a reason a person can act on. */
export type ParsedDepositor =
  { ok: true; depositor: string; scheme: DepositorScheme } | { ok: false; reason: string };

/** A valid identity for docs and tests; real, public codes used only as format examples. */
export interface ExampleDepositor {
  readonly depositor: string;
  readonly scheme: DepositorScheme;
  /** Whose code it is, as far as the source says, and where it was found. */
  readonly note: string;
}

/**
 * Examples only: valid identities of real organisations, taken from public sources.
 * Never register one as a tenant.
 */
export const EXAMPLE_DEPOSITORS: readonly ExampleDepositor[] = Object.freeze([
  {
    depositor: "uscc:914403001922038216",
    scheme: "uscc",
    note: "Huawei Technologies Co., Ltd.; zh.wikipedia.org article 華為, infobox",
  },
  {
    depositor: "uscc:9144030071526726XG",
    scheme: "uscc",
    note: "a Shenzhen enterprise (X as organisation check, a letter as final check); python-stdnum tests",
  },
  {
    depositor: "uscc:121200004013590816",
    scheme: "uscc",
    note: "a Tianjin public institution (authority 1, type 2); python-stdnum tests",
  },
  {
    depositor: "lei:506700GE1G29325QX363",
    scheme: "lei",
    note: "Global Legal Entity Identifier Foundation (GLEIF); GLEIF's vLEI samples",
  },
]);

// Long enough for a canonical depositor written with spaces or full-width characters; longer
// input is no identity we could suggest, and is not worth normalising.
const MAX_INPUT_LENGTH = 64;

const SCHEME_NAMES: Record<DepositorScheme, string> = {
  uscc: "uscc (Unified Social Credit Code, GB 32100-2015)",
  lei: "lei (Legal Entity Identifier, ISO 17442)",
};

/** Parses a depositor that is already canonical; anything else is refused with a reason. */
export function parseDepositor(input: string): ParsedDepositor {
  const problem = strictProblem(input);
  if (problem === undefined) {
    // strictProblem accepts only "uscc:" or "lei:" followed by a checked code
    const scheme: DepositorScheme = input.startsWith("uscc:") ? "uscc" : "lei";
    return { ok: true, depositor: input, scheme };
  }
  const suggestion = suggestDepositor(input);
  return {
    ok: false,
    reason: suggestion === undefined ? problem : `${problem}; did you mean ${suggestion}?`,
  };
}

// The hint undoes what people add: whitespace, hyphens, full-width forms, the case of scheme
// and code, a missing scheme, and in a USCC the letters GB 32100 leaves out (I, O, Z, S, V)
// read as the characters they look like (1, 0, 2, 5, U). The result must pass every check: a
// code whose check fails gets no hint, as "correcting" a check character would certify a typo.
/** The valid canonical depositor `input` probably means, if that differs from `input`: a hint to confirm. */
export function suggestDepositor(input: string): string | undefined {
  if (input.length > MAX_INPUT_LENGTH) return undefined;
  const compact = input.normalize("NFKC").replace(/[\s-]/g, "");
  const colon = compact.indexOf(":");
  const scheme = colon === -1 ? undefined : compact.slice(0, colon).toLowerCase();
  const code = compact.slice(colon + 1).toUpperCase();
  let candidate: string | undefined;
  if (scheme === "uscc" || (scheme === undefined && code.length === USCC_LENGTH)) {
    const read = code.replace(/[IOZSV]/g, (c) => USCC_EXCLUDED_READ_AS[c]!);
    if (usccProblem(read) === undefined) candidate = `uscc:${read}`;
  } else if (scheme === "lei" || (scheme === undefined && code.length === LEI_LENGTH)) {
    if (leiProblem(code) === undefined) candidate = `lei:${code}`;
  }
  return candidate === input ? undefined : candidate;
}

// Look-alike classes: each group's characters are mapped to its first. Chosen for printed
// sans-serif text (the certificate) and for retyping a code read from paper; D and Q join 0
// and O because a photocopy loses their corner and tail. Generous on purpose: two genuine
// codes that differ only within these groups are very unlikely, a forged look-alike is not.
const LOOKALIKE_GROUPS = ["0ODQ", "1IL", "2Z", "5S", "6G", "8B", "UV"] as const;
const LOOKALIKE_OF: ReadonlyMap<string, string> = new Map(
  LOOKALIKE_GROUPS.flatMap((group) => [...group].map((c) => [c, group[0]!] as const)),
);

// Full-width forms and case are folded and whitespace dropped before the groups apply. The
// key is opaque and stored UNIQUE: changing the groups means recomputing every stored key.
/** A key two depositors share when a person could confuse them on paper (0/O/D/Q, 1/I/L, ...). */
export function depositorLookalikeKey(depositor: string): string {
  let key = "";
  for (const c of depositor.normalize("NFKC").toUpperCase().replace(/\s/g, "")) {
    key += LOOKALIKE_OF.get(c) ?? c;
  }
  return key;
}

// --- the strict rules ---

/** Why `input` is not a canonical, valid depositor, or undefined if it is. */
function strictProblem(input: string): string | undefined {
  if (input === "")
    return `the depositor is empty: write uscc:<18-character code> or lei:<20-character code>`;
  if (input.length > MAX_INPUT_LENGTH) {
    return `the depositor has ${input.length} characters; uscc: and 18, or lei: and 20, are expected`;
  }
  if (input.trim() !== input) return "the depositor has spaces around it";
  const colon = input.indexOf(":");
  if (colon === -1) {
    return `the depositor has no scheme: write uscc:<18-character code> (GB 32100-2015) or lei:<20-character code> (ISO 17442)`;
  }
  const scheme = input.slice(0, colon);
  const code = input.slice(colon + 1);
  if (scheme === "uscc") return usccProblem(code);
  if (scheme === "lei") return leiProblem(code);
  const lower = scheme.toLowerCase();
  if (lower === "uscc" || lower === "lei") return `the scheme is written in lower case: ${lower}:`;
  const named = /^[A-Za-z0-9]{1,16}$/.test(scheme) ? ` "${scheme}"` : "";
  return `unknown scheme${named}: only ${SCHEME_NAMES.uscc} and ${SCHEME_NAMES.lei} are accepted`;
}

// GB 32100-2015: 18 characters from 31 (digits and upper-case letters but I, O, S, V, Z);
// character i (0-based) has the value of its index here.
const USCC_LENGTH = 18;
const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
// 3^i mod 31, as GB 32100 tabulates them for characters 1 to 17.
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
// GB 11714 organisation code (characters 9 to 17): 8 characters and a check character.
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;
// The letters GB 32100 leaves out because they look like these.
const USCC_EXCLUDED_READ_AS: Readonly<Record<string, string>> = { I: "1", O: "0", Z: "2", S: "5", V: "U" };

/** Why `code` is not a valid USCC, or undefined if it is. */
function usccProblem(code: string): string | undefined {
  if (code.length !== USCC_LENGTH) return `a USCC has 18 characters; this one has ${code.length}`;
  const values: number[] = [];
  for (let i = 0; i < USCC_LENGTH; i++) {
    const c = code[i]!;
    const value = USCC_ALPHABET.indexOf(c);
    if (value === -1) {
      return `character ${i + 1} of the USCC, ${shown(c)}, is not used in USCCs (digits and upper-case letters except I, O, S, V, Z)`;
    }
    values.push(value);
  }
  if (!/^[0-9]{6}$/.test(code.slice(2, 8))) {
    return "characters 3 to 8 of a USCC are the administrative division code and are digits";
  }
  let sum = 0;
  for (let i = 0; i < USCC_WEIGHTS.length; i++) sum += values[i]! * USCC_WEIGHTS[i]!;
  if (values[17] !== (31 - (sum % 31)) % 31) {
    return "the USCC's check character (character 18) does not match the rest: the code is mistyped";
  }
  if (code[16] !== organisationCheck(code.slice(8, 16))) {
    return "the organisation code in the USCC (characters 9 to 17) fails its GB 11714 check character";
  }
  return undefined;
}

/** GB 11714 check character of an 8-character organisation code body. */
function organisationCheck(body: string): string {
  // GB 11714 values letters over the whole Latin alphabet (A=10 ... Z=35), unlike GB 32100:
  // exactly parseInt's base 36. Real codes with letters (e.g. 91310115MA1K3BTP2B) confirm it.
  let sum = 0;
  for (let i = 0; i < ORG_WEIGHTS.length; i++) sum += parseInt(body[i]!, 36) * ORG_WEIGHTS[i]!;
  const check = 11 - (sum % 11);
  return check === 10 ? "X" : check === 11 ? "0" : String(check);
}

// ISO 17442: 18 digits or upper-case letters, then 2 check digits (ISO 7064 MOD 97-10).
const LEI_LENGTH = 20;

/** Why `code` is not a valid LEI, or undefined if it is. */
function leiProblem(code: string): string | undefined {
  if (code.length !== LEI_LENGTH) return `an LEI has 20 characters; this one has ${code.length}`;
  for (let i = 0; i < LEI_LENGTH; i++) {
    const c = code[i]!;
    if (!/[0-9A-Z]/.test(c)) {
      return `character ${i + 1} of the LEI, ${shown(c)}, is not a digit or an upper-case letter`;
    }
  }
  if (!/^[0-9]{2}$/.test(code.slice(18))) return "characters 19 and 20 of an LEI are check digits";
  // MOD 97-10 makes 02 to 98; 00, 01 and 99 pass the remainder test but are never issued.
  const check = Number(code.slice(18));
  if (check < 2 || check > 98) return "an LEI's check digits are 02 to 98";
  if (mod97(code) !== 1) return "the LEI's check digits do not match the rest: the code is mistyped";
  return undefined;
}

/** The ISO 7064 MOD 97-10 remainder of `code`, each letter read as two digits (A=10 ... Z=35). */
function mod97(code: string): number {
  let remainder = 0;
  for (const c of code) {
    const value = parseInt(c, 36);
    remainder = (value < 10 ? remainder * 10 + value : remainder * 100 + value) % 97;
  }
  return remainder;
}

/** A character for a message: printable ASCII quoted, anything else as its code point. */
function shown(c: string): string {
  const code = c.codePointAt(0)!;
  return code >= 0x21 && code <= 0x7e ? `"${c}"` : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}
