import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import subsetFont from "subset-font";

// `npm run build:verifier`: the verifier of the pure core in the forms that outlive the
// platform, and the depositor's page, reproducibly (the same source gives byte-identical
// files; their SHA-256 is printed and written to dist/SHA256SUMS):
//   dist/tsd-verify.cjs  `tsd verify` with the core and ethers in one file, for plain Node 20+
//   dist/verify.html     the court page: scripts, styles and a font subset inline; works from disk
//   dist/deposit.html    the depositor's page, served at `/`: built the same way, with the court
//                        page's styles under its own; it talks only to the origin serving it

const ROOT = resolve(__dirname, "..");
const DIST = join(ROOT, "dist");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const FONT = require.resolve("@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf");

/** The core's hashing module swapped for the browser's (hash-wasm and ethers' SHA-256). */
const browserHashing: Plugin = {
  name: "browser-hashing",
  setup(b) {
    b.onResolve({ filter: /^\.\/hashing$/ }, (args) =>
      args.importer.includes(join("services", "core"))
        ? { path: join(ROOT, "web", "shims", "hashing.ts") }
        : undefined,
    );
  },
};

async function bundle(
  entry: string,
  o: { platform: "browser" | "node"; define?: Record<string, string>; minify: boolean },
): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: o.platform,
    format: o.platform === "node" ? "cjs" : "iife",
    target: o.platform === "node" ? "node20" : "es2022",
    minify: o.minify,
    legalComments: "eof",
    charset: "utf8",
    define: o.define ?? {},
    plugins: o.platform === "browser" ? [browserHashing] : [],
    logLevel: "warning",
  });
  return (result.outputFiles[0] as { text: string }).text;
}

/**
 * Builds a page from its template: the bundled script, the styles and a font subset inline.
 * `styles` are the folders whose page.css it wears, in order (a sibling page starts from the
 * court page's).
 */
async function page(dir: string, script: string, styles: string[] = [dir]): Promise<string> {
  const html = readFileSync(join(ROOT, "web", dir, "page.html"), "utf8");
  const css = styles.map((d) => readFileSync(join(ROOT, "web", d, "page.css"), "utf8")).join("\n");
  // Every character the page's own text uses, and the 3,755 most common Chinese characters
  // (GB 2312 level 1) for what it shows from the files given to it — file names in a
  // disclosure, a company's label — in the one font it carries: a court's machine may have no
  // Chinese font. Rarer characters fall back to the system's fonts.
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
  const used = [...new Set(`${printable}${commonHanzi()}${html}${script}`)]
    .filter((ch) => ch.codePointAt(0)! >= 32)
    .sort();
  const font = await subsetFont(readFileSync(FONT), used.join(""), { targetFormat: "woff2" });
  return html
    .replace("/*STYLE*/", () => css.replace("/*FONT*/", font.toString("base64")))
    .replace("/*VERSION*/", VERSION)
    .replace("/*SCRIPT*/", () => script.replace(/<\/(script)/gi, "<\\/$1"));
}

/** GB 2312's level-1 Chinese characters (rows 16 to 55: the 3,755 in most common use). */
function commonHanzi(): string {
  const gbk = new TextDecoder("gbk");
  let chars = "";
  for (let row = 0xb0; row <= 0xd7; row++) {
    for (let cell = 0xa1; cell <= (row === 0xd7 ? 0xf9 : 0xfe); cell++)
      chars += gbk.decode(Uint8Array.of(row, cell));
  }
  return chars;
}

export interface BuiltFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** Builds every verifier form into `outDir`; returns each file's size and SHA-256. */
export async function buildVerifier(outDir = DIST): Promise<BuiltFile[]> {
  // The pages hash files in the same worker, inlined as a string (a Blob URL starts it: a
  // page opened from disk may not load a worker from a file).
  const worker = await bundle("web/shared/hash-worker.ts", { platform: "browser", minify: true });
  const pageScript = (dir: string) =>
    bundle(`web/${dir}/page.ts`, {
      platform: "browser",
      minify: true,
      define: { HASH_WORKER_SOURCE: JSON.stringify(worker) },
    });
  const cli = await bundle("services/cli/verify-standalone.ts", {
    platform: "node",
    minify: false,
    define: { TSD_VERSION: JSON.stringify(VERSION) },
  });
  const files: [string, string][] = [
    [
      "tsd-verify.cjs",
      `#!/usr/bin/env node\n// tsd-verify ${VERSION}: the tsd certificate verifier in one file (core, ethers, commander bundled).\n// Usage: node tsd-verify.cjs verify CERT [--file F | --digest HEX] [--disclosure D] --rpc URL [--registry ADDR] [--json]\n${cli}`,
    ],
    ["verify.html", await page("verify", await pageScript("verify"))],
    ["deposit.html", await page("deposit", await pageScript("deposit"), ["verify", "deposit"])],
  ];
  mkdirSync(outDir, { recursive: true });
  const built = files.map(([name, text]) => {
    const bytes = Buffer.from(text, "utf8");
    writeFileSync(join(outDir, name), bytes);
    return { name, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  });
  writeFileSync(join(outDir, "SHA256SUMS"), built.map((f) => `${f.sha256}  ${f.name}\n`).join(""));
  return built;
}

if (require.main === module) {
  buildVerifier(process.argv[2] ? resolve(process.argv[2]) : DIST).then(
    (built) => {
      for (const f of built) console.log(`${f.sha256}  ${f.name}  (${f.bytes} bytes)`);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
