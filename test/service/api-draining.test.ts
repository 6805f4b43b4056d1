import { connect } from "node:net";
import Fastify from "fastify";
import { refuseWhileClosing } from "../../services/api/draining";

// A request that reaches the API while it shuts down (SIGTERM) on an open keep-alive
// connection: refused with the catalogue's 503, the connection closed; the one running
// finishes. Fastify's own answer had another shape ({"error":"Service Unavailable",…}).

test("while closing, a request on an open connection gets the catalogue's 503; the running one finishes", async () => {
  const app = Fastify({ return503OnClosing: false });
  refuseWhileClosing(app);
  let release = () => undefined as void;
  const running = new Promise<void>((resolve) => {
    app.get("/slow", async () => {
      resolve();
      await new Promise<void>((r) => (release = r));
      return { ok: true };
    });
  });
  app.get("/fast", async () => ({ ok: true }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as { port: number };

  // One keep-alive connection: /slow runs, the server starts closing, /fast arrives behind it.
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString()));
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.write("GET /slow HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
  await running;
  const closed = app.close();
  await new Promise((r) => setTimeout(r, 50));
  socket.write("GET /fast HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
  await new Promise((r) => setTimeout(r, 50));
  release();
  await ended;
  await closed;

  const answers = received.split(/(?=HTTP\/1\.1 )/);
  expect(answers).toHaveLength(2);
  expect(answers[0]).toMatch(/^HTTP\/1\.1 200 /);
  expect(answers[1]).toMatch(/^HTTP\/1\.1 503 /);
  expect(answers[1]).toMatch(/\r\nconnection: close\r\n/i);
  expect(JSON.parse(answers[1]!.split("\r\n\r\n")[1]!)).toEqual({
    error: { code: "SERVICE_UNAVAILABLE", message: "a backing service is unavailable; retry later" },
  });
});
