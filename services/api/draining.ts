import type { FastifyInstance } from "fastify";
import { ERRORS } from "../errors";

/**
 * While the server closes (SIGTERM), a request still arriving on an open keep-alive connection
 * is refused at once with the catalogue's 503 SERVICE_UNAVAILABLE and `Connection: close`: the
 * client retries, with its Idempotency-Key, on another replica or after the restart. Fastify's
 * own answer in that moment (return503OnClosing) is not in the catalogue's shape, so buildApp
 * turns it off. Requests already running finish.
 */
export function refuseWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (_request, reply) => {
    if (!closing) return;
    reply.header("connection", "close");
    return reply
      .code(503)
      .send({ error: { code: "SERVICE_UNAVAILABLE", message: ERRORS.SERVICE_UNAVAILABLE.message } });
  });
}
