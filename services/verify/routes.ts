import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { isHex32, verifyCertificate, type ChainReader } from "../core";
import { errors } from "../api/schemas";
import { ServiceError } from "../errors";

/**
 * The public verify endpoint: the same core verifier as the CLI, reading the chain this
 * service is connected to and trusting only this service's registry. A court need not use it: the CLI and generic tools reach the
 * same outcome without the service.
 */
export const verifyRoutes: FastifyPluginAsyncTypebox<{ chain: ChainReader; registry: string }> = async (
  app,
  opts,
) => {
  app.post(
    "/verify",
    {
      bodyLimit: 256 * 1024,
      schema: {
        summary: "Verify a certificate (public, no account needed)",
        tags: ["verify"],
        body: Type.Object(
          {
            certificate: Type.Unknown({ description: "A tsd-certificate/1 JSON object" }),
            digest: Type.Optional(
              Type.String({ maxLength: 128, description: "SHA-256 of the file, to compare" }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            outcome: Type.Union([
              Type.Literal("VALID"),
              Type.Literal("INVALID"),
              Type.Literal("UNANCHORED_CHECK_ONLY"),
            ]),
            code: Type.Optional(Type.String()),
            message: Type.String(),
            digestChecked: Type.Boolean(),
            chainError: Type.Optional(Type.String()),
          }),
          ...errors(400),
        },
      },
    },
    async (request) => {
      const digest = request.body.digest?.toLowerCase();
      if (digest !== undefined && !isHex32(digest)) throw new ServiceError("DIGEST_INVALID");
      const { certificate: _certificate, ...result } = await verifyCertificate(request.body.certificate, {
        chain: opts.chain,
        // This platform vouches only for its own registry.
        registry: opts.registry,
        ...(digest === undefined ? {} : { digest }),
      });
      if (result.chainError === undefined) return result;
      // The node's own error may name hosts or carry an RPC key: it goes to the log only.
      request.log.warn({ chainError: result.chainError }, "verify could not read the chain");
      return { ...result, chainError: "the chain node did not answer" };
    },
  );
};
