import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

// Runs the service's real entry points as separate processes, the way an operator does.

export const ROOT = join(__dirname, "..", "..");

export interface ServiceProcess {
  child: ChildProcess;
  /** Every JSON log line the process wrote so far. */
  logs(): Record<string, unknown>[];
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `node --import tsx <entry>` (no npm or tsx shim in between: signals reach it). */
export function startProcess(entry: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = "";
  let partial = "";
  child.stdout?.on("data", (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
    }
  });
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  return {
    child,
    logs: () => lines,
    async waitForLog(msg, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find((l) => l.msg === msg);
        if (found) return found;
        if (child.exitCode !== null)
          throw new Error(`${entry} exited (${child.exitCode}) before "${msg}": ${stderr}`);
        if (Date.now() > deadline) throw new Error(`${entry}: no "${msg}" in time; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** What a command run to completion printed, and its exit code. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion (generic tools: cast, python3, sha256sum; the CLI; the one-file
 * verifier): in the checkout unless given a folder, with this process's environment unless
 * given one.
 */
export function run(
  command: string,
  args: string[],
  o: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: o.cwd ?? ROOT,
      ...(o.env === undefined ? {} : { env: o.env }),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.input);
  });
}

/** Runs the `tsd` CLI (bin/tsd.js) to completion, with no environment but PATH, HOME and `env`. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return run(process.execPath, [join(ROOT, "bin", "tsd.js"), ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
}

/** `node tsd-verify.cjs verify …` in `folder`, with no environment but PATH: as a court runs it. */
export function runOneFileVerifier(folder: string, args: string[]): Promise<Ran> {
  return run(process.execPath, ["tsd-verify.cjs", "verify", ...args], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? "" },
  });
}
