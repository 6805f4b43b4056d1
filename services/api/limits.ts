import { createHash } from "node:crypto";
import fastifyRateLimit, { normalizeIP } from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config";
import { ServiceError, type ErrorCode } from "../errors";
import { errors } from "./schemas";

// Rate limits and the deposit quota, counted in Redis under REDIS_PREFIX so that every API
// process on that prefix shares them (fixed windows: a counter that expires). Which limit a
// request meets depends on its route:
//
//   /healthz, /readyz                     none (probes)
//   POST /v1/verify                       RATE_LIMIT_VERIFY_PER_MINUTE per client address
//   routes with an API key (`security`)   RATE_LIMIT_AUTH_FAILURES_PER_MINUTE failed
//                                         authentications per address, then
//                                         RATE_LIMIT_REQUESTS_PER_MINUTE per API key, and on the
//                                         deposit routes RATE_LIMIT_DEPOSITS_PER_MINUTE items per
//                                         key and DEPOSIT_QUOTA_PER_DAY items per tenant (UTC day)
//   everything else (pages, downloads,    RATE_LIMIT_PUBLIC_PER_MINUTE per client address
//   /docs, /v1/registry, unknown routes)
//
// Over a limit: 429 with Retry-After and RATE_LIMITED or QUOTA_EXCEEDED. Deposits are taken
// from their allowances before they are stored, atomically, all of a request or none (so
// nothing is stored beyond a limit), and given back when the request stores nothing (refused,
// failed, or an idempotent replay). If Redis cannot be asked within REDIS_TIMEOUT_MS the
// request goes through unlimited (fail open, logged): deposits never depend on Redis.

export interface Limits {
  /** REDIS_PREFIX: processes on the same prefix share their counters. */
  prefix: string;
  requestsPerMinute: number;
  depositsPerMinute: number;
  depositQuotaPerDay: number;
  verifyPerMinute: number;
  publicPerMinute: number;
  authFailuresPerMinute: number;
  /** Verifications one process computes at once, and has in progress beyond those (the verify route's gate). */
  verifyConcurrency: number;
  verifyQueueMax: number;
}

export function limitsFrom(config: Config): Limits {
  return {
    prefix: config.REDIS_PREFIX,
    requestsPerMinute: config.RATE_LIMIT_REQUESTS_PER_MINUTE,
    depositsPerMinute: config.RATE_LIMIT_DEPOSITS_PER_MINUTE,
    depositQuotaPerDay: config.DEPOSIT_QUOTA_PER_DAY,
    verifyPerMinute: config.RATE_LIMIT_VERIFY_PER_MINUTE,
    publicPerMinute: config.RATE_LIMIT_PUBLIC_PER_MINUTE,
    authFailuresPerMinute: config.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
    verifyConcurrency: config.VERIFY_CONCURRENCY,
    verifyQueueMax: config.VERIFY_QUEUE_MAX,
  };
}

const MINUTE_MS = 60_000;
/** Longest wait for Redis before a request goes through unlimited. */
const REDIS_TIMEOUT_MS = 500;
/** At most one "limits not applied" log line per process in this long. */
const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

/** The deposit routes and how many deposits a request's body asks for. */
const DEPOSIT_ROUTES: Record<string, (body: unknown) => number> = {
  "/v1/deposits": () => 1,
  "/v1/deposits/bulk": (body) => (body as { items: unknown[] }).items.length,
};

/**
 * Takes `n` from the per-minute counter (KEYS[1]) and the day's quota (KEYS[2]) if both have
 * room, else neither. Returns {0} when taken, {1, pttl} when the minute is full, {2} when the
 * day's quota is.
 */
const TAKE = `
local n = tonumber(ARGV[1])
local minute = tonumber(redis.call('GET', KEYS[1]) or '0')
if minute + n > tonumber(ARGV[2]) then return {1, redis.call('PTTL', KEYS[1])} end
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
if day + n > tonumber(ARGV[4]) then return {2, 0} end
if redis.call('INCRBY', KEYS[1], n) == n then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if redis.call('INCRBY', KEYS[2], n) == n then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return {0}
`;

/** Gives `n` back to each counter that still exists (an expired window is not refilled below 0). */
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECRBY', key, ARGV[1]) end
end
return 0
`;

type LimitedRedis = Redis & {
  tsdTakeDeposits(minuteKey: string, dayKey: string, ...args: (string | number)[]): Promise<number[]>;
  tsdGiveBackDeposits(minuteKey: string, dayKey: string, n: number): Promise<number>;
};

/** What a deposit request took, to give back if it stores nothing. */
const taken = new WeakMap<FastifyRequest, { keys: [string, string]; n: number }>();

/** Registers the limits on `app`: call before the routes are registered. */
export async function installLimits(
  app: FastifyInstance,
  o: { redis: Redis; limits: Limits; log: Logger },
): Promise<void> {
  const { limits } = o;
  const ns = `${limits.prefix}:limits:`;
  await app.register(fastifyRateLimit, { global: false, redis: o.redis, nameSpace: ns, skipOnError: false });
  const redis = o.redis as LimitedRedis;
  if (typeof redis.tsdTakeDeposits !== "function") {
    redis.defineCommand("tsdTakeDeposits", { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand("tsdGiveBackDeposits", { numberOfKeys: 2, lua: GIVE_BACK });
  }

  // Every documented route may answer 429 (the OpenAPI description says so).
  app.addHook("onRoute", (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (response !== undefined && !("429" in response)) {
      route.schema = { ...route.schema, response: { ...response, ...errors(429) } };
    }
  });

  const address = (request: FastifyRequest) => normalizeIP(request.ip);
  const limiter = (max: number, key: (request: FastifyRequest) => string) =>
    app.createRateLimit({ max, timeWindow: MINUTE_MS, keyGenerator: key });
  const perKey = limiter(limits.requestsPerMinute, (r) => `key:${apiKeyId(r)}`);
  const verify = limiter(limits.verifyPerMinute, (r) => `verify:${address(r)}`);
  const pub = limiter(limits.publicPerMinute, (r) => `public:${address(r)}`);
  const authFailures = limiter(limits.authFailuresPerMinute, (r) => `authfail:${address(r)}`);

  let skipped = 0;
  let lastWarning = 0;
  /** Runs a Redis step; on failure or timeout logs (at most every 10 s) and returns undefined. */
  const failOpen = async <T>(step: Promise<T>): Promise<T | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        step,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("Redis did not answer in time")), REDIS_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      skipped++;
      if (Date.now() - lastWarning >= FAIL_OPEN_LOG_INTERVAL_MS) {
        o.log.warn(
          { err: err instanceof Error ? err.message : String(err), requests: skipped },
          "rate limits not applied: Redis unavailable",
        );
        lastWarning = Date.now();
        skipped = 0;
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };

  /** Refuses the request if `check` says its counter is over the limit. */
  const enforce = async (
    check: ReturnType<FastifyInstance["createRateLimit"]>,
    request: FastifyRequest,
    reply: FastifyReply,
    message: string,
    options?: { increment: false },
  ) => {
    const state = await failOpen(check(request, options));
    if (state === undefined || state.isAllowed) return;
    // A peek (increment: false) reports the count as it stands: refuse once it reached max.
    const over = options?.increment === false ? state.remaining <= 0 : state.isExceeded;
    if (over) refuse(reply, "RATE_LIMITED", message, Math.max(1, state.ttlInSeconds));
  };

  app.addHook("onRequest", async (request, reply) => {
    switch (routeKind(request)) {
      case "exempt":
        return;
      case "verify":
        return enforce(
          verify,
          request,
          reply,
          `at most ${limits.verifyPerMinute} verifications a minute from one address`,
        );
      case "public":
        return enforce(
          pub,
          request,
          reply,
          `at most ${limits.publicPerMinute} requests a minute from one address`,
        );
      case "authenticated":
        // Checked before the key is: a guesser's requests cost no database query once refused.
        return enforce(
          authFailures,
          request,
          reply,
          `too many failed authentications from this address (at most ${limits.authFailuresPerMinute} a minute)`,
          { increment: false },
        );
    }
  });

  // After the route's own onRequest hooks (requireTenant), before the body is read.
  app.addHook("preParsing", async (request, reply) => {
    if (routeKind(request) !== "authenticated" || apiKeyId(request) === null) return;
    await enforce(
      perKey,
      request,
      reply,
      `at most ${limits.requestsPerMinute} requests a minute per API key`,
    );
  });

  // After the body is checked, before anything is stored.
  app.addHook("preHandler", async (request, reply) => {
    const count = request.method === "POST" ? DEPOSIT_ROUTES[request.routeOptions.url ?? ""] : undefined;
    const key = apiKeyId(request);
    if (count === undefined || key === null) return;
    const n = count(request.body);
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    const untilMidnightMs =
      Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime();
    const keys: [string, string] = [`${ns}deposits:${key}`, `${ns}quota:${request.tenant.id}:${day}`];
    const answer = await failOpen(
      redis.tsdTakeDeposits(
        ...keys,
        n,
        limits.depositsPerMinute,
        MINUTE_MS,
        limits.depositQuotaPerDay,
        untilMidnightMs + 3_600_000, // kept an hour past midnight; the next day has its own key
      ),
    );
    if (answer === undefined) return;
    const [outcome, pttl] = answer;
    if (outcome === 1) {
      refuse(
        reply,
        "RATE_LIMITED",
        `at most ${limits.depositsPerMinute} deposits a minute per API key (a bulk request counts its items); this request has ${n}`,
        Math.max(1, Math.ceil((pttl ?? MINUTE_MS) / 1000)),
      );
    }
    if (outcome === 2) {
      refuse(
        reply,
        "QUOTA_EXCEEDED",
        `the tenant's quota of ${limits.depositQuotaPerDay} deposits a day (UTC) has no room for this request's ${n}; it renews at 00:00 UTC`,
        Math.max(1, Math.ceil(untilMidnightMs / 1000)),
      );
    }
    taken.set(request, { keys, n });
  });

  // Before the answer leaves, so the client's next request already sees the counters.
  app.addHook("onSend", async (request, reply) => {
    if (reply.statusCode === 401 && routeKind(request) === "authenticated") {
      await failOpen(authFailures(request));
    }
    const took = taken.get(request);
    if (took === undefined) return;
    taken.delete(request);
    // Nothing stored: a refusal, a failure, or an idempotent replay of stored deposits.
    const stored = reply.statusCode === 202 && reply.getHeader("idempotent-replayed") !== "true";
    if (!stored) await failOpen(redis.tsdGiveBackDeposits(...took.keys, took.n));
  });
}

type RouteKind = "exempt" | "verify" | "authenticated" | "public";

function routeKind(request: FastifyRequest): RouteKind {
  const url = request.routeOptions.url;
  if (url === "/healthz" || url === "/readyz") return "exempt";
  if (url === "/v1/verify" && request.method === "POST") return "verify";
  const security = (request.routeOptions.schema as { security?: unknown[] } | undefined)?.security;
  if (Array.isArray(security) && security.length > 0) return "authenticated";
  return "public";
}

/** A name for the request's API key in Redis (a hash: the key itself is never stored), or null. */
function apiKeyId(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "");
  if (!match || request.tenant === undefined) return null;
  return createHash("sha256")
    .update(match[1] as string)
    .digest("hex")
    .slice(0, 32);
}

function refuse(reply: FastifyReply, code: ErrorCode, message: string, retryAfterS: number): never {
  void reply.header("retry-after", String(retryAfterS));
  throw new ServiceError(code, message);
}
