import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "./stack";

// A redis-server of the test's own, on a free port, keeping nothing on disk: for what must
// never be done to the shared Redis (changing its configuration, stopping it).

export interface ThrowawayRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startThrowawayRedis(args: string[] = []): Promise<ThrowawayRedis> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no", ...args], {
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
    await exited;
  };
  // Ready once it answers PING.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch (e) {
      probe.disconnect();
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server on port ${port} did not start: ${String(e)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url, pid: child.pid as number, stop };
}
