// The anchoring policy: what one pass of the sender does, decided from what PostgreSQL and the
// chain say, as a pure function. services/anchor/anchor.ts gathers the situation and carries
// the steps out; everything here is tested without a chain.

/** One of our recorded transactions still in flight, and what the chain says of it. */
export interface InFlight {
  id: number;
  batchId: number;
  nonce: number;
  /** The key that signed it. */
  sender: string;
  /** When it was signed and first sent, ms. */
  sentAt: number;
  /** Its receipt, once mined (in the chain's current view). */
  receipt: { status: number; blockNumber: number } | null;
}

export interface Situation {
  /** The anchoring key now in use. */
  sender: string;
  /** The chain's count of the sender's mined transactions (the next nonce it will mine). */
  confirmed: number;
  head: number;
  now: number;
  inFlight: InFlight[];
  /** Sealed batches with no transaction in flight, oldest first. */
  waiting: number[];
  /** Blocks a transaction's block needs on top of it (itself included) before it counts. */
  confirmations: number;
  /** How long a transaction may stay unmined before it is replaced. */
  timeoutMs: number;
  /** Most of the sender's transactions in flight at once. */
  maxInFlight: number;
}

export type Step =
  /** Mined and confirmed: record the anchor from the chain. */
  | { kind: "record"; attempt: InFlight }
  /** Mined, but it reverted: settle it; the batch is looked at again. */
  | { kind: "reverted"; attempt: InFlight }
  /** Never mined, and its nonce is used: another transaction took it. */
  | { kind: "dropped"; attempt: InFlight }
  /** Still unmined: send the same bytes again (a node that lost it gets it back). */
  | { kind: "rebroadcast"; attempt: InFlight }
  /**
   * Replace it: at its own nonce with higher fees when it is the lowest and stuck, or at a
   * lower nonce when no transaction of ours holds that one (a gap it would wait on forever).
   */
  | { kind: "replace"; attempt: InFlight; nonce: number }
  /** Signed by a key no longer in use and stuck: give it up; its batch gets a new transaction. */
  | { kind: "abandon"; attempt: InFlight }
  /** A waiting batch's first transaction. */
  | { kind: "send"; batchId: number; nonce: number };

/** One pass of the sender. */
export function planTick(s: Situation): Step[] {
  const steps: Step[] = [];
  const pending: InFlight[] = [];
  /** Our mined transactions still short of their confirmations: their nonces are taken. */
  const unconfirmed: number[] = [];
  /** Batches whose transaction is settled here without anchoring them: they wait again. */
  const freed: number[] = [];
  for (const a of s.inFlight) {
    if (a.receipt) {
      if (a.receipt.status !== 1) {
        steps.push({ kind: "reverted", attempt: a });
        freed.push(a.batchId);
      } else if (s.head - a.receipt.blockNumber + 1 >= s.confirmations)
        steps.push({ kind: "record", attempt: a });
      // mined but not yet confirmed: nothing to do but wait
      else if (a.sender === s.sender) unconfirmed.push(a.nonce);
    } else if (a.sender !== s.sender) {
      // A former key's transaction: it can be sent again (the bytes are recorded) but not
      // re-signed. Stuck for long, it is given up and its batch signed anew by the current key;
      // should it be mined after all, the registry refuses the second root.
      if (s.now - a.sentAt > 2 * s.timeoutMs) {
        steps.push({ kind: "abandon", attempt: a });
        freed.push(a.batchId);
      } else steps.push({ kind: "rebroadcast", attempt: a });
    } else if (a.nonce < s.confirmed) {
      steps.push({ kind: "dropped", attempt: a });
      freed.push(a.batchId);
    } else {
      pending.push(a);
    }
  }

  // A batch freed here is sent again in this same pass (its send checks the chain first, in
  // case another transaction of it was mined), before newer ones.
  const waiting = [...freed, ...s.waiting.filter((id) => !freed.includes(id))];
  pending.sort((a, b) => a.nonce - b.nonce);
  // A nonce is held by a pending transaction, and by a mined one until it is confirmed: the
  // receipts are read before the nonce count, so a reorganisation in between can leave the
  // count below a nonce whose transaction was just seen mined (and is sent again if its block
  // went away). It must not look free.
  const held = new Set([...pending.map((a) => a.nonce), ...unconfirmed]);
  const free: number[] = [];
  for (let n = s.confirmed; free.length < waiting.length + pending.length + 1; n++)
    if (!held.has(n)) free.push(n);
  const below = (n: number) => free.filter((f) => f < n);

  // New transactions take the lowest free nonces first: a gap left by a lost or dropped
  // transaction is filled by the next batch, as far as the in-flight limit allows.
  const room = Math.max(0, s.maxInFlight - pending.length);
  const sends = waiting.slice(0, room).map((batchId, i) => ({ batchId, nonce: free[i] as number }));
  const taken = new Set(sends.map((x) => x.nonce));
  const gaps = free.filter((n) => !taken.has(n));

  // Any gap left below a pending transaction is filled by moving the highest one down into it.
  const movable = [...pending];
  for (const gap of gaps) {
    const top = movable[movable.length - 1];
    if (!top || top.nonce < gap) break;
    movable.pop();
    steps.push({ kind: "replace", attempt: top, nonce: gap });
  }
  const moved = new Set(
    steps.filter((x) => x.kind === "replace").map((x) => (x as { attempt: InFlight }).attempt.id),
  );
  for (const a of pending) {
    if (moved.has(a.id)) continue;
    // Only the lowest pending nonce can be what holds the others up: it alone is re-priced.
    const stuck = a.nonce === s.confirmed && s.now - a.sentAt > s.timeoutMs && below(a.nonce).length === 0;
    steps.push(stuck ? { kind: "replace", attempt: a, nonce: a.nonce } : { kind: "rebroadcast", attempt: a });
  }
  for (const x of sends) steps.push({ kind: "send", ...x });
  return steps;
}
