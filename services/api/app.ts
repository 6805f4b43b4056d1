import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import type { ChainReader } from "../core";
import type { Deployment } from "../chain/deployment";
import { registryAt } from "../chain/reader";
import type { Db } from "../db/pool";
import { certificateRoutes } from "../certificates/routes";
import type { GroupCommitOptions } from "../deposits/group-commit";
import { depositRoutes } from "../deposits/routes";
import { cachedAuthentication } from "../tenants/key-cache";
import { cursorSealerOf } from "../tenants/cursors";
import type { JobQueues } from "../jobs/queues";
import { verifyRoutes } from "../verify/routes";
import { operatorRoutes } from "../metrics/routes";
import { webRoutes } from "../../web/routes";
import { refuseWhileClosing } from "./draining";
import { installErrorHandling } from "./error-handler";
import { defaultHttpLimits, installHttpGuards, serverOptions, type HttpLimits } from "./http";
import { installInputChecks, strictValidatorCompiler } from "./input";
import { docsCsp, installSecurityHeaders } from "./security";
import { installLimits, type Limits } from "./limits";
import { ErrorBody, errors } from "./schemas";

/** Everything the HTTP API needs; tests build it against their own database, Redis and chain. */
export interface AppDeps {
  db: Db;
  redis: Redis;
  queues?: JobQueues;
  provider: JsonRpcProvider;
  chain: ChainReader;
  deployment: Deployment;
  bulkMax: number;
  batchMax: number;
  /** How single deposits are grouped into commits (GROUP_COMMIT_*). */
  groupCommit: GroupCommitOptions;
  /** API_KEY_CACHE_MS: how long an API key's tenant is remembered (services/tenants/key-cache.ts). */
  apiKeyCacheMs: number;
  /** The service's public base URL (links on certificates, the verify page). */
  publicUrl: string;
  /** A chain RPC URL verifiers may use (prefilled on the verify page), if there is one. */
  publicRpcUrl?: string;
  /** Where `npm run build:verifier` put the pages and the one-file verifier. */
  distDir: string;
  /** OPERATOR_TOKEN: guards /metrics and /admin/queues. */
  operatorToken?: string;
  /** The anchoring key's balance, for /metrics, where this process knows the key. */
  anchorerBalance?: () => Promise<bigint>;
  log: Logger;
  /** Timeouts, connection cap, header size (services/api/http.ts); the defaults when absent. */
  http?: HttpLimits;
  /** Origins allowed to call the API from a browser (CORS_ORIGINS); none when absent. */
  corsOrigins?: string[];
  /** Rate limits and quota (counted in `redis`), and the verifier's CPU bound. */
  limits: Limits;
  /** Proxies whose X-Forwarded-For names the client (TRUST_PROXY). */
  trustProxy?: string;
}

/**
 * The API as a Fastify instance, not listening: `server.ts` owns the process and the port,
 * tests use `inject`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const http = deps.http ?? defaultHttpLimits();
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    ...serverOptions(http),
    ...(deps.trustProxy === undefined ? {} : { trustProxy: deps.trustProxy }),
    return503OnClosing: false, // refuseWhileClosing answers instead, in the catalogue's shape
  }).withTypeProvider<TypeBoxTypeProvider>();
  installHttpGuards(app, http);
  // Requests are checked by TypeBox, as typed: it converts query strings, params and headers
  // but never a body, where Fastify's Ajv (coerceTypes) turned {"digest": 123} into "123".
  // (and strictly: services/api/input.ts refuses `limit=1.5` rather than read it as 1)
  app.setValidatorCompiler(strictValidatorCompiler);

  app.addSchema(ErrorBody);
  installErrorHandling(app);
  await installLimits(app, { redis: deps.redis, limits: deps.limits, log: deps.log });
  refuseWhileClosing(app);
  // JSON only: with Fastify's default text/plain parser a text body reached the schema check
  // (400 VALIDATION_FAILED) instead of being refused as 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser("text/plain");
  installInputChecks(app);
  await installSecurityHeaders(app, { corsOrigins: deps.corsOrigins ?? [] });
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "tsd — trade-secret deposit service",
        version: "1",
        description:
          "Deposit SHA-256 digests of confidential files (hashed on your own machine), get certificates anchored on an EVM chain, verify them. Errors: `{error: {code, message}}` with stable codes.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "tsd API key" } },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs", ...docsCsp });

  const cursors = cursorSealerOf(deps.db);
  // One key lookup for every keyed route, so a key is remembered once per process.
  const authenticate = cachedAuthentication(deps.db, { ttlMs: deps.apiKeyCacheMs });
  await app.register(
    async (v1) => {
      await v1.register(depositRoutes, {
        db: deps.db,
        authenticate,
        groupCommit: deps.groupCommit,
        cursors,
        bulkMax: deps.bulkMax,
        batchMax: deps.batchMax,
        ...(deps.queues ? { queues: deps.queues } : {}),
      });
      await v1.register(certificateRoutes, {
        db: deps.db,
        authenticate,
        cursors,
        verifyUrl: `${deps.publicUrl}/verify`,
      });
      await v1.register(verifyRoutes, {
        chain: deps.chain,
        registry: deps.deployment.registry,
        concurrency: deps.limits.verifyConcurrency,
        queueMax: deps.limits.verifyQueueMax,
      });
      v1.get(
        "/registry",
        {
          schema: {
            summary: "The registry this service anchors in, and its certifier keys",
            tags: ["registry"],
            response: {
              200: Type.Object({
                chainId: Type.Integer(),
                registry: Type.String(),
                deployedAt: Type.String(),
                certifiers: Type.Array(
                  Type.Object({
                    address: Type.String(),
                    since: Type.Integer({ description: "Seconds since the epoch" }),
                    until: Type.Union([Type.Integer(), Type.Null()], { description: "null while active" }),
                    active: Type.Boolean(),
                  }),
                ),
              }),
              ...errors(503),
            },
          },
        },
        async () => {
          const { chainId, registry, deployedAt } = deps.deployment;
          const contract = registryAt(registry, deps.provider);
          const addresses = (await contract.getFunction("certifiers")()) as string[];
          const certifiers = await Promise.all(
            addresses.map(async (address) => {
              const { since, until } = await deps.chain.certifier(registry, address);
              return {
                address,
                since: Number(since),
                until: until === 0n ? null : Number(until),
                active: until === 0n,
              };
            }),
          );
          return { chainId, registry, deployedAt, certifiers };
        },
      );
    },
    { prefix: "/v1" },
  );

  await app.register(webRoutes, {
    distDir: deps.distDir,
    registry: deps.deployment.registry,
    ...(deps.publicRpcUrl ? { publicRpcUrl: deps.publicRpcUrl } : {}),
  });

  await app.register(operatorRoutes, {
    db: deps.db,
    ...(deps.queues ? { queues: deps.queues } : {}),
    ...(deps.operatorToken ? { operatorToken: deps.operatorToken } : {}),
    ...(deps.anchorerBalance ? { anchorerBalance: deps.anchorerBalance } : {}),
  });

  // Probes come every few seconds: log them only when something is wrong.
  app.get("/healthz", { schema: { hide: true }, logLevel: "warn" }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true }, logLevel: "warn" }, async (_request, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000);
        return "up";
      } catch {
        return "down";
      }
    };
    const [postgres, redis, chain] = await Promise.all([
      check(() => deps.db.query("SELECT 1")),
      check(() => deps.redis.ping()),
      check(() => deps.provider.getBlockNumber()),
    ]);
    // Deposits need PostgreSQL only (Redis carries triggers, the chain is for later steps): an
    // API replica stays in rotation while either is down, and says so in the body.
    const ready = postgres === "up";
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? "ready" : "unavailable", postgres, redis, chain });
  });

  return app;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
