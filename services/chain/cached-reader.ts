import type { ChainReader } from "../core";

// The verifier's chain reads, cached where the chain cannot change its answer. The verdict
// still comes from the one core verifier: this only answers some of its questions from memory.
//
// Cached: an anchor (anchorOf) and a block whose block has at least `confirmations`
// confirmations (the anchoring worker's own rule: head - block + 1 >= confirmations), and a
// certifier's registration (a key is never registered twice). Never cached: an absent anchor
// or block (it may appear), an unconfirmed one (it may vanish), an unregistered certifier. Every
// entry expires after `ttlMs`, so a loss deeper than the confirmations, which reconciliation
// handles on the service's side, shows here too; an active certifier's entry after at most a
// minute, so a retirement does. The chain id is asked again once its answer is a second old
// (a chain's id never changes; only another node behind the same URL could answer otherwise),
// and an answer that differs empties the cache. Callers asking the same question at once share
// one read (the node is asked once), and so do their checks of the head's height.

/** The longest an active (not retired) certifier's period is cached: a retirement shows within it. */
export const ACTIVE_CERTIFIER_TTL_MS = 60_000;

/** How long the node's answer to the chain id is used before it is asked again. */
export const CHAIN_ID_TTL_MS = 1_000;

export interface ChainCacheOptions {
  /** CHAIN_CONFIRMATIONS: an anchor or block this deep is final enough to keep. */
  confirmations: number;
  /** Most entries kept; the least recently used goes first. 0 disables the cache. */
  maxEntries: number;
  /** How long an entry is used, ms. */
  ttlMs: number;
  /** How long the chain id's answer is used, ms; default CHAIN_ID_TTL_MS, 0 asks every time. */
  chainIdTtlMs?: number;
  /** The clock, ms (tests move it). */
  now?: () => number;
}

/** A bounded map, least recently used first out, whose entries expire. */
export class Lru<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(key, entry); // most recently used: last in the map's order
    return entry.value;
  }

  set(key: string, value: V, expiresAt: number): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

type Anchor = Awaited<ReturnType<ChainReader["anchorOf"]>>;
type Block = NonNullable<Awaited<ReturnType<ChainReader["block"]>>>;
type Period = Awaited<ReturnType<ChainReader["certifier"]>>;

/** A ChainReader that answers confirmed facts from a bounded cache and asks `inner` for the rest. */
export class CachingChainReader implements ChainReader {
  private readonly cache: Lru<Anchor | Block | Period>;
  /** Reads in flight, so a burst of the same certificate asks the node once. */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private chain: bigint | undefined;
  /** When the chain id's answer is asked again. */
  private chainAskedUntil = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(
    private readonly inner: ChainReader,
    /** The node's latest block number. */
    private readonly head: () => Promise<number>,
    private readonly o: ChainCacheOptions,
  ) {
    this.cache = new Lru(o.maxEntries);
    this.now = o.now ?? Date.now;
  }

  /** Entries held now (for tests and metrics). */
  get size(): number {
    return this.cache.size;
  }

  async chainId(): Promise<bigint> {
    if (this.chain !== undefined && this.now() < this.chainAskedUntil) return this.chain;
    const id = await this.shared("chainId", () => this.inner.chainId());
    // Another chain behind the same URL: nothing cached holds for it.
    if (this.chain !== undefined && id !== this.chain) this.cache.clear();
    this.chain = id;
    this.chainAskedUntil = this.now() + (this.o.chainIdTtlMs ?? CHAIN_ID_TTL_MS);
    return id;
  }

  anchorOf(registry: string, root: string): Promise<Anchor> {
    return this.cached(`anchor:${registry.toLowerCase()}:${root.toLowerCase()}`, async () => {
      // The head is asked at the same time: read first, it can only count fewer confirmations.
      const [anchor, head] = await Promise.all([this.inner.anchorOf(registry, root), this.headNow()]);
      const keep = anchor.timestamp !== 0n && this.confirmed(anchor.blockNumber, head);
      return { value: anchor, ttlMs: keep ? this.o.ttlMs : null };
    });
  }

  block(blockNumber: number): Promise<Block | null> {
    return this.cached(`block:${blockNumber}`, async () => {
      const [block, head] = await Promise.all([this.inner.block(blockNumber), this.headNow()]);
      const keep = block !== null && this.confirmed(BigInt(blockNumber), head);
      return { value: block, ttlMs: keep ? this.o.ttlMs : null };
    });
  }

  certifier(registry: string, signer: string): Promise<Period> {
    return this.cached(`certifier:${registry.toLowerCase()}:${signer.toLowerCase()}`, async () => {
      const period = await this.inner.certifier(registry, signer);
      // Registered: `since` is final. `until` is final once set; while 0 it may still be set.
      const ttlMs =
        period.since === 0n
          ? null
          : period.until !== 0n
            ? this.o.ttlMs
            : Math.min(this.o.ttlMs, ACTIVE_CERTIFIER_TTL_MS);
      return { value: period, ttlMs };
    });
  }

  /** The node's latest block number; callers asking at once share the question. */
  private headNow(): Promise<number> {
    return this.shared("head", this.head);
  }

  private confirmed(blockNumber: bigint, head: number): boolean {
    return BigInt(head) - blockNumber + 1n >= BigInt(this.o.confirmations);
  }

  /** The cached value of `key`, or `read`'s, kept for `ttlMs` unless that is null. */
  private async cached<T extends Anchor | Block | Period | null>(
    key: string,
    read: () => Promise<{ value: T; ttlMs: number | null }>,
  ): Promise<T> {
    const hit = this.cache.get(key, this.now());
    if (hit !== undefined) return hit as T;
    const chainAtStart = this.chain;
    return this.shared(key, async () => {
      const { value, ttlMs } = await read();
      // An answer read while the chain id changed is not kept.
      if (ttlMs !== null && ttlMs > 0 && value !== null && this.chain === chainAtStart) {
        this.cache.set(key, Object.freeze(value as Anchor | Block | Period), this.now() + ttlMs);
      }
      return value;
    });
  }

  /** `read`'s answer, shared by every caller asking `key` while it is in flight. */
  private shared<T>(key: string, read: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(key);
    if (pending) return pending as Promise<T>;
    const promise = read().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }
}
