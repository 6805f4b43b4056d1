import type { Rng } from "./prng";

// Mutations of JSON values and of JSON text, for the fuzzers. A mutation never changes its
// input: it returns a new value (or text) and says what it did, so a failure report reads as a
// recipe. Values may hold what JSON.parse can give and nothing else, except for the deeply
// nested values, which only JSON.parse could have built too.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

/** Strings that probe Unicode handling: lone surrogates, invisible and look-alike characters. */
export const TRICKY_STRINGS = [
  "\uD800", // lone high surrogate
  "\uDFFF", // lone low surrogate
  "\uDBFF\uDBFF",
  "\uFFFD",
  "\u200B", // zero-width space
  "\u202E", // right-to-left override
  "\uFEFF", // byte-order mark
  "\u0000",
  "\u001F",
  "\u007F",
  "\u0085",
  "e\u0301", // e + combining acute (NFD)
  "\u00E9", // é (NFC)
  "\uFF10", // full-width 0
  "\u0430", // Cyrillic a
  "\u{1F600}",
  "\\",
  "/",
  "..",
  " ",
  "\t",
  "\n",
  '"',
  "0x",
  "0X",
  "%00",
];

/** Keys that target prototype pollution or look like a real key. */
const TRICKY_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
  "length",
  "0",
  "",
  " ",
];

const SPECIAL_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  -(2 ** 53),
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  Number.EPSILON,
  253_402_300_799, // 9999-12-31T23:59:59Z in seconds
  253_402_300_800,
  8_640_000_000_000, // the last second a Date holds
  8_640_000_000_001,
  8_640_000_000_000_000, // the last ms a Date holds
];

const HEX_DIGITS = "0123456789abcdef";

/** A deep copy of a JSON value; deep nests (which a JSON.stringify round trip cannot copy) are shared. */
export function copy<T extends Json>(value: T, depth = 0): T {
  if (value === null || typeof value !== "object" || depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => copy(v, depth + 1)) as T;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value)) define(out, key, copy(value[key] as Json, depth + 1));
  return out as T;
}

/** Sets an own, enumerable property, as JSON.parse does, even for "__proto__". */
function define(target: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every path into `root` (root included) with its node, breadth first, at most `limit` of them and `maxDepth` deep. */
function paths(root: Json, limit = 400, maxDepth = 10): [Path, Json][] {
  const out: [Path, Json][] = [[[], root]];
  for (let next = 0; next < out.length && out.length < limit; next++) {
    const [path, node] = out[next] as [Path, Json];
    if (path.length >= maxDepth || node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length && i < 80; i++) out.push([[...path, i], node[i] as Json]);
    } else {
      const keys = Object.keys(node);
      for (let i = 0; i < keys.length && i < 80; i++)
        out.push([[...path, keys[i] as string], node[keys[i] as string] as Json]);
    }
  }
  return out;
}

function getAt(root: Json, path: Path): Json | undefined {
  let node: any = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
  }
  return node;
}

/** `root` with the value at `path` replaced (undefined deletes it). Copies along the path only. */
function setAt(root: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value === undefined ? null : value;
  const [key, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(root)) {
    const out = root.slice();
    const i = key as number;
    if (rest.length === 0 && value === undefined) out.splice(i, 1);
    else out[i] = rest.length === 0 ? (value as Json) : setAt(out[i] as Json, rest, value);
    return out;
  }
  if (isObject(root)) {
    const out: Record<string, Json> = {};
    for (const k of Object.keys(root)) {
      if (k !== String(key)) define(out, k, root[k] as Json);
      else if (rest.length > 0) define(out, k, setAt(root[k] as Json, rest, value));
      else if (value !== undefined) define(out, k, value);
    }
    return out;
  }
  return root;
}

const pathText = (path: Path) => (path.length === 0 ? "(root)" : path.map(String).join("."));

/** A random scalar or small structure, to put where something else was. */
function randomValue(rng: Rng, world: MutationWorld): Json {
  switch (rng.int(14)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(SPECIAL_NUMBERS);
    case 3:
      return rng.int(1000);
    case 4:
      return "";
    case 5:
      return rng.pick(TRICKY_STRINGS);
    case 6:
      return rng.pick(world.hashes);
    case 7:
      return rng.pick(world.hashes).slice(2);
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return [rng.pick(world.hashes)];
    case 11:
      return `0x${rng.hex(rng.pick([20, 32, 65]))}`;
    case 12:
      return deepNest(rng, rng.pick([10, 100, 1000]));
    default:
      return "x".repeat(rng.pick([1, 64, 257, 4097, 70_000]));
  }
}

/** Arrays or objects nested `depth` deep, built without recursion. */
export function deepNest(rng: Rng, depth: number): Json {
  const asArray = rng.chance(0.5);
  let v: Json = rng.chance(0.5) ? 0 : "x";
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

function mutateString(rng: Rng, s: string, world: MutationWorld): [string, string] {
  const isHex = /^(0x)?[0-9a-fA-F]+$/.test(s);
  const op = rng.weighted<string>([
    [isHex ? 6 : 1, "flip a hex digit's bit"],
    [2, "flip a character's case"],
    [2, "truncate"],
    [1, "extend"],
    [1, "add or strip 0x"],
    [2, "insert a tricky character"],
    [1, "replace a character with a tricky one"],
    [1, "pad with whitespace"],
    [1, "another genuine hash"],
    [1, "repeat it"],
    [1, "NFD/NFC"],
  ]);
  const at = rng.int(Math.max(1, s.length));
  switch (op) {
    case "flip a hex digit's bit": {
      const digits = [...s].flatMap((c, i) =>
        HEX_DIGITS.includes(c.toLowerCase()) && !(i === 1 && s.startsWith("0x")) ? [i] : [],
      );
      if (digits.length === 0) return [`${s}0`, op];
      const i = rng.pick(digits);
      const d = HEX_DIGITS.indexOf((s[i] as string).toLowerCase()) ^ (1 << rng.int(4));
      return [s.slice(0, i) + HEX_DIGITS[d] + s.slice(i + 1), `${op} at ${i}`];
    }
    case "flip a character's case": {
      const c = s[at] ?? "a";
      const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return [s.slice(0, at) + flipped + s.slice(at + 1), `${op} at ${at}`];
    }
    case "truncate":
      return [s.slice(0, at), `${op} to ${at}`];
    case "extend":
      return [s + rng.pick(["0", "00", "a", rng.hex(1), rng.hex(32), " "]), op];
    case "add or strip 0x":
      return [s.startsWith("0x") ? s.slice(2) : `0x${s}`, op];
    case "insert a tricky character": {
      const t = rng.pick(TRICKY_STRINGS);
      return [s.slice(0, at) + t + s.slice(at), `${op} ${JSON.stringify(t)} at ${at}`];
    }
    case "replace a character with a tricky one": {
      const t = rng.pick(TRICKY_STRINGS);
      return [s.slice(0, at) + t + s.slice(at + 1), `${op} ${JSON.stringify(t)} at ${at}`];
    }
    case "pad with whitespace":
      return [rng.chance(0.5) ? ` ${s}` : `${s} `, op];
    case "another genuine hash":
      return [rng.pick(world.hashes), op];
    case "repeat it":
      return [s.repeat(rng.pick([2, 3, 100])), op];
    default:
      return [rng.chance(0.5) ? s.normalize("NFD") : s.normalize("NFC"), op];
  }
}

function mutateNumber(rng: Rng, n: number): [number | string, string] {
  const op = rng.weighted<string>([
    [2, "+1"],
    [2, "-1"],
    [2, "flip a bit"],
    [1, "double"],
    [1, "halve"],
    [2, "a special number"],
    [1, "negate"],
    [1, "add a fraction"],
    [1, "as a string"],
    [1, "a random safe integer"],
  ]);
  switch (op) {
    case "+1":
      return [n + 1, op];
    case "-1":
      return [n - 1, op];
    case "flip a bit": {
      const bit = rng.int(53);
      return [Number(BigInt(Math.trunc(Math.abs(n))) ^ (1n << BigInt(bit))), `${op} ${bit}`];
    }
    case "double":
      return [n * 2, op];
    case "halve":
      return [Math.floor(n / 2), op];
    case "a special number": {
      const v = rng.pick(SPECIAL_NUMBERS);
      return [v, `${op} ${Object.is(v, -0) ? "-0" : v}`];
    }
    case "negate":
      return [-n, op];
    case "add a fraction":
      return [n + rng.pick([0.5, 0.1, 1e-9]), op];
    case "as a string":
      return [String(n), op];
    default:
      return [rng.int(2 ** 31) * 2 ** 22 + rng.int(2 ** 22), op];
  }
}

function mutateObject(rng: Rng, o: { [key: string]: Json }, world: MutationWorld): [Json, string] {
  const keys = Object.keys(o);
  const op = rng.weighted<string>([
    [keys.length > 0 ? 3 : 0, "remove a key"],
    [3, "add a key"],
    [keys.length > 0 ? 2 : 0, "rename a key"],
    [2, "reorder keys"],
    [1, "into an array of its values"],
    [keys.length > 1 ? 1 : 0, "swap two values"],
  ]);
  switch (op) {
    case "remove a key": {
      const key = rng.pick(keys);
      const out: Record<string, Json> = {};
      for (const k of keys) if (k !== key) define(out, k, o[k] as Json);
      return [out, `${op} ${JSON.stringify(key)}`];
    }
    case "add a key": {
      const key = rng.weighted<string>([
        [3, rng.pick(TRICKY_KEYS)],
        [2, keys.length > 0 ? variantKey(rng, rng.pick(keys)) : "x"],
        [1, rng.pick(["note", "label", "v", "extra", "signature", "proof", "root"])],
      ]);
      const value =
        rng.chance(0.5) && keys.length > 0 ? copy(o[rng.pick(keys)] as Json) : randomValue(rng, world);
      const out: Record<string, Json> = {};
      const before = rng.chance(0.5);
      if (before) define(out, key, value);
      for (const k of keys) define(out, k, o[k] as Json);
      if (!before) define(out, key, value);
      return [out, `${op} ${JSON.stringify(key)}`];
    }
    case "rename a key": {
      const key = rng.pick(keys);
      const renamed = variantKey(rng, key);
      const out: Record<string, Json> = {};
      for (const k of keys) define(out, k === key ? renamed : k, o[k] as Json);
      return [out, `${op} ${JSON.stringify(key)} to ${JSON.stringify(renamed)}`];
    }
    case "reorder keys": {
      const out: Record<string, Json> = {};
      for (const k of rng.shuffle(keys.slice())) define(out, k, o[k] as Json);
      return [out, op];
    }
    case "into an array of its values":
      return [keys.map((k) => o[k] as Json), op];
    default: {
      const [a, b] = rng.shuffle(keys.slice()) as [string, string];
      const out: Record<string, Json> = {};
      for (const k of keys) define(out, k, (k === a ? o[b] : k === b ? o[a] : o[k]) as Json);
      return [out, `${op} ${a} and ${b}`];
    }
  }
}

function variantKey(rng: Rng, key: string): string {
  switch (rng.int(6)) {
    case 0:
      return key.toUpperCase();
    case 1:
      return `${key} `;
    case 2:
      return `${key}\u200B`;
    case 3:
      return key.slice(0, -1);
    case 4:
      return key.replace(/a/, "\u0430");
    default:
      return `${key.charAt(0).toUpperCase()}${key.slice(1)}`;
  }
}

function mutateArray(rng: Rng, a: Json[], world: MutationWorld): [Json, string] {
  const op = rng.weighted<string>([
    [a.length > 1 ? 3 : 0, "swap two elements"],
    [a.length > 1 ? 1 : 0, "reverse"],
    [a.length > 1 ? 1 : 0, "rotate"],
    [a.length > 0 ? 3 : 0, "remove an element"],
    [3, "insert an element"],
    [a.length > 0 ? 2 : 0, "duplicate an element"],
    [a.length > 0 ? 1 : 0, "truncate"],
    [1, "grow past 64"],
    [1, "into an object"],
    [1, "empty"],
  ]);
  const out = a.slice();
  switch (op) {
    case "swap two elements": {
      const i = rng.int(a.length);
      const j = (i + 1 + rng.int(a.length - 1)) % a.length;
      [out[i], out[j]] = [out[j] as Json, out[i] as Json];
      return [out, `${op} ${i} and ${j}`];
    }
    case "reverse":
      return [out.reverse(), op];
    case "rotate":
      return [[...out.slice(1), out[0] as Json], op];
    case "remove an element": {
      const i = rng.int(a.length);
      out.splice(i, 1);
      return [out, `${op} at ${i}`];
    }
    case "insert an element": {
      const i = rng.int(a.length + 1);
      const v = rng.chance(0.7)
        ? rng.pick(world.hashes)
        : a.length > 0 && rng.chance(0.5)
          ? copy(rng.pick(a))
          : randomValue(rng, world);
      out.splice(i, 0, v);
      return [out, `${op} at ${i}`];
    }
    case "duplicate an element": {
      const i = rng.int(a.length);
      out.splice(i, 0, copy(a[i] as Json));
      return [out, `${op} at ${i}`];
    }
    case "truncate":
      return [out.slice(0, rng.int(a.length)), op];
    case "grow past 64": {
      const fill = a.length > 0 ? (a[0] as Json) : rng.pick(world.hashes);
      return [[...out, ...Array.from({ length: rng.pick([65 - a.length, 100, 5000]) }, () => fill)], op];
    }
    case "into an object": {
      const o: Record<string, Json> = {};
      a.forEach((v, i) => define(o, String(i), v));
      return [o, op];
    }
    default:
      return [[], op];
  }
}

/** What mutations may draw on: genuine hashes and values of the same kind of document. */
export interface MutationWorld {
  hashes: string[];
  /** Other genuine documents of the same kind (same shape), to splice parts from. */
  donors: Json[];
}

/**
 * One random mutation of `root`: a value changed in place (its type kept or not), a key or
 * an element added, removed or moved, or a part spliced in from another genuine document.
 */
export function mutateOnce(rng: Rng, root: Json, world: MutationWorld): [Json, string] {
  const all = paths(root);
  // Leaves are where most bugs are: weigh towards them, but keep whole subtrees in play.
  const leaves = all.filter(([, v]) => v === null || typeof v !== "object");
  const [path, node] = rng.chance(0.7) && leaves.length > 0 ? rng.pick(leaves) : rng.pick(all);
  const where = pathText(path);

  const kind = rng.weighted<string>([
    [8, "in place"],
    [2, "another type"],
    [1, "delete"],
    [world.donors.length > 0 ? 2 : 0, "splice"],
  ]);
  if (kind === "delete" && path.length > 0) return [setAt(root, path, undefined), `delete ${where}`];
  if (kind === "another type") {
    const v = randomValue(rng, world);
    return [setAt(root, path, v), `${where}: another type (${describe(v)})`];
  }
  if (kind === "splice") {
    const donor = rng.pick(world.donors);
    const part = getAt(donor, path);
    if (part !== undefined) return [setAt(root, path, copy(part)), `${where}: from another genuine document`];
  }
  if (typeof node === "string") {
    const [v, what] = mutateString(rng, node, world);
    return [setAt(root, path, v), `${where}: ${what}`];
  }
  if (typeof node === "number") {
    const [v, what] = mutateNumber(rng, node);
    return [setAt(root, path, v), `${where}: ${what}`];
  }
  if (Array.isArray(node)) {
    const [v, what] = mutateArray(rng, node, world);
    return [setAt(root, path, v), `${where}: ${what}`];
  }
  if (isObject(node)) {
    const [v, what] = mutateObject(rng, node, world);
    return [setAt(root, path, v), `${where}: ${what}`];
  }
  const v = randomValue(rng, world);
  return [setAt(root, path, v), `${where}: ${JSON.stringify(node)} replaced by ${describe(v)}`];
}

/** 1 to 5 stacked mutations (mostly one). */
export function mutate(rng: Rng, root: Json, world: MutationWorld): [Json, string[]] {
  const n = rng.weighted<number>([
    [60, 1],
    [25, 2],
    [8, 3],
    [7, 5],
  ]);
  let value = root;
  const log: string[] = [];
  for (let i = 0; i < n; i++) {
    const [next, what] = mutateOnce(rng, value, world);
    value = next;
    log.push(what);
  }
  return [value, log];
}

export function describe(v: unknown): string {
  if (typeof v === "string") return v.length > 40 ? `a string of ${v.length}` : JSON.stringify(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v !== null && typeof v === "object") return "an object";
  return Object.is(v, -0) ? "-0" : String(v);
}

// ---------------------------------------------------------------------------------------------
// JSON text

/**
 * JSON text of `value`, written with random but equivalent choices: layout, key spelling
 * through \u escapes, number spelling (1.0, 1e0, -0 for 0). JSON.parse of it equals `value`.
 */
export function writeJson(rng: Rng, value: Json, style = textStyle(rng)): string {
  const ws = () => (style.spaces ? rng.pick(["", " ", "\n", "\t", "\r\n  ", "  "]) : "");
  const str = (s: string) => {
    if (!style.escapes || s.length > 512) return JSON.stringify(s);
    let out = '"';
    for (const ch of s) {
      const code = ch.codePointAt(0) as number;
      if (code < 0x80 && rng.chance(0.15)) out += `\\u${code.toString(16).padStart(4, "0")}`;
      else if (ch === "/" && rng.chance(0.5)) out += "\\/";
      else out += JSON.stringify(ch).slice(1, -1);
    }
    return `${out}"`;
  };
  const num = (n: number) => {
    if (!style.numbers || !Number.isInteger(n)) return JSON.stringify(n);
    if (Object.is(n, 0) && rng.chance(0.3)) return "-0";
    return rng.pick([String(n), `${n}.0`, `${n}e0`, `${n}E+0`, `${n}0e-1`]);
  };
  const write = (v: Json, depth: number): string => {
    if (v === null || typeof v === "boolean") return String(v);
    if (typeof v === "number") return num(v);
    if (typeof v === "string") return str(v);
    if (depth > 200) return JSON.stringify(v) ?? "null";
    if (Array.isArray(v))
      return `[${ws()}${v.map((x) => write(x, depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
    const members = Object.keys(v).map((k) => `${str(k)}${ws()}:${ws()}${write(v[k] as Json, depth + 1)}`);
    return `{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}`;
  };
  return `${style.spaces && rng.chance(0.3) ? "\n " : ""}${write(value, 0)}${rng.chance(0.5) ? "\n" : ""}`;
}

function textStyle(rng: Rng) {
  return { spaces: rng.chance(0.5), escapes: rng.chance(0.3), numbers: rng.chance(0.3) };
}

/** Where members start in `text` (just after `{` or a `,` in an object), and where keys are. */
function tokens(text: string): {
  memberStarts: number[];
  keys: { start: number; end: number }[];
  stringStarts: number[];
} {
  const memberStarts: number[] = [];
  const keys: { start: number; end: number }[] = [];
  const stringStarts: number[] = [];
  const stack: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      stringStarts.push(start);
      if (stack[stack.length - 1] === "{" && /^\s*:/.test(text.slice(i + 1, i + 8)))
        keys.push({ start, end: i + 1 });
    } else if (c === "{" || c === "[") {
      stack.push(c);
      if (c === "{") memberStarts.push(i + 1);
    } else if (c === "}" || c === "]") stack.pop();
    else if (c === "," && stack[stack.length - 1] === "{") memberStarts.push(i + 1);
  }
  return { memberStarts, keys, stringStarts };
}

/**
 * One mutation of JSON text: a key repeated with the same or another value (JSON.parse keeps
 * the last), a `__proto__` member, bytes flipped, dropped or inserted, the text cut short,
 * deep nesting, a BOM, or trailing garbage. The result may no longer be JSON.
 */
export function mutateText(rng: Rng, text: string, world: MutationWorld): [string, string] {
  const { memberStarts, keys, stringStarts } = tokens(text);
  const op = rng.weighted<string>([
    [4, "repeat a key"],
    [2, "a __proto__ member"],
    [2, "a constructor member"],
    [3, "flip a byte"],
    [2, "drop a byte"],
    [2, "insert a byte"],
    [2, "cut short"],
    [1, "deeply nested value"],
    [1, "a BOM"],
    [1, "trailing garbage"],
    [2, "a lone surrogate escape"],
  ]);
  const at = rng.int(text.length);
  switch (op) {
    case "repeat a key": {
      // "key": other, written before or after the member "key": value
      if (keys.length === 0) return [text, "repeat a key (none found)"];
      const { start, end } = rng.pick(keys);
      const key = text.slice(start, end);
      const value = rng.chance(0.3)
        ? JSON.stringify(randomValue(rng, world))
        : JSON.stringify(rng.chance(0.5) ? rng.pick(world.hashes) : parsedOr(key, "x"));
      if (rng.chance(0.5))
        return [
          `${text.slice(0, start)}${key}:${value},${text.slice(start)}`,
          `repeat the key ${key} before it, with ${describe(JSON.parse(value))}`,
        ];
      // after it: find the end of this member's value by parsing forward
      const after = memberEnd(text, end);
      if (after === null) return [text, "repeat a key (no end found)"];
      return [
        `${text.slice(0, after)},${key}:${value}${text.slice(after)}`,
        `repeat the key ${key} after it, with ${describe(JSON.parse(value))}`,
      ];
    }
    case "a __proto__ member":
    case "a constructor member": {
      const s = memberStarts.length > 0 ? rng.pick(memberStarts) : at;
      const key = op === "a __proto__ member" ? "__proto__" : "constructor";
      const value = rng.pick([`{"format":"tsd-certificate/1"}`, `{"prototype":{"v":1}}`, `null`, `{}`, `[]`]);
      const closes = text[s] === "}";
      return [`${text.slice(0, s)}"${key}":${value}${closes ? "" : ","}${text.slice(s)}`, `${op} at ${s}`];
    }
    case "flip a byte": {
      const code = text.charCodeAt(at) ^ (1 << rng.int(7));
      return [text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1), `${op} at ${at}`];
    }
    case "drop a byte":
      return [text.slice(0, at) + text.slice(at + 1), `${op} at ${at}`];
    case "insert a byte": {
      const ch = rng.pick(['"', ",", ":", "{", "}", "[", "]", "0", "\\", " ", "\u0000", "\uD800", "e", "-"]);
      return [text.slice(0, at) + ch + text.slice(at), `${op} ${JSON.stringify(ch)} at ${at}`];
    }
    case "cut short":
      return [text.slice(0, at), `${op} at ${at}`];
    case "deeply nested value": {
      const s = memberStarts.length > 0 ? rng.pick(memberStarts) : at;
      const depth = rng.pick([1000, 20_000, 100_000]);
      const nest = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const closes = text[s] === "}";
      return [
        `${text.slice(0, s)}"nest":${nest}${closes ? "" : ","}${text.slice(s)}`,
        `${op} of ${depth} at ${s}`,
      ];
    }
    case "a BOM":
      return [`\uFEFF${text}`, op];
    case "trailing garbage":
      return [text + rng.pick(["}", "]", "x", "\u0000", "{}", ","]), op];
    default: {
      const s = stringStarts.length > 0 ? rng.pick(stringStarts) + 1 : at;
      const escape = rng.pick(["\\ud800", "\\udfff", "\\ud83d", "\\u0000", "\\ufffd"]);
      return [text.slice(0, s) + escape + text.slice(s), `${op} ${escape} at ${s}`];
    }
  }
}

/** The offset just past the value of the member whose key ends at `keyEnd`, or null. */
function memberEnd(text: string, keyEnd: number): number | null {
  let depth = 0;
  let i = text.indexOf(":", keyEnd) + 1;
  if (i === 0) return null;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      if (depth === 0) return i;
      depth--;
    } else if (c === "," && depth === 0) return i;
  }
  return null;
}

function parsedOr(text: string, fallback: Json): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return fallback;
  }
}
