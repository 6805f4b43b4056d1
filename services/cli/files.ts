import { createReadStream, type Dirent } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { basename, join, resolve, sep } from "node:path";
import { SingleBar } from "cli-progress";
import { digestStream, type FileDigestAlg } from "../core";

// Files and folders as a depositor's tools see them: walked recursively in a stable order,
// symbolic links listed as skipped (never followed: a link can point anywhere, even outside the
// folder being deposited), unreadable entries reported while the rest goes on, and each file
// hashed on this machine as a stream.

/** A regular file to hash. */
export interface FoundFile {
  /** Where it is on disk. */
  path: string;
  /** As the user sees it: the argument, then the path below it, with `/` separators. */
  display: string;
  /** Below the folder argument (`/` separators, NFC); the file name for a file argument. */
  relative: string;
  /** The folder argument's name and `relative`; the file name for a file argument (for output files). */
  name: string;
  bytes: number;
}

/** Something not hashed, and why. */
export interface Skipped {
  display: string;
  reason: string;
  /** True for an error (unreadable), false for a deliberate skip (a link, a device). */
  error: boolean;
}

/** Walks `paths` (files or folders) in name order. */
export async function findFiles(
  paths: readonly string[],
): Promise<{ files: FoundFile[]; skipped: Skipped[] }> {
  const files: FoundFile[] = [];
  const skipped: Skipped[] = [];
  const visit = async (path: string, display: string, rel: string, root: string): Promise<void> => {
    let stat;
    try {
      stat = await lstat(path);
    } catch (e) {
      skipped.push({ display, reason: reasonOf(e), error: true });
      return;
    }
    if (stat.isSymbolicLink()) {
      skipped.push({ display, reason: "symbolic link, not followed", error: false });
    } else if (stat.isFile()) {
      const relativeNfc = rel.normalize("NFC");
      files.push({
        path,
        display,
        relative: relativeNfc,
        name: root === "" ? relativeNfc : `${root}/${relativeNfc}`,
        bytes: stat.size,
      });
    } else if (stat.isDirectory()) {
      let entries: Dirent[];
      try {
        entries = await readdir(path, { withFileTypes: true });
      } catch (e) {
        skipped.push({ display, reason: reasonOf(e), error: true });
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        await visit(
          join(path, entry.name),
          `${display}/${entry.name}`,
          rel === "" ? entry.name : `${rel}/${entry.name}`,
          root,
        );
      }
    } else {
      skipped.push({ display, reason: "not a regular file", error: false });
    }
  };
  for (const p of paths) {
    const stat = await lstat(p).catch(() => undefined);
    const display = p.split(sep).join("/").replace(/\/+$/, "") || "/";
    // A file argument is named by its own name; a folder's files by their path below it.
    const isFile = stat?.isFile() ?? false;
    await visit(p, display, isFile ? basename(p) : "", isFile ? "" : basename(resolve(p)).normalize("NFC"));
  }
  return { files, skipped };
}

function reasonOf(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOENT") return "no such file or folder";
  return e instanceof Error ? e.message : String(e);
}

/** A progress bar on the terminal's stderr (bytes, files, throughput, ETA); nothing when piped. */
export interface Progress {
  advance(bytes: number): void;
  fileDone(): void;
  stop(): void;
}

export function progressBar(
  label: string,
  totalBytes: number,
  totalFiles: number,
  enabled: boolean,
  unit: "bytes" | "deposits" = "bytes",
): Progress {
  if (!enabled) return { advance: () => undefined, fileDone: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    {
      format:
        unit === "bytes"
          ? `${label} |{bar}| {percentage}% | {mib}/{totalMib} MiB | {files}/{totalFiles} files | {speed} MiB/s | ETA {eta_formatted}`
          : `${label} |{bar}| {value}/{total} deposits | {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      fps: 8,
    },
    undefined,
  );
  const started = Date.now();
  let bytes = 0;
  let files = 0;
  const payload = () => ({
    mib: (bytes / 2 ** 20).toFixed(1),
    totalMib: (totalBytes / 2 ** 20).toFixed(1),
    files,
    totalFiles,
    speed: (bytes / 2 ** 20 / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(1),
  });
  bar.start(Math.max(totalBytes, 1), 0, payload());
  return {
    advance(n) {
      bytes += n;
      bar.update(bytes, payload());
    },
    fileDone() {
      files++;
      bar.update(bytes, payload());
    },
    stop() {
      bar.update(Math.max(totalBytes, 1), payload());
      bar.stop();
    },
  };
}

/** A file's digest with `alg`, read in 4 MiB chunks; `onBytes` hears each chunk's size. */
export function hashFile(path: string, alg: FileDigestAlg, onBytes?: (n: number) => void): Promise<string> {
  let last = 0;
  return digestStream(createReadStream(path, { highWaterMark: 4 << 20 }), alg, (total) => {
    onBytes?.(total - last);
    last = total;
  });
}

export interface Hashed extends FoundFile {
  alg: FileDigestAlg;
  digest: string;
}

/** Hashes every file in turn; a file that cannot be read is skipped with its reason. */
export async function hashFiles(
  files: readonly FoundFile[],
  alg: FileDigestAlg,
  progress: Progress,
): Promise<{ hashed: Hashed[]; failed: Skipped[] }> {
  const hashed: Hashed[] = [];
  const failed: Skipped[] = [];
  for (const f of files) {
    try {
      hashed.push({ ...f, alg, digest: await hashFile(f.path, alg, (n) => progress.advance(n)) });
    } catch (e) {
      failed.push({ display: f.display, reason: reasonOf(e), error: true });
    }
    progress.fileDone();
  }
  progress.stop();
  return { hashed, failed };
}
