/**
 * The core's one error class. Two kinds of failure, kept apart as in OpenZeppelin's
 * merkle-tree: the caller's mistake (`INVALID_ARGUMENT`, `MALFORMED` for bad input data) and
 * our own broken invariant (`INVARIANT_VIOLATION`, a bug in tsd).
 */
export type CoreErrorCode = "INVALID_ARGUMENT" | "MALFORMED" | "INVARIANT_VIOLATION";

export class CoreError extends Error {
  override readonly name = "CoreError";

  constructor(
    readonly code: CoreErrorCode,
    message: string,
    /** Where in a parsed document the problem is, e.g. `deposit.digest`. */
    readonly path?: string,
  ) {
    super(path === undefined ? message : `${path}: ${message}`);
  }
}

/** Throws INVALID_ARGUMENT unless `condition` holds. */
export function requireArgument(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CoreError("INVALID_ARGUMENT", message);
}

/** Throws MALFORMED (at `path`) unless `condition` holds. */
export function requireWellFormed(condition: unknown, path: string, message: string): asserts condition {
  if (!condition) throw new CoreError("MALFORMED", message, path);
}

/** Throws INVARIANT_VIOLATION unless `condition` holds: reaching it means a bug in tsd. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CoreError("INVARIANT_VIOLATION", message);
}
