import { Type, type TSchema } from "@sinclair/typebox";

// Shapes shared by several routes; each route file declares its own request schemas.

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: "Error", description: "Every error: a stable code and a message for people" },
);

export const DepositRecordSchema = Type.Object(
  {
    v: Type.Literal(1),
    id: Type.String({ format: "uuid" }),
    depositor: Type.String(),
    digestAlg: Type.Union([Type.Literal("sha256"), Type.Literal("sm3"), Type.Literal("tsd-set/1")]),
    digest: Type.String(),
    salt: Type.String(),
    receivedAt: Type.Integer(),
    prev: Type.Optional(Type.String()),
  },
  { description: "The deposit record committed in the Merkle tree (docs/protocol.md section 3)" },
);

export const DepositStatusSchema = Type.Union([
  Type.Literal("pending"),
  Type.Literal("batched"),
  Type.Literal("anchored"),
  Type.Literal("certified"),
]);

export const AcceptedDepositSchema = Type.Object({
  id: Type.String(),
  status: DepositStatusSchema,
  record: DepositRecordSchema,
  leafHash: Type.String({ description: "SHA-256(0x00 || JCS(record)), 0x-prefixed" }),
});

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref("Error")]));
}
