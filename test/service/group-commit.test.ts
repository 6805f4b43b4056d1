import { GroupCommit, type ItemOutcome } from "../../services/deposits/group-commit";

// The coalescer on its own: which items share a commit, when a group leaves, and whose
// promise an item's or a group's failure rejects. The commit here is a function the test
// controls; the database behind it is tested in group-commit-store.test.ts.

/** A commit the test releases by hand, recording each group it was given. */
function controlledCommit() {
  const groups: number[][] = [];
  const release: Array<(outcomes?: ItemOutcome<string>[] | Error) => void> = [];
  const commit = (items: number[]) =>
    new Promise<ItemOutcome<string>[]>((resolve, reject) => {
      groups.push(items);
      release.push((answer) => {
        if (answer instanceof Error) reject(answer);
        else resolve(answer ?? items.map((i) => ({ ok: true, value: `stored ${i}` })));
      });
    });
  return { groups, release, commit };
}

const settled = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** Lets timers of `ms` fire and the promise callbacks after them run. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("items submitted together share one commit; each gets its own answer", async () => {
  const { groups, release, commit } = controlledCommit();
  const gc = new GroupCommit(commit, { maxItems: 100, maxWaitMs: 0, maxConcurrent: 1 });
  const answers = [1, 2, 3].map((i) => gc.submit(i));
  await pause(5);
  expect(groups).toEqual([[1, 2, 3]]);
  release[0]!();
  expect(await Promise.all(answers)).toEqual(["stored 1", "stored 2", "stored 3"]);
});

test("no answer before the group's commit is over", async () => {
  const { release, commit } = controlledCommit();
  const gc = new GroupCommit(commit, { maxItems: 10, maxWaitMs: 0, maxConcurrent: 1 });
  let answered = false;
  const answer = gc.submit(7).then((v) => {
    answered = true;
    return v;
  });
  await pause(20);
  expect(answered).toBe(false);
  release[0]!();
  expect(await answer).toBe("stored 7");
});

test("a group waits maxWaitMs for company, and leaves at once when full", async () => {
  jest.useFakeTimers();
  try {
    const { groups, commit } = controlledCommit();
    const gc = new GroupCommit(commit, { maxItems: 3, maxWaitMs: 50, maxConcurrent: 4 });
    void gc.submit(1);
    void gc.submit(2);
    await jest.advanceTimersByTimeAsync(49);
    expect(groups).toEqual([]);
    void gc.submit(3); // full: leaves now, before the 50 ms are up
    await jest.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([[1, 2, 3]]);
    void gc.submit(4);
    await jest.advanceTimersByTimeAsync(49);
    expect(groups).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(groups).toEqual([[1, 2, 3], [4]]);
  } finally {
    jest.useRealTimers();
  }
});

test("groups hold at most maxItems", async () => {
  const { groups, release, commit } = controlledCommit();
  const gc = new GroupCommit(commit, { maxItems: 2, maxWaitMs: 0, maxConcurrent: 10 });
  const answers = [1, 2, 3, 4, 5].map((i) => gc.submit(i));
  await pause(5);
  expect(groups).toEqual([[1, 2], [3, 4], [5]]);
  release.forEach((r) => r());
  expect(await Promise.all(answers)).toHaveLength(5);
});

test("while every slot is busy, arriving items gather into the next group", async () => {
  const { groups, release, commit } = controlledCommit();
  const gc = new GroupCommit(commit, { maxItems: 100, maxWaitMs: 0, maxConcurrent: 1 });
  const first = gc.submit(1);
  await pause(5);
  const later = [2, 3, 4].map((i) => gc.submit(i));
  await pause(5);
  expect(groups).toEqual([[1]]); // the slot is taken
  expect(gc.backlog).toEqual({ waiting: 3, committing: 1 });
  release[0]!();
  await first;
  await pause(0);
  expect(groups).toEqual([[1], [2, 3, 4]]);
  release[1]!();
  expect(await Promise.all(later)).toEqual(["stored 2", "stored 3", "stored 4"]);
  expect(gc.backlog).toEqual({ waiting: 0, committing: 0 });
});

test("an item the commit refuses fails alone", async () => {
  const { release, commit } = controlledCommit();
  const gc = new GroupCommit(commit, { maxItems: 10, maxWaitMs: 0, maxConcurrent: 1 });
  const answers = [1, 2, 3].map((i) => settled(gc.submit(i)));
  await pause(5);
  const refused = new Error("item 2 refused");
  release[0]!([
    { ok: true, value: "stored 1" },
    { ok: false, error: refused },
    { ok: true, value: "stored 3" },
  ]);
  expect(await Promise.all(answers)).toEqual([
    { ok: true, value: "stored 1" },
    { ok: false, error: refused },
    { ok: true, value: "stored 3" },
  ]);
});

test("a failed commit fails exactly its group; the next group goes ahead", async () => {
  const { groups, release, commit } = controlledCommit();
  const gc = new GroupCommit(commit, { maxItems: 2, maxWaitMs: 0, maxConcurrent: 2 });
  const answers = [1, 2, 3].map((i) => settled(gc.submit(i)));
  await pause(5);
  expect(groups).toEqual([[1, 2], [3]]);
  const down = new Error("Connection terminated unexpectedly");
  release[0]!(down);
  release[1]!();
  expect(await Promise.all(answers)).toEqual([
    { ok: false, error: down },
    { ok: false, error: down },
    { ok: true, value: "stored 3" },
  ]);
  // and the coalescer keeps working
  const after = gc.submit(4);
  await pause(5);
  release[2]!();
  expect(await after).toBe("stored 4");
});

test("a commit answering the wrong number of outcomes fails its group", async () => {
  const gc = new GroupCommit<number, string>(async () => [{ ok: true, value: "one" }], {
    maxItems: 10,
    maxWaitMs: 0,
    maxConcurrent: 1,
  });
  const answers = await Promise.all([1, 2].map((i) => settled(gc.submit(i))));
  expect(answers.map((a) => a.ok)).toEqual([false, false]);
});

test("options out of range are refused", () => {
  const commit = async () => [];
  expect(() => new GroupCommit(commit, { maxItems: 0, maxWaitMs: 0, maxConcurrent: 1 })).toThrow(RangeError);
  expect(() => new GroupCommit(commit, { maxItems: 1, maxWaitMs: -1, maxConcurrent: 1 })).toThrow(RangeError);
  expect(() => new GroupCommit(commit, { maxItems: 1, maxWaitMs: 0, maxConcurrent: 0 })).toThrow(RangeError);
});
