import { requireArgument } from "./errors";

// Plain Uint8Array helpers (no Buffer) so the core also runs in a browser.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of `bytes`, without a prefix. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/** `0x` + lowercase hex of `bytes`. */
export function to0xHex(bytes: Uint8Array): string {
  return `0x${toHex(bytes)}`;
}

/** The value of each lowercase hex digit by its character code; -1 for any other character. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE[HEX[i]!.charCodeAt(1)] = i;

/** Bytes of a lowercase hex string (optionally `0x`-prefixed); throws INVALID_ARGUMENT otherwise. */
export function fromHex(hex: string): Uint8Array {
  const start = hex.startsWith("0x") ? 2 : 0;
  const length = hex.length - start;
  const out = new Uint8Array(length >> 1);
  // A character outside ASCII reads past the table: undefined, so -1.
  let valid = length % 2 === 0;
  for (let i = 0; i < out.length && valid; i++) {
    const hi = NIBBLE[hex.charCodeAt(start + 2 * i)] ?? -1;
    const lo = NIBBLE[hex.charCodeAt(start + 2 * i + 1)] ?? -1;
    valid = hi >= 0 && lo >= 0;
    out[i] = (hi << 4) | lo;
  }
  requireArgument(valid, "expected lowercase hex of whole bytes");
  return out;
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True for a Uint8Array of exactly `length` bytes. */
export function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}
