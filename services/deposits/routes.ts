import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Db } from "../db/pool";
import type { JobQueues } from "../jobs/queues";
import { metrics } from "../metrics/metrics";
import { requireTenant } from "../api/auth";
import { AcceptedDepositSchema, DepositStatusSchema, errors } from "../api/schemas";
import type { CursorSealer } from "../tenants/cursors";
import type { Authenticate } from "../tenants/key-cache";
import { GroupCommit, type GroupCommitOptions } from "./group-commit";
import {
  acceptDeposits,
  commitSingleDeposits,
  getDeposit,
  listDeposits,
  prepareSingleDeposit,
  type SingleDeposit,
  type StoredDeposit,
} from "./store";

export interface DepositRouteOptions {
  db: Db;
  /** Who an API key belongs to (services/tenants/key-cache.ts). */
  authenticate: Authenticate;
  /** How single deposits are grouped into commits. */
  groupCommit: GroupCommitOptions;
  /** Seals the tenant's list cursors. */
  cursors: () => Promise<CursorSealer>;
  /** For the "a full batch is waiting" hint; deposits never depend on it. */
  queues?: JobQueues;
  bulkMax: number;
  batchMax: number;
}

const DepositInputSchema = Type.Object(
  {
    digest: Type.String({
      maxLength: 128,
      description: "The file's digest, 64 hex characters, computed on your machine (or a deposit set's root)",
    }),
    digestAlg: Type.Optional(
      Type.String({
        maxLength: 32,
        description:
          '"sha256" (the default), "sm3" (GB/T 32905-2016), or "tsd-set/1" for a deposit set\'s root',
      }),
    ),
    label: Type.Optional(
      // No NUL: PostgreSQL text cannot hold it.
      Type.String({
        maxLength: 256,
        pattern: "^[^\\u0000]*$",
        description: "Your own note; not part of the record",
      }),
    ),
    prev: Type.Optional(
      Type.String({ maxLength: 64, description: "Id of your earlier deposit this one supersedes" }),
    ),
  },
  { additionalProperties: false },
);

const IdempotencyHeaders = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: "^[\\x21-\\x7e]+$",
      description: "Repeat-safe retries",
    }),
  ),
});

const DepositDetailSchema = Type.Composite([
  AcceptedDepositSchema,
  Type.Object({
    label: Type.Union([Type.String(), Type.Null()]),
    batch: Type.Union([
      Type.Null(),
      Type.Object({
        id: Type.Integer(),
        treeSize: Type.Integer(),
        root: Type.String(),
        leafIndex: Type.Integer(),
        chainId: Type.Union([Type.Integer(), Type.Null()]),
        registry: Type.Union([Type.String(), Type.Null()]),
        txHash: Type.Union([Type.String(), Type.Null()]),
        blockNumber: Type.Union([Type.Integer(), Type.Null()]),
        blockTimestamp: Type.Union([Type.Integer(), Type.Null()]),
      }),
    ]),
    times: Type.Object({
      receivedAt: Type.String(),
      sealedAt: Type.Union([Type.String(), Type.Null()]),
      anchoredAt: Type.Union([Type.String(), Type.Null()]),
      certifiedAt: Type.Union([Type.String(), Type.Null()]),
    }),
  }),
]);

/** Page size of GET /v1/deposits when the client gives none. */
const DEFAULT_LIMIT = 100;

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** The depositor's routes under /v1/deposits; every one needs the tenant's API key. */
export const depositRoutes: FastifyPluginAsyncTypebox<DepositRouteOptions> = async (app, opts) => {
  app.addHook("onRequest", requireTenant(opts.authenticate));
  const security = [{ bearer: [] }];
  // Single deposits arriving together share one INSERT and one commit (services/deposits/group-commit.ts).
  const singles = new GroupCommit<SingleDeposit, StoredDeposit>(async (group) => {
    const outcomes = await commitSingleDeposits(opts.db, group);
    const created = outcomes.filter((o) => o.ok && o.value.created).length;
    metrics.depositsAccepted.inc(created);
    // A hint only (it logs its own failures): the answers do not wait for Redis.
    void opts.queues?.notePending(created, opts.batchMax);
    return outcomes;
  }, opts.groupCommit);

  app.post(
    "/deposits",
    {
      schema: {
        summary: "Deposit one digest",
        tags: ["deposits"],
        security,
        headers: IdempotencyHeaders,
        body: DepositInputSchema,
        response: { 202: AcceptedDepositSchema, ...errors(400, 401, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const key = request.headers["idempotency-key"];
      const prepared = prepareSingleDeposit(request.tenant, request.body, {
        ...(key === undefined ? {} : { idempotencyKey: key }),
      });
      const { deposit, created } = await singles.submit(prepared);
      if (!created) void reply.header("idempotent-replayed", "true");
      return reply.status(202).send(deposit);
    },
  );

  app.post(
    "/deposits/bulk",
    {
      bodyLimit: Math.max(1 << 20, opts.bulkMax * 700),
      schema: {
        summary: `Deposit up to ${opts.bulkMax} digests in one transaction: all or none`,
        tags: ["deposits"],
        security,
        headers: IdempotencyHeaders,
        body: Type.Object(
          { items: Type.Array(DepositInputSchema, { minItems: 1, maxItems: opts.bulkMax }) },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({ deposits: Type.Array(AcceptedDepositSchema) }),
          ...errors(400, 401, 409, 413, 422, 503),
        },
      },
    },
    async (request, reply) => {
      const key = request.headers["idempotency-key"];
      const { deposits, created } = await acceptDeposits(opts.db, request.tenant, request.body.items, {
        bulk: true,
        ...(key === undefined ? {} : { idempotencyKey: key }),
      });
      metrics.depositsAccepted.inc(created);
      await opts.queues?.notePending(created, opts.batchMax);
      if (created === 0) void reply.header("idempotent-replayed", "true");
      return reply.status(202).send({ deposits });
    },
  );

  app.get(
    "/deposits",
    {
      schema: {
        summary: "Your deposits, newest first",
        tags: ["deposits"],
        security,
        querystring: Type.Object(
          {
            digest: Type.Optional(Type.String({ maxLength: 128 })),
            label: Type.Optional(
              Type.String({ minLength: 1, maxLength: 256, description: "Labels starting with this" }),
            ),
            status: Type.Optional(DepositStatusSchema),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Composite([
                AcceptedDepositSchema,
                Type.Object({ label: Type.Union([Type.String(), Type.Null()]) }),
              ]),
            ),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query;
      return listDeposits(
        opts.db,
        request.tenant.id,
        {
          limit: q.limit ?? DEFAULT_LIMIT,
          ...(q.digest === undefined ? {} : { digest: q.digest }),
          ...(q.label === undefined ? {} : { label: q.label }),
          ...(q.status === undefined ? {} : { status: q.status }),
          ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
        },
        await opts.cursors(),
      );
    },
  );

  app.get(
    "/deposits/:id",
    {
      schema: {
        summary: "One deposit: status, batch, times",
        tags: ["deposits"],
        security,
        params: IdParams,
        response: { 200: DepositDetailSchema, ...errors(401, 404) },
      },
    },
    async (request) => getDeposit(opts.db, request.tenant.id, request.params.id),
  );
};
