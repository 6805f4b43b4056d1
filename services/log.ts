import pino, { type Logger } from "pino";

/** The process logger: JSON lines on stdout, secrets redacted wherever they might appear. */
export function createLogger(level: string, name = "tsd"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ["req.headers.authorization", "*.privateKey", "*.apiKey", "apiKey"],
      censor: "[redacted]",
    },
  });
}

export type { Logger };
