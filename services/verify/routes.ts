import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { fileDigestAlg, isHex32, verifyEvidence, type ChainReader } from "../core";
import { errors } from "../api/schemas";
import { ServiceError } from "../errors";
import { metrics } from "../metrics/metrics";
import { Gate, readingOffSlot } from "./gate";

const Bilingual = Type.Object({ en: Type.String(), zh: Type.String() });

/**
 * The public verify endpoint: the same core verifier as the CLI and the court page, reading the
 * chain this service is connected to and trusting only this service's registry. A court need
 * not use it: the one-file verifier, the offline page and generic tools reach the same outcome
 * without the service.
 */
export const verifyRoutes: FastifyPluginAsyncTypebox<{
  chain: ChainReader;
  registry: string;
  /** Verifications computing at once, and in progress beyond those, in this process (VERIFY_CONCURRENCY, VERIFY_QUEUE_MAX). */
  concurrency: number;
  queueMax: number;
}> = async (app, opts) => {
  const gate = new Gate(opts.concurrency, opts.queueMax);
  app.post(
    "/verify",
    {
      bodyLimit: 256 * 1024,
      schema: {
        summary:
          "Verify a certificate, or one file of a deposit set with its disclosure (public, no account)",
        tags: ["verify"],
        body: Type.Object(
          {
            certificate: Type.Unknown({ description: "A tsd-certificate/1 JSON object" }),
            disclosure: Type.Optional(
              Type.Unknown({ description: "For one file of a deposit set: its tsd-disclosure/1" }),
            ),
            digest: Type.Optional(
              Type.String({
                maxLength: 128,
                description: "The file's digest, to compare (SHA-256 or SM3, as the deposit or member names)",
              }),
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
            statement: Type.Optional(Bilingual),
            explanation: Bilingual,
            digestChecked: Type.Boolean(),
            checks: Type.Object({
              file: Type.String(),
              registry: Type.Object({
                named: Type.Union([Type.String(), Type.Null()]),
                pinned: Type.Union([Type.String(), Type.Null()]),
              }),
              chain: Type.String(),
              certifier: Type.Union([Type.String(), Type.Null()]),
            }),
            chainError: Type.Optional(Type.String()),
          }),
          ...errors(400, 429),
        },
      },
    },
    async (request, reply) => {
      const { certificate, disclosure } = request.body;
      const digest = request.body.digest?.toLowerCase();
      if (digest !== undefined && !isHex32(digest)) throw new ServiceError("DIGEST_INVALID");
      if (digest !== undefined && fileDigestAlg(certificate, disclosure) === null) {
        throw new ServiceError(
          "BAD_REQUEST",
          "a deposit set's certificate compares a file only through that file's disclosure",
        );
      }
      const run = gate.tryRun((io) =>
        verifyEvidence({
          certificate,
          ...(disclosure === undefined ? {} : { disclosure }),
          ...(digest === undefined ? {} : { fileDigest: digest }),
          // Waiting on the node holds no CPU slot.
          chain: readingOffSlot(opts.chain, io),
          // This platform vouches only for its own registry.
          registry: opts.registry,
        }),
      );
      if (run === null) {
        void reply.header("retry-after", "1");
        throw new ServiceError("VERIFY_BUSY");
      }
      const verdict = await run;
      const { certificate: _c, disclosure: _d, times: _t, ...result } = verdict;
      const answer = { ...result, digestChecked: verdict.checks.file === "compared" };
      metrics.verifyOutcomes.inc({ outcome: verdict.outcome });
      if (answer.chainError === undefined) return answer;
      // The node's own error may name hosts or carry an RPC key: it goes to the log only.
      request.log.warn({ chainError: answer.chainError }, "verify could not read the chain");
      return { ...answer, chainError: "the chain node did not answer" };
    },
  );
};
