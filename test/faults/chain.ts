import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { alignClock, foundryBinary } from "../../services/chain/local-node";
import { freePort } from "../helpers/stack";

// The chain of a fault case when the test itself must hold it: an anvil the test starts,
// stops, restarts with its state, mines by hand and reorganises, and a JSON-RPC proxy in front
// of it that can serve a node that is behind.

export interface TestChain {
  port: number;
  rpcUrl: string;
  stateFile: string;
  readonly child: ChildProcess;
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  head(): Promise<number>;
  mine(blocks?: number): Promise<void>;
  automine(on: boolean): Promise<void>;
  /** Replaces the last `depth` blocks by empty ones (their transactions vanish). */
  reorg(depth: number): Promise<void>;
  /** Hashes of the transactions waiting in the node's pool. */
  pool(): Promise<string[]>;
  /** SIGTERM (anvil writes its state on the way out) and wait for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port from its state file. */
  start(): Promise<void>;
}

/** An anvil on a free port, its state in `stateFile` (written every second and on exit). */
export async function startChain(stateFile: string): Promise<TestChain> {
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const call = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  };
  const chain: TestChain = {
    port,
    rpcUrl,
    stateFile,
    get child() {
      return child!;
    },
    call,
    head: async () => Number(BigInt(await call<string>("eth_blockNumber"))),
    async mine(blocks = 1) {
      // evm_mine stamps a block with the node's clock; anvil_mine would add a second per block
      // to its parent's time, and a chain mined by hand would fall behind the clock.
      for (let i = 0; i < blocks; i++) await call("evm_mine");
    },
    async automine(on) {
      await call("evm_setAutomine", [on]);
    },
    async reorg(depth) {
      await call("anvil_reorg", [depth, []]);
      // anvil also sets its clock back to the common ancestor's time, which no chain does:
      // later blocks would be stamped before the deposits they anchor.
      await alignClock(rpcUrl);
    },
    async pool() {
      type Txs = Record<string, Record<string, { hash: string }>>;
      const content = await call<{ pending: Txs; queued: Txs }>("txpool_content");
      return [content.pending, content.queued].flatMap((txs) =>
        Object.values(txs).flatMap((byNonce) => Object.values(byNonce).map((t) => t.hash)),
      );
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    async start() {
      const c = spawn(
        foundryBinary("anvil"),
        ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "31337"].concat([
          "--state",
          stateFile,
          "--state-interval",
          "1",
          "--silent",
        ]),
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      c.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      child = c;
      exited = new Promise((resolve) => c.once("exit", () => resolve()));
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (c.exitCode !== null) throw new Error(`anvil exited (${c.exitCode}): ${stderr}`);
        if (
          await call("eth_chainId").then(
            () => true,
            () => false,
          )
        )
          return;
        if (Date.now() > deadline) throw new Error(`anvil did not answer on ${rpcUrl}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  await chain.start();
  return chain;
}

/** Mines a block every `everyMs` (automine off) until stopped; `pause()` holds it. */
export function miner(
  chain: TestChain,
  everyMs: number,
): { pause(): Promise<void>; resume(): void; stop(): Promise<void> } {
  let paused = false;
  let running = true;
  let mining: Promise<unknown> = Promise.resolve();
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (running && !paused) {
        mining = chain.mine().catch(() => undefined);
        await mining;
      }
    }
  })();
  return {
    async pause() {
      paused = true;
      await mining;
    },
    resume: () => void (paused = false),
    async stop() {
      running = false;
      await loop;
    },
  };
}

interface RpcRequest {
  jsonrpc: "2.0";
  id: number | string | null;
  method: string;
  params?: unknown[];
}

export interface LaggingProxy {
  url: string;
  /**
   * Serves the chain as a node stuck at block `head` sees it (no block, receipt, log or state
   * above it; transactions are still relayed), until `catchUp()`.
   */
  fallBehind(head: number): void;
  catchUp(): void;
  /** Requests answered from the stale view so far. */
  readonly staleAnswers: number;
  /** Requests the proxy could not answer (502), with the reason. */
  readonly errors: string[];
  close(): Promise<void>;
}

const BLOCK_TAGS = new Set(["latest", "pending", "safe", "finalized"]);
/** Methods whose last parameter is a block tag, and how many parameters come before it. */
const STATE_READS: Record<string, number> = {
  eth_call: 1,
  eth_estimateGas: 1,
  eth_getBalance: 1,
  eth_getCode: 1,
  eth_getTransactionCount: 1,
  eth_getStorageAt: 2,
};

/** A JSON-RPC proxy in front of `target` that can play a node that is behind. */
export async function laggingProxy(target: string): Promise<LaggingProxy> {
  let frozen: number | undefined;
  let staleAnswers = 0;
  const errors: string[] = [];
  const forward = async (body: unknown): Promise<unknown> => {
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return res.json();
  };
  const answer = (req: RpcRequest, result: unknown) => ({ jsonrpc: "2.0", id: req.id, result });
  const hex = (n: number) => `0x${n.toString(16)}`;
  const above = (n: unknown) =>
    typeof n === "string" && n.startsWith("0x") && frozen !== undefined && Number(BigInt(n)) > frozen;

  const one = async (req: RpcRequest): Promise<unknown> => {
    if (frozen === undefined) return forward(req);
    const head = frozen;
    const params = [...(req.params ?? [])];
    const pin = (tag: unknown) =>
      typeof tag !== "string" || BLOCK_TAGS.has(tag) || above(tag) ? hex(head) : tag;
    staleAnswers++;
    switch (req.method) {
      case "eth_blockNumber":
        return answer(req, hex(head));
      case "eth_getBlockByNumber":
        if (above(params[0])) return answer(req, null);
        params[0] = pin(params[0]);
        return forward({ ...req, params });
      case "eth_getBlockByHash":
      case "eth_getTransactionReceipt": {
        const res = (await forward(req)) as { result?: { blockNumber?: string; number?: string } | null };
        const n = res.result?.blockNumber ?? res.result?.number;
        return above(n) ? answer(req, null) : res;
      }
      case "eth_getTransactionByHash": {
        const res = (await forward(req)) as { result?: Record<string, unknown> | null };
        if (res.result && above(res.result.blockNumber))
          return answer(req, { ...res.result, blockHash: null, blockNumber: null, transactionIndex: null });
        return res;
      }
      case "eth_getLogs": {
        const filter = { ...(params[0] as Record<string, unknown>) };
        if (filter.blockHash === undefined) {
          if (above(filter.fromBlock)) return answer(req, []);
          filter.toBlock = pin(filter.toBlock);
          if (filter.fromBlock === undefined || BLOCK_TAGS.has(filter.fromBlock as string))
            filter.fromBlock = hex(head);
        }
        const res = (await forward({ ...req, params: [filter] })) as { result?: { blockNumber: string }[] };
        return Array.isArray(res.result)
          ? answer(
              req,
              res.result.filter((l) => !above(l.blockNumber)),
            )
          : res;
      }
      default: {
        const before = STATE_READS[req.method];
        if (before === undefined) {
          staleAnswers--;
          return forward(req); // sending, fees, chain id: as the node has them
        }
        params[before] = pin(params[before]);
        return forward({ ...req, params });
      }
    }
  };

  const server: Server = createServer((request, response) => {
    let raw = "";
    request.on("data", (d: Buffer) => (raw += d.toString()));
    request.on("end", () => {
      const body = JSON.parse(raw) as RpcRequest | RpcRequest[];
      (Array.isArray(body) ? Promise.all(body.map(one)) : one(body))
        .then((result) => {
          response.setHeader("content-type", "application/json");
          response.end(JSON.stringify(result));
        })
        .catch((e: unknown) => {
          errors.push(`${raw.slice(0, 200)}: ${(e as Error).message}`);
          response.statusCode = 502;
          response.end();
        });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    fallBehind(head) {
      frozen = head;
    },
    catchUp() {
      frozen = undefined;
    },
    get staleAnswers() {
      return staleAnswers;
    },
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A redis-server of the test's own (no persistence), to restart and to take away. */
export interface OwnRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const redis: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const c = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        { stdio: "ignore" },
      );
      child = c;
      exited = new Promise((resolve) => c.once("exit", () => resolve()));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const up = await new Promise<boolean>((resolve) => {
          const probe = spawn("redis-cli", ["-p", String(port), "ping"], {
            stdio: ["ignore", "pipe", "ignore"],
          });
          let out = "";
          probe.stdout.on("data", (d: Buffer) => (out += d.toString()));
          probe.on("exit", () => resolve(out.includes("PONG")));
        });
        if (up) return;
        if (c.exitCode !== null || Date.now() > deadline)
          throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  await redis.start();
  return redis;
}
