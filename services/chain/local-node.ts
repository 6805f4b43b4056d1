import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";

// The local chain of DESIGN section 9: anvil from the npm package @foundry-rs/anvil, with
// its state in a file so the chain survives a restart (and, to within a second, a kill).

const PLATFORMS: Record<string, string> = {
  "linux-x64": "linux-amd64",
  "linux-arm64": "linux-arm64",
  "darwin-x64": "darwin-amd64",
  "darwin-arm64": "darwin-arm64",
  "win32-x64": "win32-amd64",
};

/** Path of a Foundry binary (`anvil`, `cast`) shipped by its @foundry-rs npm package for this platform. */
export function foundryBinary(tool: "anvil" | "cast"): string {
  const platform = PLATFORMS[`${process.platform}-${process.arch}`];
  if (!platform) throw new Error(`${tool} is not packaged for ${process.platform}-${process.arch}`);
  const pkg = require.resolve(`@foundry-rs/${tool}-${platform}/package.json`);
  return join(dirname(pkg), "bin", process.platform === "win32" ? `${tool}.exe` : tool);
}

export interface LocalChain {
  rpcUrl: string;
  /** The anvil process (the binary itself, not an npm shim), e.g. for fault tests. */
  process: ChildProcess;
  /** Stops anvil gracefully (it writes its state on the way out). */
  stop(): Promise<void>;
}

export interface LocalChainOptions {
  /** State file; created on first start, loaded on later ones. */
  stateFile: string;
  port: number;
  /** Chain id of a new chain (a loaded state keeps its own). */
  chainId?: number;
  log: Logger;
  /** How long to wait for the node to answer. */
  readyTimeoutMs?: number;
}

/** Starts anvil on 127.0.0.1:`port` and waits until it answers JSON-RPC. */
export async function startLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  mkdirSync(dirname(options.stateFile), { recursive: true });
  const rpcUrl = `http://127.0.0.1:${options.port}`;
  const pidFile = `${options.stateFile}.pid`;
  await stopOrphan(pidFile, options.stateFile, options.log);
  if (await answers(rpcUrl)) {
    throw new Error(`a node already answers on ${rpcUrl}: stop it, or choose another LOCAL_CHAIN_PORT`);
  }
  const child = spawn(
    foundryBinary("anvil"),
    [
      "--host",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--chain-id",
      String(options.chainId ?? 31337),
      "--state",
      options.stateFile,
      "--state-interval",
      "1",
      "--silent",
    ],
    // Its own process group: a terminal's Ctrl-C reaches the service, which stops anvil last,
    // after the workers are done with it.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  writeFileSync(pidFile, String(child.pid));
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`anvil exited with code ${child.exitCode} before answering: ${stderr.trim()}`);
    }
    if (await answers(rpcUrl)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`anvil did not answer on ${rpcUrl} in time: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  options.log.info({ rpcUrl, stateFile: options.stateFile, pid: child.pid }, "local chain started");

  return {
    rpcUrl,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(pidFile, { force: true });
    },
  };
}

async function answers(rpcUrl: string): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * A previous run killed outright leaves its anvil running (and holding the port and the
 * state file). Its pid file says which process that was; it is stopped, after checking that
 * the pid still is that anvil (pids are reused).
 */
async function stopOrphan(pidFile: string, stateFile: string, log: Logger): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    // gone already, or no /proc: nothing of ours to stop
  }
  if (cmdline.includes("anvil") && cmdline.includes(stateFile)) {
    log.warn({ pid }, "stopping the local chain a previous run left behind");
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(pidFile, { force: true });
}
