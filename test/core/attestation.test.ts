import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet, type TypedDataDomain, type TypedDataField } from "ethers";
import {
  CoreError,
  canonicalSignature,
  isCanonicalSignature,
  parseCertificate,
  recoverAttestationSigner,
  signAttestation,
  type AttestationSigner,
  type Certificate,
} from "../../services/core";
import {
  RECOVERED_SIGNERS_KEPT,
  attestationTypedData,
  forgetRecoveredSigners,
  recoveredSignerStats,
} from "../../services/core/attestation";
import { CHECKED_ADDRESSES_KEPT } from "../../services/core/address";

// The attestation's signature has one spelling (protocol.md section 7: v 27 or 28, s in the lower
// half). The verifier refuses any other; signAttestation writes it whatever a signer returns.

const vector = JSON.parse(readFileSync(join(__dirname, "..", "vectors", "certificate.json"), "utf8")) as {
  certificate: Certificate;
  certifierPrivateKey: string;
};
const { typedData, signature, signer } = vector.certificate.attestation;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hex = (x: bigint) => x.toString(16).padStart(64, "0");
const r = signature.slice(2, 66);
const s = BigInt(`0x${signature.slice(66, 130)}`);

describe("isCanonicalSignature", () => {
  test("the frozen certificate's signature is canonical", () => {
    expect(isCanonicalSignature(signature)).toBe(true);
    expect(signature.slice(130)).toBe("1c");
    expect(s <= N / 2n).toBe(true);
  });

  test.each([
    ["v 0", `0x${r}${hex(s)}00`],
    ["v 1", `0x${r}${hex(s)}01`],
    ["an EIP-155 v", `0x${r}${hex(s)}25`],
    ["the upper-half s", `0x${r}${hex(N - s)}1b`],
    ["s = n / 2 + 1", `0x${r}${hex(N / 2n + 1n)}1b`],
    ["s = 0", `0x${r}${hex(0n)}1b`],
    ["upper-case hex", signature.toUpperCase().replace("0X", "0x")],
    ["64 bytes", signature.slice(0, 130)],
    ["no 0x", signature.slice(2)],
  ])("refuses %s", (_, sig) => {
    expect(isCanonicalSignature(sig)).toBe(false);
  });

  test("accepts s = n / 2, the largest lower-half s", () => {
    expect(isCanonicalSignature(`0x${r}${hex(N / 2n)}1b`)).toBe(true);
  });
});

describe("canonicalSignature", () => {
  test("keeps a canonical signature as it is", () => {
    expect(canonicalSignature(signature)).toBe(signature);
  });

  test.each([
    ["v 1 for 28", `0x${r}${hex(s)}01`, signature],
    ["v 0 for 27", `0x${r}${hex(s)}00`, `0x${r}${hex(s)}1b`],
    ["the upper-half s, v flipped", `0x${r}${hex(N - s)}1b`, signature],
    ["the upper-half s with v 0", `0x${r}${hex(N - s)}00`, signature],
    ["the upper-half s with v 28", `0x${r}${hex(N - s)}1c`, `0x${r}${hex(s)}1b`],
    ["upper-case hex", signature.toUpperCase().replace("0X", "0x"), signature],
  ])("writes %s canonically", (_, sig, want) => {
    expect(canonicalSignature(sig)).toBe(want);
  });

  test("the same signer recovers from every spelling it mends", () => {
    for (const sig of [`0x${r}${hex(s)}01`, `0x${r}${hex(N - s)}1b`]) {
      expect(recoverAttestationSigner(typedData, canonicalSignature(sig))).toBe(signer);
    }
  });

  test.each([
    ["an EIP-155 v", `0x${r}${hex(s)}25`, /v is 27 or 28/],
    ["v 2", `0x${r}${hex(s)}02`, /v is 27 or 28/],
    ["64 bytes", signature.slice(0, 130), /65 bytes/],
    ["not hex", `0x${"zz".repeat(65)}`, /65 bytes/],
  ])("refuses %s as the caller's mistake", (_, sig, message) => {
    expect(() => canonicalSignature(sig)).toThrow(
      expect.objectContaining({ constructor: CoreError, code: "INVALID_ARGUMENT" }),
    );
    expect(() => canonicalSignature(sig)).toThrow(message);
  });
});

describe("signAttestation", () => {
  const wallet = new Wallet(vector.certifierPrivateKey);
  /** A signer (a KMS adapter, say) that returns the same signature in another spelling. */
  const respelling = (f: (sig: string) => string): AttestationSigner => ({
    address: wallet.address.toLowerCase(),
    signTypedData: async (
      domain: TypedDataDomain,
      types: Record<string, TypedDataField[]>,
      value: Record<string, unknown>,
    ) => f(await wallet.signTypedData(domain, types, value)),
  });

  test("writes what a wallet returns, and the checksummed address", async () => {
    expect(await signAttestation(wallet, typedData)).toEqual({ signer, signature });
  });

  test.each([
    ["v 0 or 1", (sig: string) => `${sig.slice(0, 130)}0${Number(sig.slice(130) === "1c")}`],
    [
      "the upper-half s",
      (sig: string) =>
        `${sig.slice(0, 66)}${hex(N - BigInt(`0x${sig.slice(66, 130)}`))}${sig.slice(130) === "1c" ? "1b" : "1c"}`,
    ],
    ["upper-case hex", (sig: string) => sig.toUpperCase().replace("0X", "0x")],
  ])("writes a signer's %s canonically", async (_, f) => {
    expect(await signAttestation(respelling(f), typedData)).toEqual({ signer, signature });
  });

  test("refuses a signer's EIP-155 v", async () => {
    const eip155 = respelling((sig) => `${sig.slice(0, 130)}25`);
    await expect(signAttestation(eip155, typedData)).rejects.toThrow(
      expect.objectContaining({ constructor: CoreError, code: "INVALID_ARGUMENT" }),
    );
  });
});

describe("remembered results", () => {
  test("recovering again gives the same signer, also after the oldest entries are dropped", () => {
    expect(recoverAttestationSigner(typedData, signature)).toBe(signer);
    expect(recoverAttestationSigner(typedData, signature)).toBe(signer);
    // r = 0 never recovers, and fails fast: fill the cache with such signatures
    for (let i = 1; i <= RECOVERED_SIGNERS_KEPT + 1; i++) {
      expect(recoverAttestationSigner(typedData, `0x${hex(0n)}${hex(BigInt(i))}1b`)).toBeNull();
    }
    expect(recoverAttestationSigner(typedData, signature)).toBe(signer);
    expect(recoverAttestationSigner(typedData, `0x${r}${hex(s)}1b`)).not.toBe(signer);
  });

  test("typed data of another shape is recovered every time, never remembered", () => {
    const recoveredEachTime = (odd: unknown) => {
      const misses = recoveredSignerStats.misses;
      recoverAttestationSigner(odd as typeof typedData, signature);
      recoverAttestationSigner(odd as typeof typedData, signature);
      expect(recoveredSignerStats.misses - misses).toBe(2);
    };
    // a value the key cannot spell without loss: a bigint, an object of another prototype
    recoveredEachTime({ ...typedData, message: { ...typedData.message, batch: 1n } });
    recoveredEachTime({ ...typedData, domain: Object.assign(Object.create({ x: 1 }), typedData.domain) });
    recoveredEachTime({ ...typedData, domain: null });
    // a type field that is not a plain object of strings, or no field list at all
    const fieldsOf = typedData.types.AnchorAttestation;
    recoveredEachTime({ ...typedData, types: { AnchorAttestation: [...fieldsOf, [1]] } });
    recoveredEachTime({ ...typedData, types: { AnchorAttestation: "root" } });
    // and the plain shape is remembered: a second recovery is a hit
    forgetRecoveredSigners();
    const hits = recoveredSignerStats.hits;
    recoverAttestationSigner(typedData, signature);
    recoverAttestationSigner(typedData, signature);
    expect(recoveredSignerStats.hits - hits).toBe(1);
  });

  test("a registry that is not an address has no typed data", () => {
    const anchor = { ...vector.certificate.anchor, registry: "0xnot-an-address" };
    expect(() => attestationTypedData(anchor, 1, 1)).toThrow(
      expect.objectContaining({ constructor: CoreError, code: "INVALID_ARGUMENT" }),
    );
  });

  test("typed data the encoder refuses recovers nothing", () => {
    const odd = {
      ...typedData,
      types: { ...typedData.types, AnchorAttestation: [{ name: "root", type: "bytes33" }] },
    };
    expect(recoverAttestationSigner(odd, signature)).toBeNull();
  });

  test("address checks are remembered, and judged alike after the oldest are dropped", () => {
    const withRegistry = (registry: string) => {
      const c = structuredClone(vector.certificate);
      c.anchor.registry = registry;
      return c;
    };
    const bad = vector.certificate.anchor.registry.replace("F", "f"); // a broken checksum
    expect(() => parseCertificate(withRegistry(bad))).toThrow(/anchor\.registry: expected an address/);
    for (let i = 0; i <= CHECKED_ADDRESSES_KEPT; i++) {
      parseCertificate(withRegistry(`0x${i.toString(16).padStart(40, "0")}`));
    }
    expect(() => parseCertificate(withRegistry(bad))).toThrow(/anchor\.registry: expected an address/);
    const good = withRegistry(vector.certificate.anchor.registry.toLowerCase());
    expect(parseCertificate(good)).toBe(good);
  });
});
