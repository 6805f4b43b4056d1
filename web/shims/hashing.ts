import { concat, getBytes, sha256 as sha256Hex } from "ethers";
import { createSHA256, createSM3 } from "hash-wasm";

// The core's hashing module (services/core/hashing.ts) for browsers, swapped in by the web
// build. Files are hashed with hash-wasm (streaming SHA-256 and SM3 in WebAssembly: WebCrypto
// cannot stream and has no SM3); the few hashes of a proof use ethers' synchronous SHA-256.

export type FileDigestAlg = "sha256" | "sm3";

export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array;
}

export async function createFileHash(alg: FileDigestAlg): Promise<IncrementalHash> {
  const h = alg === "sm3" ? await createSM3() : await createSHA256();
  h.init();
  return {
    update: (chunk) => void h.update(chunk),
    digest: () => h.digest("binary"),
  };
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  return getBytes(sha256Hex(concat(parts)));
}

export function sha256One(data: Uint8Array): Uint8Array {
  return sha256(data);
}
