import type { FastifyReply, FastifyRequest } from "fastify";
import type { Db } from "../db/pool";
import { ServiceError } from "../errors";
import { authenticate, type Tenant } from "../tenants/tenants";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated tenant; set on every route behind requireTenant. */
    tenant: Tenant;
  }
}

/** An onRequest hook: `Authorization: Bearer <api key>` of an unrevoked key, else 401. */
export function requireTenant(db: Db) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const tenant = match ? await authenticate(db, match[1] as string) : null;
    if (!tenant) {
      void reply.header("www-authenticate", 'Bearer realm="tsd"');
      throw new ServiceError("UNAUTHENTICATED");
    }
    request.tenant = tenant;
  };
}
