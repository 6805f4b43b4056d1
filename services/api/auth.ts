import type { FastifyReply, FastifyRequest } from "fastify";
import { ServiceError } from "../errors";
import type { Authenticate } from "../tenants/key-cache";
import type { Tenant } from "../tenants/tenants";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated tenant; set on every route behind requireTenant. */
    tenant: Tenant;
  }
}

/**
 * An onRequest hook: `Authorization: Bearer <api key>` of an unrevoked key, else 401; a
 * disabled tenant's, 403. Every answer of these routes, a refusal too, is
 * `Cache-Control: no-store`; once the key is known, every log line of the request names the
 * tenant. Keys are looked up with `lookup` (the app's cached lookup).
 */
export function requireTenant(lookup: Authenticate) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    void reply.header("cache-control", "no-store");
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const tenant = match ? await lookup(match[1] as string) : null;
    if (!tenant) {
      void reply.header("www-authenticate", 'Bearer realm="tsd"');
      throw new ServiceError("UNAUTHENTICATED");
    }
    request.log = reply.log = request.log.child({ tenantId: tenant.id });
    // Disabled by an operator: a stable code of its own, so the tenant knows its key is fine.
    if (tenant.disabled) throw new ServiceError("TENANT_DISABLED");
    request.tenant = { id: tenant.id, name: tenant.name, depositor: tenant.depositor };
  };
}
