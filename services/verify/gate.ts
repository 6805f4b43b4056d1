import type { ChainReader } from "../core";

// Bounds the verifier's CPU in one API process. A verification holds a slot while it computes
// and gives it up while it waits on the chain (`io`), so at most `concurrency` verifications
// compute at once however slow the node is; one is all an event loop computes at a time anyway,
// and with one, a depositor's request waits behind at most one verification's step, not a
// queue of them. A freed slot passes to the next waiter through setImmediate, so callbacks
// already due (a depositor's query result, say) run first. At most `concurrency + queueMax`
// verifications are in progress; any more are refused at once (the route answers 429
// VERIFY_BUSY).

/** Runs `call` without holding a CPU slot, and takes one again before returning. */
export type Io = <R>(call: () => Promise<R>) => Promise<R>;

export class Gate {
  private computing = 0;
  private admitted = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly queueMax: number,
  ) {
    if (!(concurrency >= 1)) throw new RangeError("concurrency must be at least 1");
  }

  /** Tasks in progress, computing, and waiting for a slot. */
  get load(): { admitted: number; computing: number; waiting: number } {
    return { admitted: this.admitted, computing: this.computing, waiting: this.waiting.length };
  }

  /**
   * Runs `task` once a slot is free; null, without running it, when `concurrency + queueMax`
   * tasks are in progress. The task waits on I/O through `io`, which frees its slot meanwhile.
   */
  tryRun<T>(task: (io: Io) => Promise<T>): Promise<T> | null {
    if (this.admitted >= this.concurrency + this.queueMax) return null;
    this.admitted++;
    let holding = false;
    let done = false;
    let reacquiring: Promise<void> | undefined;
    const hold = async () => {
      reacquiring ??= this.acquire().then(() => {
        reacquiring = undefined;
        // A task that ended without waiting for its own I/O needs no slot any more.
        if (done) this.release();
        else holding = true;
      });
      await reacquiring;
    };
    const io: Io = async (call) => {
      if (holding) {
        holding = false;
        this.release();
      }
      try {
        return await call();
      } finally {
        // What follows the call computes again: it needs a slot (one, if calls overlapped).
        if (!holding && !done) await hold();
      }
    };
    return hold()
      .then(() => task(io))
      .finally(() => {
        done = true;
        if (holding) {
          holding = false;
          this.release();
        }
        this.admitted--;
      });
  }

  private acquire(): Promise<void> {
    if (this.computing < this.concurrency) {
      this.computing++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes to the next waiter as it is (computing stays the same).
    if (next) setImmediate(next);
    else this.computing--;
  }
}

/** `chain`, each of whose reads frees the verification's CPU slot while it waits. */
export function readingOffSlot(chain: ChainReader, io: Io): ChainReader {
  return {
    chainId: () => io(() => chain.chainId()),
    anchorOf: (registry, root) => io(() => chain.anchorOf(registry, root)),
    block: (blockNumber) => io(() => chain.block(blockNumber)),
    certifier: (registry, signer) => io(() => chain.certifier(registry, signer)),
  };
}
