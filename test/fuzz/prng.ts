// A small seeded PRNG for the fuzzers, so any failure reproduces from its seed and case number.
// sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through splitmix32: fast, good
// enough for test inputs, and the same on every machine and Node version.

/** The seed of a run: FUZZ_SEED (decimal or 0x hex; "random" draws one), else a fixed default. */
export function runSeed(defaultSeed = 0x7d5e_2026): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === "") return defaultSeed;
  if (raw === "random") return (Date.now() ^ (process.pid << 16)) >>> 0;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`FUZZ_SEED must be a natural number, not ${raw}`);
  return seed >>> 0;
}

/** How many cases a stream runs: its default times FUZZ_SCALE (default 1). */
export function scaled(count: number): number {
  const scale = Number(process.env.FUZZ_SCALE ?? "1");
  if (!(scale > 0)) throw new Error(`FUZZ_SCALE must be a positive number, not ${process.env.FUZZ_SCALE}`);
  return Math.max(1, Math.round(count * scale));
}

/**
 * The case numbers a stream runs: all of 0..count-1, or only the one FUZZ_CASE names
 * (`stream:index`, as a failure report prints it) when it names this stream.
 */
export function caseIndices(stream: string, count: number): number[] {
  const only = process.env.FUZZ_CASE;
  if (only) {
    const [name, index] = only.split(":");
    return name === stream ? [Number(index)] : [];
  }
  return Array.from({ length: count }, (_, i) => i);
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a of a string: to derive one stream's seed from the run's. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    const mix = splitmix32(seed);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** The generator of case `index` of `stream` in a run seeded with `seed`: independent of the others. */
  static forCase(seed: number, stream: string, index: number): Rng {
    return new Rng((seed ^ fnv1a(stream) ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from nothing");
    return items[this.int(items.length)] as T;
  }

  /** One of `choices`, each drawn in proportion to its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.float() * total;
    for (const [w, value] of choices) {
      r -= w;
      if (r < 0) return value;
    }
    return (choices[choices.length - 1] as readonly [number, T])[1];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  hex(bytes: number): string {
    return Buffer.from(this.bytes(bytes)).toString("hex");
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}
