import { isUtf8 } from "node:buffer";
import { Kind, type TSchema } from "@sinclair/typebox";
import { TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import { ServiceError } from "../errors";

// What every JSON body must be before any route sees it: UTF-8 (Fastify would decode bad
// bytes to U+FFFD; another declared charset is refused rather than misread), nested at most MAX_JSON_DEPTH deep (a verifier walking a certificate
// recursively must not meet 100,000 levels), and well-formed Unicode: a JSON escape can spell
// a lone surrogate ("\ud800"), which PostgreSQL stored as U+FFFD, so that the identical retry
// no longer matched its own deposit (409). Query strings and paths cannot carry one (a
// percent-encoded surrogate is not UTF-8 and stays undecoded).

/** Deepest nesting of arrays and objects a JSON body may have (a certificate needs 5). */
export const MAX_JSON_DEPTH = 32;

/** Replaces Fastify's JSON parser with one that checks encoding and depth first. */
export function installInputChecks(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const bytes = body as Buffer;
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(request.headers["content-type"] ?? "")?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      // Decoding it as UTF-8 anyway could store other text than the client meant.
      done(
        new ServiceError("UNSUPPORTED_MEDIA_TYPE", "JSON is read as UTF-8 only (charset=utf-8)"),
        undefined,
      );
      return;
    }
    if (!isUtf8(bytes)) {
      done(new ServiceError("UNICODE_INVALID", "the body is not valid UTF-8"), undefined);
      return;
    }
    const text = bytes.toString("utf8");
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      done(
        new ServiceError("JSON_TOO_DEEP", `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`),
        undefined,
      );
      return;
    }
    parse(request, text, (err, value) => {
      if (err) return done(err, undefined);
      const where = illFormedAt(value, "");
      if (where !== undefined) {
        return done(
          new ServiceError("UNICODE_INVALID", `${where || "body"}: a lone surrogate is not text`),
          undefined,
        );
      }
      done(null, value);
    });
  });
}

/**
 * The deepest nesting of `[` and `{` in JSON text, outside strings; linear, no recursion. Text
 * that is not JSON gets a number too; the parser refuses it afterwards.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Where in a parsed JSON value a string (or a key) holds a lone surrogate, e.g. `items[2].label`. */
export function illFormedAt(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return wellFormed(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedAt(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!wellFormed(key)) return path || "body";
      const found = illFormedAt(item, path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** String.prototype.isWellFormed (Node 20; TypeScript's ES2024 library, which this project predates). */
function wellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** How an integer or a number is written in a query string, a path or a header: nothing else passes. */
const STRICT_TEXT: Record<string, RegExp> = {
  Integer: /^-?(0|[1-9][0-9]*)$/,
  Number: /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/,
};

/**
 * TypeBox's validator, as the API used it, with stricter conversion of query strings, paths
 * and headers: TypeBox reads `limit=1.5` as 1, `1e2` as 1 and `0x10` as 16. A value not written
 * as a plain decimal stays a string here, so the schema refuses it (VALIDATION_FAILED).
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const validate = TypeBoxValidatorCompiler(route);
  const properties = (route.schema as { properties?: Record<string, TSchema> }).properties;
  const numeric = Object.entries(properties ?? {}).flatMap(([key, schema]) => {
    const pattern = STRICT_TEXT[schema[Kind] as string];
    return pattern ? [[key, pattern] as const] : [];
  });
  if (route.httpPart === "body" || numeric.length === 0) return validate;
  return (value) => {
    if (value === null || typeof value !== "object") return validate(value);
    const input = value as Record<string, unknown>;
    const sloppy = numeric.filter(
      ([key, pattern]) => typeof input[key] === "string" && !pattern.test(input[key]),
    );
    if (sloppy.length === 0) return validate(value);
    // (a number in the wrong place: the schema's own message says what was expected)
    return validate({ ...input, ...Object.fromEntries(sloppy.map(([key]) => [key, [input[key]]])) });
  };
};
