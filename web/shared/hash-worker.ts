/// <reference lib="webworker" />
import { digestStream, type FileDigestAlg } from "../../services/core";

// Hashes a document off the page's thread, chunk by chunk: a 1 GiB file is never whole in
// memory. The core's digestStream runs here with the browser hashing module (hash-wasm).

export type HashRequest = { id: number; file: Blob; alg: FileDigestAlg };
export type HashReply =
  { id: number; progress: number } | { id: number; digest: string } | { id: number; error: string };

const CHUNK = 8 << 20;

/** The file's bytes, 8 MiB at a time (Blob.stream() chunks are too small to hash quickly). */
async function* chunks(file: Blob): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < file.size; at += CHUNK) {
    yield new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer());
  }
}

self.onmessage = async (event: MessageEvent<HashRequest>) => {
  const { id, file, alg } = event.data;
  let last = 0;
  try {
    const digest = await digestStream(chunks(file), alg, (bytes) => {
      const now = Date.now();
      if (now - last > 100) {
        last = now;
        self.postMessage({ id, progress: bytes } satisfies HashReply);
      }
    });
    self.postMessage({ id, digest } satisfies HashReply);
  } catch (e) {
    self.postMessage({ id, error: e instanceof Error ? e.message : String(e) } satisfies HashReply);
  }
};
