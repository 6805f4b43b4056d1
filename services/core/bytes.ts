import { requireArgument } from "./errors";

// Plain Uint8Array helpers (no Buffer) so the core also runs in a browser.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;

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

/** Bytes of a lowercase hex string (optionally `0x`-prefixed); throws INVALID_ARGUMENT otherwise. */
export function fromHex(hex: string): Uint8Array {
  const body = hex.startsWith("0x") ? hex.slice(2) : hex;
  requireArgument(LOWER_HEX.test(body), "expected lowercase hex of whole bytes");
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(body.slice(2 * i, 2 * i + 2), 16);
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
