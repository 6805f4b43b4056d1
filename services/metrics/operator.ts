import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { ServiceError } from "../errors";

// The operator's token (OPERATOR_TOKEN) guards /metrics and the queue dashboard. Prometheus
// sends it as a bearer token; a browser opening /admin/queues is asked for it by HTTP Basic
// authentication (any user name, the token as password), and keeps sending it for the page's
// own requests.

/** Whether `given` is the operator's token (compared in constant time). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  return given !== undefined && same(given, token);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request carries, as Bearer or as the password of Basic credentials. */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(" ", 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === "bearer") return value.trim();
  if (scheme?.toLowerCase() === "basic") {
    const decoded = Buffer.from(value.trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

/** OPERATOR_UNAUTHENTICATED unless the request carries `token`; no token configured refuses all. */
export function requireOperator(request: FastifyRequest, token: string | undefined): void {
  const given = presentedToken(request.headers.authorization);
  if (token === undefined || !tokenMatches(given, token)) {
    throw new ServiceError("OPERATOR_UNAUTHENTICATED");
  }
}
