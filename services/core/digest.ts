import { toHex } from "./bytes";
import { createSha256 } from "./sha256";

/** Called with the number of bytes hashed so far. */
export type ProgressListener = (bytesHashed: number) => void;

/**
 * SHA-256 (lowercase hex) of everything `source` yields. Memory stays constant whatever the
 * size: each chunk is hashed and dropped.
 */
export async function digestStream(
  source: AsyncIterable<Uint8Array>,
  onProgress?: ProgressListener,
): Promise<string> {
  const hash = createSha256();
  let total = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    total += chunk.length;
    onProgress?.(total);
  }
  return toHex(hash.digest());
}
