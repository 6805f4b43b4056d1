import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";

// The local chain (docs/decisions.md): anvil from the npm package @foundry-rs/anvil, with
// its state in a file so the chain survives a restart (and, to within a second, a kill), and
// supervised: a node that dies is started again.

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
  /** The anvil process running now (the binary itself, not an npm shim), e.g. for fault tests. */
  readonly process: ChildProcess;
  /**
   * Calls `listener` each time the node was restarted after it died. Blocks of its last
   * second may be lost then (its state is written once a second): recorded anchors need a
   * check against the chain.
   */
  onRestart(listener: () => void): void;
  /** Stops anvil gracefully (it writes its state on the way out) and stops supervising it. */
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

/** Delays before successive restart attempts of a node that keeps dying, ms. */
const RESTART_DELAYS_MS = [200, 1000, 5000, 30_000];

/**
 * Starts anvil on 127.0.0.1:`port`, waits until it answers JSON-RPC, and supervises it: if it
 * dies (killed, crashed), it is started again from its state file.
 */
export async function startLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  mkdirSync(dirname(options.stateFile), { recursive: true });
  const rpcUrl = `http://127.0.0.1:${options.port}`;
  const pidFile = `${options.stateFile}.pid`;
  await stopOrphan(pidFile, options.stateFile, options.log);
  if (await answers(rpcUrl)) {
    throw new Error(`a node already answers on ${rpcUrl}: stop it, or choose another LOCAL_CHAIN_PORT`);
  }

  let node = await spawnNode(options, rpcUrl, pidFile);
  options.log.info({ rpcUrl, stateFile: options.stateFile, pid: node.child.pid }, "local chain started");
  let stopping = false;
  let restarting: Promise<void> = Promise.resolve();
  const listeners: (() => void)[] = [];

  const supervise = (current: RunningNode) => {
    restarting = current.exited.then(async () => {
      if (stopping) return;
      options.log.warn(
        { code: current.child.exitCode, signal: current.child.signalCode },
        "local chain died; restarting it",
      );
      for (let attempt = 0; !stopping; attempt++) {
        await new Promise((r) =>
          setTimeout(r, RESTART_DELAYS_MS[Math.min(attempt, RESTART_DELAYS_MS.length - 1)]),
        );
        if (stopping) return;
        try {
          node = await spawnNode(options, rpcUrl, pidFile);
        } catch (err) {
          options.log.error({ err, attempt }, "local chain did not restart; will try again");
          continue;
        }
        if (stopping) {
          await node.stop();
          return;
        }
        options.log.warn({ rpcUrl, pid: node.child.pid }, "local chain restarted");
        supervise(node);
        for (const listener of listeners) listener();
        return;
      }
    });
  };
  supervise(node);

  return {
    rpcUrl,
    get process() {
      return node.child;
    },
    onRestart(listener) {
      listeners.push(listener);
    },
    async stop() {
      stopping = true;
      await node.stop();
      // A restart in progress finishes (and stops the node it started) before we return:
      // the process may exit right after, and must leave no anvil behind.
      await restarting;
      rmSync(pidFile, { force: true });
    },
  };
}

interface RunningNode {
  child: ChildProcess;
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** One anvil process, answering JSON-RPC when this resolves. */
async function spawnNode(options: LocalChainOptions, rpcUrl: string, pidFile: string): Promise<RunningNode> {
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
  try {
    await alignClock(rpcUrl);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`anvil's clock could not be set on ${rpcUrl}: ${(e as Error).message}`);
  }
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The time to give a node's clock: this machine's, rounded up to the next whole second, and
 * never before its latest block. Block times are whole seconds; rounded up, a block is never
 * stamped before the moment it is made (the time invariant's premise), at worst up to a second
 * after it.
 */
export function clockTarget(nowMs: number, latestBlockTimestamp: number): number {
  return Math.max(Math.ceil(nowMs / 1000), latestBlockTimestamp);
}

/**
 * Sets anvil's clock to this machine's (clockTarget). An anvil that has just started, above
 * all from its state file, now and then keeps a clock a whole second behind: its blocks are
 * then stamped before deposits they anchor were received, and the attest step rightly blocks
 * every such batch for an operator (TIME_INVARIANT). Measured: one restart in a few dozen.
 */
export async function alignClock(rpcUrl: string): Promise<void> {
  const latest = (await rpc(rpcUrl, "eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
  await rpc(rpcUrl, "evm_setTime", [clockTarget(Date.now(), Number(BigInt(latest.timestamp)))]);
}

async function rpc(rpcUrl: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message ?? "failed"}`);
  return body.result;
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
