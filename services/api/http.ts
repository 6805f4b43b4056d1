import { randomUUID } from "node:crypto";
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyHttpOptions, FastifyInstance } from "fastify";
import { loadConfig, type Config } from "../config";
import { ERRORS, ServiceError, type ErrorCode } from "../errors";
import { replyWithError } from "./error-handler";

// The HTTP server's limits (timeouts, connection cap, header size) and the answers Node gives
// before Fastify sees a request (a malformed request line, headers too large, a request not
// received in time), in the catalogue's shape like every other error.

export interface HttpLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionTimeoutMs: number;
  maxConnections: number;
  maxRequestsPerSocket: number;
  maxHeaderBytes: number;
}

export function httpLimitsOf(config: Config): HttpLimits {
  return {
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeoutMs: config.HTTP_CONNECTION_TIMEOUT_MS,
    maxConnections: config.HTTP_MAX_CONNECTIONS,
    maxRequestsPerSocket: config.HTTP_MAX_REQUESTS_PER_SOCKET,
    maxHeaderBytes: config.HTTP_MAX_HEADER_BYTES,
  };
}

/** The limits with every HTTP_* variable at its default. */
export function defaultHttpLimits(): HttpLimits {
  return httpLimitsOf(loadConfig({}));
}

/** Fastify's options for these limits, its request ids and its pre-routing errors. */
export function serverOptions(limits: HttpLimits): FastifyHttpOptions<Server> {
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node looks for requests past their timeout every 30 s by default: a 10 s limit could
      // hold for 40. Once a second (or faster, for shorter limits) keeps them near their value.
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
      ),
      // Node answers a missing Host with an empty 400; the check in installHttpGuards answers
      // in the catalogue's shape.
      requireHostHeader: false,
    },
    // A random id per request, in every log line of it and in `x-request-id`: unique across
    // API processes, and nothing a client chose.
    genReqId: () => randomUUID(),
    clientErrorHandler,
    frameworkErrors: replyWithError,
  };
}

/** The connection cap, the Host and Expect checks, and `x-request-id` on every answer. */
export function installHttpGuards(app: FastifyInstance, limits: HttpLimits): void {
  const server = app.server;
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  let lastWarning = 0;
  server.on("drop", () => {
    dropped++;
    // at most one line per 10 s, however many connections are refused
    if (Date.now() - lastWarning < 10_000) return;
    lastWarning = Date.now();
    app.log.warn({ dropped, maxConnections: limits.maxConnections }, "connections refused: too many open");
    dropped = 0;
  });
  // `Expect:` other than 100-continue: Node would answer 417 with an empty body.
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    const body = errorJson("EXPECTATION_FAILED");
    res.writeHead(417, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    });
    res.end(body);
  });
  app.addHook("onRequest", async (request, reply) => {
    void reply.header("x-request-id", request.id);
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined) {
      throw new ServiceError("MALFORMED_REQUEST", "an HTTP/1.1 request needs a Host header");
    }
  });
}

/** Parser errors (llhttp's `HPE_*` codes) and the request and headers timeouts, by catalogue code. */
export function clientErrorCode(nodeCode: string | undefined): ErrorCode {
  switch (nodeCode) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return "REQUEST_TIMEOUT";
    case "HPE_HEADER_OVERFLOW":
      return "HEADERS_TOO_LARGE";
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return "PAYLOAD_TOO_LARGE";
    default:
      return "MALFORMED_REQUEST";
  }
}

function errorJson(code: ErrorCode, message: string = ERRORS[code].message): string {
  return JSON.stringify({ error: { code, message } });
}

/**
 * Node's `clientError`: the request cannot be parsed, or was not received in time. The answer
 * is written on the socket directly (there is no request object), when nothing of another
 * answer has been written yet; then the connection is closed.
 */
function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code = clientErrorCode(err.code);
  // Never the error itself: its rawPacket holds the request's bytes, Authorization included.
  this.log.info({ code, nodeCode: err.code, remoteAddress: socket.remoteAddress }, "client error");
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const status = ERRORS[code].status;
    const body = errorJson(code);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Cache-Control: no-store\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        "Connection: close\r\n\r\n" +
        body,
    );
  }
  socket.destroy();
}
