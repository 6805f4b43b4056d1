import { connect, type Socket } from "node:net";
import { eventually, startTestStack, type TestStack } from "../helpers/stack";
import { exchange, parseResponse, requestBytes } from "./harness";

// The HTTP server's limits as configured: the connection cap (a connection past it is closed
// unanswered, and the next one after a slot frees is served), keep-alive connections closed
// when idle, and the requests one connection may carry.

jest.setTimeout(60_000);

let stack: TestStack;
let port: number;

beforeAll(async () => {
  stack = await startTestStack({
    workers: false,
    env: {
      HTTP_MAX_CONNECTIONS: "3",
      HTTP_KEEP_ALIVE_TIMEOUT_MS: "300",
      HTTP_MAX_REQUESTS_PER_SOCKET: "2",
      HTTP_REQUEST_TIMEOUT_MS: "20000",
      HTTP_HEADERS_TIMEOUT_MS: "15000",
      HTTP_CONNECTION_TIMEOUT_MS: "30000",
      HTTP_MAX_HEADER_BYTES: "8192",
    },
  });
  await stack.app.listen({ port: 0, host: "127.0.0.1" });
  port = (stack.app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await stack?.close();
});

const openConnections = () =>
  new Promise<number>((resolve, reject) =>
    stack.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );

/** A connection that stays open, and resolves when the server closes it. */
function idle(): { socket: Socket; closed: Promise<void> } {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  return { socket, closed: new Promise((resolve) => socket.on("close", () => resolve())) };
}

test("the server takes its limits from the configuration", () => {
  const server = stack.app.server;
  expect({
    requestTimeout: server.requestTimeout,
    headersTimeout: server.headersTimeout,
    keepAliveTimeout: server.keepAliveTimeout,
    timeout: server.timeout,
    maxConnections: server.maxConnections,
    maxRequestsPerSocket: server.maxRequestsPerSocket,
    maxHeaderSize: (server as unknown as { maxHeaderSize: number }).maxHeaderSize,
  }).toEqual({
    requestTimeout: 20_000,
    headersTimeout: 15_000,
    keepAliveTimeout: 300,
    timeout: 30_000,
    maxConnections: 3,
    maxRequestsPerSocket: 2,
    maxHeaderSize: 8192,
  });
});

test("past HTTP_MAX_CONNECTIONS a connection is closed unanswered; a freed slot serves again", async () => {
  const held = [idle(), idle(), idle()];
  await eventually(async () => ((await openConnections()) === 3 ? true : undefined), 10_000, "3 connections");
  // the fourth: closed by the server before any answer
  expect(await exchange(port, [requestBytes({ path: "/healthz" })])).toBeNull();
  held[0]!.socket.destroy();
  await held[0]!.closed;
  await eventually(async () => ((await openConnections()) === 2 ? true : undefined), 10_000, "a free slot");
  const served = await exchange(port, [requestBytes({ path: "/healthz" })]);
  expect(served?.status).toBe(200);
  for (const h of held) h.socket.destroy();
});

test("an idle keep-alive connection is closed by the server after a request", async () => {
  const { socket, closed } = idle();
  const received: Buffer[] = [];
  socket.on("data", (d) => received.push(d));
  socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await closed; // (never ended by this side)
  const res = parseResponse(Buffer.concat(received));
  expect(res?.status).toBe(200);
  expect(res?.headers.connection).toBe("keep-alive");
});

test("HTTP_MAX_REQUESTS_PER_SOCKET: the last request allowed is answered with Connection: close", async () => {
  const { socket, closed } = idle();
  const received: Buffer[] = [];
  socket.on("data", (d) => received.push(d));
  socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await eventually(async () => (Buffer.concat(received).includes("\r\n\r\n") ? true : undefined));
  const first = parseResponse(Buffer.concat(received));
  received.length = 0;
  socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await closed;
  const second = parseResponse(Buffer.concat(received));
  expect([first?.status, first?.headers.connection]).toEqual([200, "keep-alive"]);
  expect([second?.status, second?.headers.connection]).toEqual([200, "close"]);
});
