import { createHash } from "node:crypto";
import type { Db } from "../db/pool";
import { authenticate, type Tenant } from "./tenants";

// API keys are checked on every authenticated request; asking PostgreSQL each time made the
// key lookup, not the deposit, the cost of a small request. So a process remembers a key's
// tenant for a moment (API_KEY_CACHE_MS, at most a second). A revocation or a tenant disabled
// by an operator (`tsd admin`, in any process) is honoured by every API process once the
// entries asked before it have expired: within API_KEY_CACHE_MS. An entry's age counts from
// when its lookup was sent, so an answer that was slow to come back is not kept longer.
//
// Only keys that work (or whose tenant is disabled) are remembered: a key just created works
// at once, and unknown keys cost a lookup each (bounded by the failed-authentication limit).

/** The tenant an API key belongs to, with `disabled` when an operator disabled it; null for no usable key. */
export type Authenticate = (apiKey: string) => Promise<(Tenant & { disabled: boolean }) | null>;

/** The longest API_KEY_CACHE_MS may be: the revocation delay the operator guide promises. */
export const MAX_KEY_CACHE_MS = 1000;

export interface KeyCacheOptions {
  /** How long a key's tenant is used without asking again, ms (0: always ask). At most MAX_KEY_CACHE_MS. */
  ttlMs: number;
  /** Most keys remembered; the oldest entry goes first. */
  maxEntries?: number;
  /** The clock, ms (tests move it). */
  now?: () => number;
}

type Found = (Tenant & { disabled: boolean }) | null;

/** An Authenticate over `db` that remembers working keys for `ttlMs`. */
export function cachedAuthentication(db: Db, o: KeyCacheOptions): Authenticate {
  if (!(o.ttlMs >= 0 && o.ttlMs <= MAX_KEY_CACHE_MS)) {
    throw new RangeError(`the API key cache keeps keys 0 to ${MAX_KEY_CACHE_MS} ms`);
  }
  if (o.ttlMs === 0) return (apiKey) => authenticate(db, apiKey);
  const maxEntries = o.maxEntries ?? 10_000;
  const now = o.now ?? Date.now;
  /** By the key's SHA-256: the key itself is not kept. Map order is insertion order: oldest first. */
  const entries = new Map<string, { tenant: NonNullable<Found>; askedAt: number }>();
  /** Lookups in flight, so a burst of requests with one key asks once. */
  const asking = new Map<string, { promise: Promise<Found>; askedAt: number }>();

  const ask = (apiKey: string, id: string, askedAt: number): Promise<Found> => {
    const promise = authenticate(db, apiKey)
      .then((tenant) => {
        if (tenant !== null && askedAt > (entries.get(id)?.askedAt ?? -Infinity)) {
          entries.delete(id);
          entries.set(id, { tenant, askedAt });
          if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
        }
        return tenant;
      })
      .finally(() => {
        if (asking.get(id)?.promise === promise) asking.delete(id);
      });
    asking.set(id, { promise, askedAt });
    return promise;
  };

  return async (apiKey) => {
    const id = createHash("sha256").update(apiKey, "utf8").digest("base64");
    const t = now();
    const fresh = (askedAt: number) => t - askedAt < o.ttlMs;
    const entry = entries.get(id);
    if (entry !== undefined) {
      if (fresh(entry.askedAt)) return entry.tenant;
      entries.delete(id);
    }
    const inFlight = asking.get(id);
    if (inFlight !== undefined && fresh(inFlight.askedAt)) return inFlight.promise;
    return ask(apiKey, id, t);
  };
}
