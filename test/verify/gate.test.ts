import { Gate, readingOffSlot } from "../../services/verify/gate";
import type { ChainReader } from "../../services/core";

// The verify route's CPU bound: at most `concurrency` tasks compute at once (a task waiting on
// I/O holds no slot), at most `concurrency + queueMax` are in progress, the rest are refused.

/** A promise the test resolves. */
function later<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const ticks = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test("computing at most `concurrency`, in progress at most `concurrency + queueMax`, the rest refused", async () => {
  const gate = new Gate(2, 2);
  const started: number[] = [];
  const holds = [1, 2, 3, 4].map(() => later());
  const runs = holds.map((h, i) =>
    gate.tryRun(async () => {
      started.push(i + 1);
      await h.promise; // computing: an await outside `io` keeps the slot
      return i + 1;
    }),
  );
  expect(gate.tryRun(async () => 5)).toBeNull();
  await ticks();
  expect(started).toEqual([1, 2]);
  expect(gate.load).toEqual({ admitted: 4, computing: 2, waiting: 2 });

  holds[0]!.resolve();
  expect(await runs[0]).toBe(1);
  await ticks();
  expect(started).toEqual([1, 2, 3]); // the freed slot went to the first waiter
  expect(gate.tryRun(async () => 6)).not.toBeNull(); // room in progress again

  for (const h of holds) h.resolve();
  expect(await Promise.all(runs)).toEqual([1, 2, 3, 4]);
  await ticks();
  expect(gate.load).toEqual({ admitted: 0, computing: 0, waiting: 0 });
});

test("a task waiting on I/O gives its slot to another, and waits for it back before computing again", async () => {
  const gate = new Gate(1, 5);
  const events: string[] = [];
  const reply = later<string>();
  const bHolds = later();
  const a = gate.tryRun(async (io) => {
    events.push("a computes");
    const answer = await io(() => reply.promise);
    events.push(`a computes again with ${answer}`);
    return "a";
  });
  const b = gate.tryRun(async () => {
    events.push("b computes");
    await bHolds.promise;
    events.push("b done");
    return "b";
  });
  await ticks();
  expect(events).toEqual(["a computes", "b computes"]); // b ran while a waited
  reply.resolve("the answer");
  await ticks();
  expect(events).toEqual(["a computes", "b computes"]); // a's answer is in, but b holds the slot
  expect(gate.load).toMatchObject({ computing: 1, waiting: 1 });
  bHolds.resolve();
  expect(await Promise.all([a, b])).toEqual(["a", "b"]);
  expect(events).toEqual(["a computes", "b computes", "b done", "a computes again with the answer"]);
  expect(gate.load).toEqual({ admitted: 0, computing: 0, waiting: 0 });
});

test("tasks waiting on I/O still count as in progress: the bound holds against a slow node", async () => {
  const gate = new Gate(1, 1);
  const node = later();
  const runs = [1, 2].map((i) => gate.tryRun((io) => io(() => node.promise).then(() => i)));
  await ticks();
  expect(gate.load).toEqual({ admitted: 2, computing: 0, waiting: 0 });
  expect(gate.tryRun(async () => 3)).toBeNull();
  node.resolve();
  expect(await Promise.all(runs)).toEqual([1, 2]);
});

test("a task or an I/O call that fails frees the slot and its caller gets the error", async () => {
  const gate = new Gate(1, 0);
  await expect(
    gate.tryRun(async () => {
      throw new Error("boom");
    }),
  ).rejects.toThrow("boom");
  await expect(gate.tryRun((io) => io(() => Promise.reject(new Error("node down"))))).rejects.toThrow(
    "node down",
  );
  expect(gate.load).toEqual({ admitted: 0, computing: 0, waiting: 0 });
  expect(await gate.tryRun(async () => 2)).toBe(2);
});

test("readingOffSlot: every chain read goes through io, answers unchanged", async () => {
  const calls: string[] = [];
  const chain: ChainReader = {
    chainId: async () => 5n,
    anchorOf: async (registry, root) => ({
      timestamp: 1n,
      blockNumber: 2n,
      treeSize: 3n,
      batch: BigInt(root.length),
    }),
    block: async (n) => ({ hash: `0x${n}`, timestamp: 9n }),
    certifier: async () => ({ since: 1n, until: 0n }),
  };
  const io = <R>(call: () => Promise<R>) => {
    calls.push("io");
    return call();
  };
  const gated = readingOffSlot(chain, io);
  expect(await gated.chainId()).toBe(5n);
  expect((await gated.anchorOf("0xr", "0xroot")).batch).toBe(6n);
  expect(await gated.block(7)).toEqual({ hash: "0x7", timestamp: 9n });
  expect(await gated.certifier("0xr", "0xs")).toEqual({ since: 1n, until: 0n });
  expect(calls).toEqual(["io", "io", "io", "io"]);
});

test("concurrency below 1 is refused", () => {
  expect(() => new Gate(0, 5)).toThrow(RangeError);
});
