import { toHex } from "./bytes";
import { createFileHash, type FileDigestAlg } from "./hashing";

/** Called with the number of bytes hashed so far. */
export type ProgressListener = (bytesHashed: number) => void;

/**
 * SHA-256 or SM3 (lowercase hex) of everything `source` yields. Memory stays constant
 * whatever the size: each chunk is hashed and dropped.
 */
export async function digestStream(
  source: AsyncIterable<Uint8Array>,
  alg: FileDigestAlg = "sha256",
  onProgress?: ProgressListener,
): Promise<string> {
  const hash = await createFileHash(alg);
  let total = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    total += chunk.length;
    onProgress?.(total);
  }
  return toHex(hash.digest());
}
