import { createHash } from "node:crypto";

// The Content-Security-Policy the service sends with its two pages. Each page is one file with
// one inline <script> and one inline <style>, and carries its own policy in a <meta> tag for
// when it is opened from disk; that one must allow 'unsafe-inline' (the hashes of a file's
// scripts cannot be written into the file before it is built). The header names the SHA-256
// of the very script and style served instead, computed from the file when the service starts
// (the file stays byte for byte the one published in SHA256SUMS), so an injected script or
// style would not run. A browser enforces both policies: whatever either refuses is refused.

/** `'sha256-…'` sources for the contents of every `<tag>` element without attributes. */
export function inlineHashes(html: string, tag: "script" | "style"): string[] {
  const hashes: string[] = [];
  for (const m of html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))) {
    hashes.push(
      `'sha256-${createHash("sha256")
        .update(m[1] as string, "utf8")
        .digest("base64")}'`,
    );
  }
  if (hashes.length === 0) throw new Error(`no inline <${tag}> in the page`);
  return hashes;
}

/**
 * The page's policy. Scripts: only its own inline script (by hash), and WebAssembly, which
 * hashes the files; the hashing worker starts from a blob: URL. Styles: its own inline style,
 * by hash; the font and images are data: URLs. `connectSrc` says where the page may send
 * requests. No plugins, no <base>, no form posts, no framing.
 */
export function pageCsp(html: string, connectSrc: string[]): string {
  return [
    "default-src 'none'",
    `script-src ${inlineHashes(html, "script").join(" ")} 'wasm-unsafe-eval'`,
    "worker-src blob:",
    `style-src ${inlineHashes(html, "style").join(" ")}`,
    "font-src data:",
    "img-src data:",
    `connect-src ${connectSrc.join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}
