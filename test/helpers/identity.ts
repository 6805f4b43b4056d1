import { randomInt } from "node:crypto";

// Valid depositor identities for tests, generated from the standards' text apart from the
// module under test (services/tenants/identity.ts), so they also serve as its oracle.

const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A USCC whose two check characters are computed: GB 11714 (char 17) and GB 32100 (char 18). */
export function usccWithChecks(first16: string): string {
  // GB 11714: weights 3,7,9,10,5,8,4,2; letters A=10 ... Z=35; C = 11 - (sum mod 11), 10 -> X, 11 -> 0
  const orgWeights = [3, 7, 9, 10, 5, 8, 4, 2];
  const orgSum = orgWeights.reduce((s, w, i) => s + w * BASE36.indexOf(first16[8 + i]!), 0);
  const org = 11 - (orgSum % 11);
  const first17 = first16 + (org === 10 ? "X" : org === 11 ? "0" : String(org));
  // GB 32100: weight of character i is 3^i mod 31; C = 31 - (sum mod 31), 31 -> 0
  const sum = [...first17].reduce((s, c, i) => s + USCC_ALPHABET.indexOf(c) * (3 ** i % 31), 0);
  return first17 + USCC_ALPHABET[(31 - (sum % 31)) % 31];
}

/** A fresh, valid `uscc:` depositor (a Shanghai Lingang enterprise, by its division code). */
export function testDepositor(): string {
  // Digits only in the organisation code body: no look-alike of another test's code.
  const body = Array.from({ length: 8 }, () => String(randomInt(10))).join("");
  return `uscc:${usccWithChecks(`91310115${body}`)}`;
}
