import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { FastifyPluginAsync } from "fastify";
import type { JobQueues } from "../jobs/queues";
import { ServiceError } from "../errors";
import { metrics, registry } from "./metrics";
import { requireOperator } from "./operator";
import { collectState, type StateSources } from "./state";

export interface OperatorRouteOptions extends StateSources {
  /** OPERATOR_TOKEN; unset, /metrics answers loopback clients only and the dashboard nobody. */
  operatorToken?: string;
  queues?: JobQueues;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** GET /metrics (Prometheus text) and the BullMQ dashboard at /admin/queues. */
export const operatorRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (app, opts) => {
  app.get("/metrics", { schema: { hide: true }, logLevel: "warn" }, async (request, reply) => {
    if (opts.operatorToken !== undefined || !LOOPBACK.has(request.ip)) {
      requireOperator(request, opts.operatorToken);
    }
    await collectState(opts);
    return reply
      .type(registry.contentType)
      .header("cache-control", "no-store")
      .send(await registry.metrics());
  });

  const queues = opts.queues;
  if (!queues) return;
  await app.register(async (board) => {
    // The dashboard's plugin has its own error handler: answer here rather than throw.
    board.addHook("onRequest", async (request, reply) => {
      try {
        requireOperator(request, opts.operatorToken);
      } catch (e) {
        if (!(e instanceof ServiceError)) throw e;
        metrics.errors.inc({ code: e.code, status: e.status });
        return reply
          .status(e.status)
          .header("www-authenticate", 'Basic realm="tsd operator", charset="UTF-8"')
          .send({ error: { code: e.code, message: e.message } });
      }
    });
    const adapter = new FastifyAdapter();
    adapter.setBasePath("/admin/queues");
    createBullBoard({
      queues: Object.values(queues.queues).map((q) => new BullMQAdapter(q)),
      serverAdapter: adapter,
    });
    await board.register(adapter.registerPlugin(), { prefix: "/admin/queues" });
  });
};
