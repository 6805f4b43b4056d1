import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import type { BenchContext } from "./context";
import { ROOT } from "./stack";

export interface Timed {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to completion, timing it from spawn to exit. */
export function timeCommand(command: string, args: string[], env?: Record<string, string>): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stdout, stderr, seconds: Number(process.hrtime.bigint() - start) / 1e9 }),
    );
  });
}

/** A temporary folder, removed at the end of the run. */
export function tempDir(ctx: BenchContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  ctx.onClose(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A file of `bytes` random bytes (a 64 MiB random block repeated) in a temporary folder. */
export async function randomFile(ctx: BenchContext, bytes: number, name = "data.bin"): Promise<string> {
  const path = join(tempDir(ctx, "tsd-bench-file-"), name);
  const block = randomBytes(Math.min(bytes, 64 * 2 ** 20));
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += block.length) {
    const piece = block.subarray(0, Math.min(block.length, bytes - written));
    if (!out.write(piece)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return path;
}

/** `sha256sum FILE`, timed: the digest and the seconds it took. */
export async function sha256sum(path: string): Promise<{ digest: string; seconds: number }> {
  const r = await timeCommand("sha256sum", [path]);
  if (r.code !== 0) throw new Error(`sha256sum failed: ${r.stderr}`);
  return { digest: r.stdout.split(" ")[0] as string, seconds: r.seconds };
}

export const MB = 1e6;
