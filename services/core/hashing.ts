import { createHash, hash } from "node:crypto";

// The one place the core touches hash implementations: Node's native ones here (several
// times faster than JavaScript). The browser build swaps this module for web/shims/hashing.ts,
// which has the same exports; nothing else in the core knows which one it runs on.

/** Algorithms a file is hashed with (protocol.md section 3): SHA-256 and SM3 (GB/T 32905-2016). */
export type FileDigestAlg = "sha256" | "sm3";

/** An incremental hash of a file's bytes. */
export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array;
}

/** A fresh incremental hash; async because a browser loads its implementation first. */
export async function createFileHash(alg: FileDigestAlg): Promise<IncrementalHash> {
  const h = createHash(alg);
  return {
    update: (chunk) => void h.update(chunk),
    digest: () => h.digest(),
  };
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  // A Buffer is a Uint8Array; returning it avoids a copy per node on the tree's hot path.
  return h.digest();
}

/** SHA-256 of one buffer: the one-shot path, about twice as fast per call for small inputs. */
export function sha256One(data: Uint8Array): Uint8Array {
  return hash("sha256", data, "buffer");
}
