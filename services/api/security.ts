import fastifyCors from "@fastify/cors";
import fastifyHelmet from "@fastify/helmet";
import type { FastifyInstance, FastifyRequest } from "fastify";

// Response headers for browsers: helmet's set (nosniff, no framing, no referrer, HSTS, …) with
// a Content-Security-Policy that lets a JSON answer do nothing at all; the two pages replace it
// with their own (web/csp.ts), the API explorer at /docs with one naming its scripts' hashes,
// the queue dashboard with DASHBOARD_CSP.
// CORS: the public routes from anywhere, the rest only from the configured origins.

/** The API's own answers (JSON, NDJSON, PDF, downloads) need nothing from a browser. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The queue dashboard (/admin/queues, bull-board): its own scripts and styles, inline styles
 * (its markup uses them), its own API. Not the Google Fonts it links: an operator's browser
 * does not tell Google it is looking at the dashboard (the system fonts do).
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";

/** Routes without a key and without state, which any site may call from a browser. */
const PUBLIC_ROUTES = new Set(["/v1/verify", "/v1/registry"]);

export async function installSecurityHeaders(
  app: FastifyInstance,
  o: { corsOrigins: string[] },
): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
      },
    },
  });
  app.addHook("onRequest", async (request, reply) => {
    if (request.url === "/admin/queues" || request.url.startsWith("/admin/queues/")) {
      // (behind the operator's token: never cached either)
      void reply.header("content-security-policy", DASHBOARD_CSP).header("cache-control", "no-store");
    }
  });
  await app.register(fastifyCors, {
    // (per request: the path decides, not the route, so one place says it all)
    delegator: (request: FastifyRequest, callback) => {
      const path = request.url.split("?")[0] ?? "";
      const origin = PUBLIC_ROUTES.has(path) ? "*" : o.corsOrigins.length > 0 ? o.corsOrigins : false;
      callback(null, {
        origin,
        methods: ["GET", "HEAD", "POST"],
        allowedHeaders: ["authorization", "content-type", "idempotency-key"],
        exposedHeaders: ["x-next-cursor", "idempotent-replayed", "retry-after", "x-request-id"],
        credentials: false,
        maxAge: 600,
        // a bare OPTIONS gets 204 (or 404 where CORS is off), never a text/plain 400
        strictPreflight: false,
      });
    },
  });
}

/**
 * @fastify/swagger-ui's options for /docs: its own CSP, with the hashes of its inline scripts,
 * changed in three places: styles may be inline (Swagger UI inserts <style> elements from its
 * script; a style cannot run code), no framing, and no `upgrade-insecure-requests` (the API may
 * be reached over plain HTTP on a LAN, where the upgrade would break the explorer's scripts).
 */
export const docsCsp = {
  staticCSP: true,
  transformStaticCSP: (header: string) =>
    header
      .split(";")
      .map((d) => d.trim())
      .filter((d) => d !== "" && d !== "upgrade-insecure-requests")
      .map((d) =>
        d.startsWith("style-src ")
          ? "style-src 'self' 'unsafe-inline'"
          : d.startsWith("frame-ancestors ")
            ? "frame-ancestors 'none'"
            : d,
      )
      .join("; "),
};
