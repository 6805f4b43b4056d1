import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyPluginAsync } from "fastify";
import { pageCsp } from "./csp";

// The pages and downloads the API serves, as `npm run build:verifier` built them into dist/:
// the depositor's page at /, the court's verify page at /verify, and the verifier files at
// /downloads/ for anyone to keep.

export interface WebRouteOptions {
  /** Where the built files are (dist/). */
  distDir: string;
  /** A chain RPC URL verifiers may use, prefilled in the page; never the service's own if private. */
  publicRpcUrl?: string;
  /** The platform's registry, prefilled as the one to trust. */
  registry: string;
}

const HTML = "text/html; charset=utf-8";

const DOWNLOADS: Record<string, string> = {
  "tsd-verify.cjs": "application/javascript; charset=utf-8",
  "verify.html": HTML,
  SHA256SUMS: "text/plain; charset=utf-8",
};

/**
 * Built files served but not offered for download. The deposit page talks only to the origin
 * that serves it (its CSP says `connect-src 'self'`), so a copy kept elsewhere would be of no
 * use; its SHA-256 is in SHA256SUMS all the same, so what `/` serves can be checked. The
 * service sends each page with a stricter policy of its own (web/csp.ts).
 */
const PAGES = ["deposit.html"];

/** Reads the built files once; a missing build is a start-up error that says what to run. */
export function loadBuiltFiles(distDir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of [...Object.keys(DOWNLOADS), ...PAGES]) {
    const path = join(distDir, name);
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build:verifier\``);
    files.set(name, readFileSync(path));
  }
  return files;
}

export const webRoutes: FastifyPluginAsync<WebRouteOptions> = async (app, opts) => {
  const files = loadBuiltFiles(opts.distDir);
  const file = (name: string) => files.get(name) as Buffer;
  // (web/csp.ts: the hashes of each page's inline script and style, as served)
  const csp = {
    // the depositor's page talks to this API and nothing else
    deposit: pageCsp(file("deposit.html").toString("utf8"), ["'self'"]),
    // the court's page reads the chain from whichever node the clerk types in
    verify: pageCsp(file("verify.html").toString("utf8"), ["http:", "https:"]),
  };

  // The depositor's page. It takes an API key: no other site may frame it.
  app.get("/", { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type(HTML)
      .header("content-security-policy", csp.deposit)
      .header("x-frame-options", "DENY")
      .header("cache-control", "no-cache")
      .send(file("deposit.html")),
  );

  // The page reads its defaults from the query string, so the file served stays byte for byte
  // the one published (its SHA-256 is in SHA256SUMS).
  app.get("/verify", { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    if (query.registry === undefined && query.rpc === undefined) {
      const params = new URLSearchParams({
        ...(opts.publicRpcUrl ? { rpc: opts.publicRpcUrl } : {}),
        registry: opts.registry,
      });
      return reply.redirect(`/verify?${params.toString()}`, 302);
    }
    return reply
      .type(HTML)
      .header("content-security-policy", csp.verify)
      .header("x-frame-options", "DENY")
      .send(file("verify.html"));
  });

  app.get<{ Params: { name: string } }>(
    "/downloads/:name",
    { schema: { hide: true } },
    async (request, reply) => {
      const type = DOWNLOADS[request.params.name];
      if (!type) return reply.callNotFound();
      return reply
        .type(type)
        .header("content-disposition", `attachment; filename="${request.params.name}"`)
        .send(file(request.params.name));
    },
  );
};
