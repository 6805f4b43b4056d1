import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { registry } from "./metrics";
import { presentedToken, tokenMatches } from "./operator";
import { collectState, type StateSources } from "./state";

// A worker process's own /metrics (it serves no API): the same series and the same rule as
// the API's — OPERATOR_TOKEN when set, else loopback clients only. /healthz (open) says the
// process is up, for a container's health check.

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export async function serveMetrics(
  port: number,
  host: string,
  sources: StateSources & { operatorToken?: string },
  log: Logger,
): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    void (async () => {
      const path = req.url?.split("?")[0];
      if (req.method === "GET" && path === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
        return;
      }
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      const token = sources.operatorToken;
      const allowed =
        token === undefined
          ? LOOPBACK.has(req.socket.remoteAddress ?? "")
          : tokenMatches(presentedToken(req.headers.authorization), token);
      if (!allowed) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ error: { code: "OPERATOR_UNAUTHENTICATED", message: "OPERATOR_TOKEN required" } }),
        );
        return;
      }
      try {
        await collectState(sources);
        res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
        res.end(await registry.metrics());
      } catch (err) {
        log.warn({ err }, "metrics could not be collected");
        res.writeHead(503).end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}
