import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { Type } from "@sinclair/typebox";
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import type { ChainReader } from "../core";
import type { Deployment } from "../chain/deployment";
import { registryAt } from "../chain/reader";
import type { Db } from "../db/pool";
import { depositRoutes } from "../deposits/routes";
import type { JobQueues } from "../jobs/queues";
import { verifyRoutes } from "../verify/routes";
import { installErrorHandling } from "./error-handler";
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
  log: Logger;
}

/**
 * The API as a Fastify instance, not listening: `server.ts` owns the process and the port,
 * tests use `inject`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Requests are checked by TypeBox, as typed: it converts query strings, params and headers
  // but never a body, where Fastify's Ajv (coerceTypes) turned {"digest": 123} into "123".
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  app.addSchema(ErrorBody);
  installErrorHandling(app);
  // JSON only: with Fastify's default text/plain parser a text body reached the schema check
  // (400 VALIDATION_FAILED) instead of being refused as 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser("text/plain");
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
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  await app.register(
    async (v1) => {
      await v1.register(depositRoutes, {
        db: deps.db,
        bulkMax: deps.bulkMax,
        batchMax: deps.batchMax,
        ...(deps.queues ? { queues: deps.queues } : {}),
      });
      await v1.register(verifyRoutes, { chain: deps.chain, registry: deps.deployment.registry });
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
