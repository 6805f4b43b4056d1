import { planTick, type InFlight, type Situation } from "../../services/anchor/plan";

// The sender's policy on its own: what one pass does for each situation the chain can put it in.

const KEY = "0xAnchorer";
const now = 1_000_000;
const base: Situation = {
  sender: KEY,
  confirmed: 5,
  head: 100,
  now,
  inFlight: [],
  waiting: [],
  confirmations: 1,
  timeoutMs: 60_000,
  maxInFlight: 4,
};
let ids = 0;
const tx = (nonce: number, extra: Partial<InFlight> = {}): InFlight => ({
  id: ++ids,
  batchId: 100 + nonce,
  nonce,
  sender: KEY,
  sentAt: now - 1000,
  receipt: null,
  ...extra,
});
const kinds = (s: Partial<Situation>) =>
  planTick({ ...base, ...s }).map((x) =>
    x.kind === "send"
      ? `send ${x.batchId}@${x.nonce}`
      : x.kind === "replace"
        ? `replace ${x.attempt.nonce}@${x.nonce}`
        : `${x.kind} ${x.attempt.nonce}`,
  );

test("waiting batches take the next nonces, up to the in-flight limit", () => {
  expect(kinds({ waiting: [1, 2, 3, 4, 5] })).toEqual(["send 1@5", "send 2@6", "send 3@7", "send 4@8"]);
  expect(kinds({ inFlight: [tx(5), tx(6)], waiting: [1, 2, 3] })).toEqual([
    "rebroadcast 5",
    "rebroadcast 6",
    "send 1@7",
    "send 2@8",
  ]);
});

test("a mined transaction is recorded at once when confirmed, and waits until then", () => {
  const mined = tx(5, { receipt: { status: 1, blockNumber: 99 } });
  expect(kinds({ inFlight: [mined], confirmed: 6 })).toEqual(["record 5"]);
  expect(kinds({ inFlight: [mined], confirmed: 6, confirmations: 3 })).toEqual([]);
  expect(kinds({ inFlight: [mined], confirmed: 6, confirmations: 2 })).toEqual(["record 5"]);
});

test("a mined transaction short of its confirmations keeps its nonce, even when the count read after it is lower", () => {
  // Its receipt was read before a reorganisation took its block away, the nonce count after.
  const mined = tx(5, { receipt: { status: 1, blockNumber: 100 } });
  expect(kinds({ inFlight: [mined, tx(6)], confirmed: 5, confirmations: 2, waiting: [1] })).toEqual([
    "rebroadcast 6",
    "send 1@7",
  ]);
  // With nothing waiting, no pending transaction is moved down into its nonce either.
  expect(kinds({ inFlight: [mined, tx(6), tx(7)], confirmed: 5, confirmations: 2 })).toEqual([
    "rebroadcast 6",
    "rebroadcast 7",
  ]);
});

test("reverted, and dropped when its nonce was used by another transaction", () => {
  expect(kinds({ inFlight: [tx(4, { receipt: { status: 0, blockNumber: 90 } })], maxInFlight: 0 })).toEqual([
    "reverted 4",
  ]);
  expect(kinds({ inFlight: [tx(4)], confirmed: 5, maxInFlight: 0 })).toEqual(["dropped 4"]);
});

test("only the lowest pending nonce is re-priced, and only once it is stuck", () => {
  const old = now - 61_000;
  expect(
    kinds({ inFlight: [tx(5, { sentAt: old }), tx(6, { sentAt: old }), tx(7, { sentAt: old })] }),
  ).toEqual(["replace 5@5", "rebroadcast 6", "rebroadcast 7"]);
  expect(kinds({ inFlight: [tx(5, { sentAt: now - 59_000 })] })).toEqual(["rebroadcast 5"]);
});

test("a gap below pending transactions (lost blocks) is filled by waiting batches first", () => {
  expect(kinds({ inFlight: [tx(7), tx(8)], waiting: [1, 2] })).toEqual([
    "rebroadcast 7",
    "rebroadcast 8",
    "send 1@5",
    "send 2@6",
  ]);
});

test("with no batch to fill it, the highest pending transactions move down into the gap", () => {
  expect(kinds({ inFlight: [tx(7), tx(8)] })).toEqual(["replace 8@5", "replace 7@6"]);
  expect(kinds({ inFlight: [tx(6), tx(8)], waiting: [1] })).toEqual([
    "replace 8@7",
    "rebroadcast 6",
    "send 1@5",
  ]);
});

test("a former key's transaction is sent again, never re-signed; stuck for long, it is given up", () => {
  const former = tx(3, { sender: "0xFormer" });
  expect(kinds({ inFlight: [former] })).toEqual(["rebroadcast 3"]);
  expect(kinds({ inFlight: [{ ...former, sentAt: now - 121_000 }], maxInFlight: 0 })).toEqual(["abandon 3"]);
  // its nonces are another key's: they leave no gap in ours
  expect(kinds({ inFlight: [former], waiting: [1] })).toEqual(["rebroadcast 3", "send 1@5"]);
});

test("the in-flight limit counts what is pending", () => {
  expect(kinds({ inFlight: [tx(5), tx(6), tx(7), tx(8)], waiting: [1] })).toEqual([
    "rebroadcast 5",
    "rebroadcast 6",
    "rebroadcast 7",
    "rebroadcast 8",
  ]);
});

test("a batch freed by a dropped, reverted or abandoned transaction is sent again in the same pass, first", () => {
  expect(kinds({ inFlight: [tx(4)], confirmed: 5, waiting: [1] })).toEqual([
    "dropped 4",
    "send 104@5",
    "send 1@6",
  ]);
  expect(kinds({ inFlight: [tx(5, { receipt: { status: 0, blockNumber: 99 } })], confirmed: 6 })).toEqual([
    "reverted 5",
    "send 105@6",
  ]);
  expect(kinds({ inFlight: [tx(2, { sender: "0xFormer", sentAt: now - 200_000 })] })).toEqual([
    "abandon 2",
    "send 102@5",
  ]);
});
