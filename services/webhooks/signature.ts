import { createHmac, timingSafeEqual } from "node:crypto";

// The webhook signature, for us and for receivers: every POST carries
//   tsd-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// The key is the secret exactly as shown at registration (its ASCII text, not decoded). The
// timestamp is signed with the body, so a captured request replays only within the tolerance;
// within it, the tsd-delivery header lets a receiver drop what it has already seen.

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "tsd-signature";
/** The header that carries the delivery id: the same for every attempt of one delivery. */
export const DELIVERY_HEADER = "tsd-delivery";

/** The tsd-signature value for `body` sent at `t` (unix seconds). */
export function signWebhook(secret: string, body: string | Uint8Array, t: number): string {
  return `t=${t},v1=${hmac(secret, t, body).toString("hex")}`;
}

/**
 * True when `header` (a tsd-signature value) signs `body` — the raw bytes received, before
 * any JSON parsing — with `secret`, at a time within `toleranceS` seconds of `now` (unix
 * seconds). Any `v1` entry may match (room for a later change of key); anything malformed is
 * false, never an exception: the header comes from whoever sent the request.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string | Uint8Array,
  now: number,
  toleranceS = 300,
): boolean {
  let t: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const [key, value, ...rest] = part.trim().split("=");
    if (rest.length > 0 || value === undefined) return false;
    if (key === "t" && /^\d{1,12}$/.test(value) && t === undefined) t = Number(value);
    else if (key === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(Buffer.from(value, "hex"));
    else if (key === "t" || key === "v1") return false;
    // other keys (a later scheme's v2) are left for receivers that know them
  }
  if (t === undefined || signatures.length === 0 || Math.abs(now - t) > toleranceS) return false;
  const expected = hmac(secret, t, body);
  return signatures.some((s) => timingSafeEqual(s, expected));
}

function hmac(secret: string, t: number, body: string | Uint8Array): Buffer {
  return createHmac("sha256", secret).update(`${t}.`).update(body).digest();
}
