// Group commit: requests that arrive together share one statement and one commit. Each
// caller still gets its own answer, and only once its group's commit is over; an item the
// commit refuses fails alone, while a failure of the commit itself fails exactly its group.

/** What a group's commit says about one of its items. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Commits one group; answers one outcome per item, in order. Throwing fails the whole group. */
export type CommitGroup<I, R> = (items: I[]) => Promise<ItemOutcome<R>[]>;

export interface GroupCommitOptions {
  /** Most items in one group; a group this full is committed at once. */
  maxItems: number;
  /**
   * Longest an item waits for others to join its group before the group is committed, ms. The
   * wait ends early when the group is full.
   */
  maxWaitMs: number;
  /**
   * Most groups committing at once. While every slot is taken, arriving items wait and leave
   * together in the next group: the busier the database, the larger the groups.
   */
  maxConcurrent: number;
}

interface Waiting<I, R> {
  item: I;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/** Coalesces items submitted within `maxWaitMs` of each other into one call of `commit`. */
export class GroupCommit<I, R> {
  private waiting: Waiting<I, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The waiting items have waited long enough (or are a full group): commit them when a slot frees. */
  private due = false;
  private running = 0;

  constructor(
    private readonly commit: CommitGroup<I, R>,
    private readonly o: GroupCommitOptions,
  ) {
    if (!(o.maxItems >= 1 && o.maxConcurrent >= 1 && o.maxWaitMs >= 0)) {
      throw new RangeError(
        "group commit: maxItems and maxConcurrent must be at least 1, maxWaitMs at least 0",
      );
    }
  }

  /** Items waiting for a group, and groups being committed: what a shutdown would wait for. */
  get backlog(): { waiting: number; committing: number } {
    return { waiting: this.waiting.length, committing: this.running };
  }

  /** Resolves with the item's outcome once its group is committed; rejects with its error. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.due || this.waiting.length >= this.o.maxItems) {
        this.due = true;
        this.start();
      } else {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.due = true;
          this.start();
        }, this.o.maxWaitMs);
      }
    });
  }

  /** Starts groups while items are due and slots are free. */
  private start(): void {
    while (this.due && this.waiting.length > 0 && this.running < this.o.maxConcurrent) {
      const group = this.waiting.splice(0, this.o.maxItems);
      if (this.waiting.length === 0) {
        this.due = false;
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.running++;
      void this.run(group);
    }
  }

  private async run(group: Waiting<I, R>[]): Promise<void> {
    try {
      const outcomes = await this.commit(group.map((w) => w.item));
      if (outcomes.length !== group.length) {
        throw new Error(`group commit: ${outcomes.length} outcomes for ${group.length} items`);
      }
      group.forEach((w, i) => {
        const outcome = outcomes[i] as ItemOutcome<R>;
        if (outcome.ok) w.resolve(outcome.value);
        else w.reject(outcome.error);
      });
    } catch (error) {
      for (const w of group) w.reject(error);
    } finally {
      this.running--;
      this.start();
    }
  }
}
