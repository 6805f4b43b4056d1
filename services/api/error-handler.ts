import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isConnectionError, isDataError } from "../db/pool";
import { ERRORS, ServiceError, type ErrorCode } from "../errors";
import { metrics } from "../metrics/metrics";

/**
 * Maps every error to `{ error: { code, message } }` with the catalogue's status. 5xx
 * responses never carry internal messages or stacks; the log keeps them.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler((request, reply) => {
    metrics.errors.inc({ code: "ROUTE_NOT_FOUND", status: 404 });
    return reply
      .status(404)
      .send({ error: { code: "ROUTE_NOT_FOUND", message: `no route ${request.method} ${request.url}` } });
  });
}

/**
 * The error handler, and Fastify's `frameworkErrors` (errors before routing: a URL that does
 * not decode, a path segment too long), so those answers have the catalogue's shape too.
 */
export function replyWithError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const { code, message } = classify(err);
  const status = ERRORS[code].status;
  metrics.errors.inc({ code, status });
  if (request.raw.destroyed) {
    // The client went away (or was cut off by the request timeout) while its body was read.
    request.log.info({ code: err.code }, "request abandoned by the client");
  } else if (status >= 500) request.log.error({ err }, "request failed");
  else request.log.info({ code, message }, "request refused");
  return reply.status(status).send({ error: { code, message } });
}

function classify(err: FastifyError): { code: ErrorCode; message: string } {
  if (err instanceof ServiceError) return { code: err.code, message: err.message };
  if (err.validation) return { code: "VALIDATION_FAILED", message: validationMessage(err) };
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { code: "PAYLOAD_TOO_LARGE", message: ERRORS.PAYLOAD_TOO_LARGE.message };
    case "FST_ERR_BAD_URL":
      return { code: "MALFORMED_REQUEST", message: "the request's URL is not well-formed" };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { code: "MALFORMED_REQUEST", message: "Content-Length does not match the body" };
    case "FST_ERR_MAX_PARAM_LENGTH":
      return { code: "URI_TOO_LONG", message: ERRORS.URI_TOO_LONG.message };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { code: "UNSUPPORTED_MEDIA_TYPE", message: ERRORS.UNSUPPORTED_MEDIA_TYPE.message };
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { code: "MALFORMED_JSON", message: ERRORS.MALFORMED_JSON.message };
  }
  if (err instanceof SyntaxError && err.statusCode === 400) {
    return { code: "MALFORMED_JSON", message: ERRORS.MALFORMED_JSON.message };
  }
  if (isConnectionError(err) || isChainUnavailable(err)) {
    return { code: "SERVICE_UNAVAILABLE", message: ERRORS.SERVICE_UNAVAILABLE.message };
  }
  if (isDataError(err))
    return { code: "VALIDATION_FAILED", message: "a value in the request cannot be stored" };
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { code: "BAD_REQUEST", message: ERRORS.BAD_REQUEST.message };
  }
  return { code: "INTERNAL", message: ERRORS.INTERNAL.message };
}

/**
 * The first schema violation, named the way the deposit store names items
 * (`items[3].digest: ...`), so a client finds the offending item whichever check refused it.
 */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const path = first.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc === "" ? s : `${acc}.${s}`), "");
  const context = err.validationContext ?? "request";
  const where = context === "body" ? path || "body" : path ? `${context}.${path}` : context;
  return `${where}: ${first.message ?? "is invalid"}`;
}

/** ethers' codes for a node that cannot be reached or did not answer in time. */
function isChainUnavailable(err: { code?: unknown }): boolean {
  return err.code === "TIMEOUT" || err.code === "SERVER_ERROR" || err.code === "NETWORK_ERROR";
}
