import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Db } from "../db/pool";
import { requireTenant } from "../api/auth";
import type { Authenticate } from "../tenants/key-cache";
import { errors } from "../api/schemas";
import { serializeCertificate } from "../core";
import type { CursorSealer } from "../tenants/cursors";
import { FEED_START, certificatesSince, feedCursor, feedPosition, loadCertificate } from "./certificate";
import { renderCertificatePdf } from "./pdf";

export interface CertificateRouteOptions {
  db: Db;
  /** The app's API key lookup (cached briefly). */
  authenticate: Authenticate;
  /** Seals the tenant's feed cursors. */
  cursors: () => Promise<CursorSealer>;
  /** The public verify page's URL, printed on the PDF and in its QR code. */
  verifyUrl: string;
}

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** A depositor's certificates: JSON (the evidence) and the bilingual PDF that carries it. */
export const certificateRoutes: FastifyPluginAsyncTypebox<CertificateRouteOptions> = async (app, opts) => {
  app.addHook("onRequest", requireTenant(opts.authenticate));
  const security = [{ bearer: [] }];

  app.get(
    "/deposits/:id/certificate",
    {
      schema: {
        summary: "The deposit certificate (tsd-certificate/1 JSON), once the deposit is certified",
        tags: ["certificates"],
        security,
        params: IdParams,
        response: { 200: Type.Unknown({ description: "tsd-certificate/1 JSON" }), ...errors(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const certificate = await loadCertificate(opts.db, request.tenant.id, request.params.id);
      return reply
        .type("application/json; charset=utf-8")
        .header("content-disposition", `inline; filename="tsd-certificate-${request.params.id}.json"`)
        .send(serializeCertificate(certificate));
    },
  );

  app.get(
    "/deposits/:id/certificate.pdf",
    {
      schema: {
        summary: "The certificate as a bilingual one-page PDF, with the JSON attached as certificate.json",
        tags: ["certificates"],
        security,
        params: IdParams,
        response: { 200: Type.Unknown({ description: "application/pdf" }), ...errors(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const certificate = await loadCertificate(opts.db, request.tenant.id, request.params.id);
      const pdf = await renderCertificatePdf({
        certificate,
        certificateJson: serializeCertificate(certificate),
        verifyUrl: opts.verifyUrl,
      });
      return reply
        .type("application/pdf")
        .header("content-disposition", `attachment; filename="tsd-certificate-${request.params.id}.pdf"`)
        .send(pdf);
    },
  );

  app.get(
    "/certificates",
    {
      schema: {
        summary:
          "Your certificates in bulk, as NDJSON (one tsd-certificate/1 per line), in the order their batches were certified",
        description:
          "Poll with the `x-next-cursor` of the previous answer as `since` to get only what was certified meanwhile " +
          "(a batch certified again after the chain lost its block comes again). `since=now` returns no certificate, " +
          "only the cursor to start polling from.",
        tags: ["certificates"],
        security,
        querystring: Type.Object(
          {
            since: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: FEED_MAX, default: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Unknown({ description: "application/x-ndjson" }), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const { since, limit } = request.query;
      const cursors = await opts.cursors();
      const tenant = request.tenant.id;
      const position =
        since === "now" ? null : since === undefined ? FEED_START : feedPosition(cursors, tenant, since);
      const page = await certificatesSince(opts.db, tenant, position, limit ?? 1000);
      return reply
        .type("application/x-ndjson; charset=utf-8")
        .header("x-next-cursor", feedCursor(cursors, tenant, page.next))
        .send(page.certificates.map((c) => `${JSON.stringify(c)}\n`).join(""));
    },
  );
};

/** Most certificates in one answer of the feed. */
const FEED_MAX = 10_000;
