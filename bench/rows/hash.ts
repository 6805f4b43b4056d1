import { timeCommand, randomFile, sha256sum, MB } from "../commands";
import type { BenchModule } from "../module";
import { launchChromium } from "../../test/helpers/browser";

// Hashing speed where depositors hash: the CLI (`tsd hash FILE --json`, start-up included) and
// the deposit page in Chromium (the API serves it at /), each against sha256sum on the same
// file, with the page cache warm for all of them. Speeds in MB/s; ratio = speed / speed.

const CLI = "hash: CLI, 1 GiB file";
const BROWSER = "hash: browser, deposit page in Chromium, 256 MiB";

const size = (bytes: number) => `${bytes / 2 ** 20} MiB`;

export const hashCli: BenchModule = {
  rows: [{ name: CLI, unit: "MB/s", goal: { ratio: { of: "value/baseline", op: ">=", limit: 0.9 } } }],
  async run(ctx) {
    const bytes = ctx.sizes.hashCliBytes;
    const file = await randomFile(ctx, bytes);
    const expected = (await sha256sum(file)).digest; // warms the page cache
    const baseline = Math.min((await sha256sum(file)).seconds, (await sha256sum(file)).seconds);
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const r = await timeCommand(process.execPath, ["bin/tsd.js", "hash", file, "--json"]);
      if (r.code !== 0) throw new Error(`tsd hash failed: ${r.stderr}`);
      const [out] = JSON.parse(r.stdout) as { digest: string }[];
      if (out?.digest !== expected) throw new Error(`tsd hash printed ${out?.digest}, sha256sum ${expected}`);
      runs.push(r.seconds);
    }
    const startup = await timeCommand(process.execPath, ["bin/tsd.js", "--version"]);
    const seconds = Math.min(...runs);
    return {
      [CLI]: {
        value: bytes / seconds / MB,
        baseline: bytes / baseline / MB,
        notes: [
          `tsd ${seconds.toFixed(2)} s (start-up alone, tsd --version: ${startup.seconds.toFixed(2)} s), sha256sum ${baseline.toFixed(2)} s; best of 2`,
          ...ctx.sizeNote(size(bytes)),
        ],
      },
    };
  },
};

export const hashBrowser: BenchModule = {
  rows: [{ name: BROWSER, unit: "MB/s", goal: { ratio: { of: "value/baseline", op: ">=", limit: 0.3 } } }],
  async run(ctx) {
    const stack = await ctx.stack();
    const bytes = ctx.sizes.hashBrowserBytes;
    const file = await randomFile(ctx, bytes, "deposit.bin");
    const expected = (await sha256sum(file)).digest;
    const baseline = Math.min((await sha256sum(file)).seconds, (await sha256sum(file)).seconds);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${stack.api}/`);
      const start = process.hrtime.bigint();
      await page.getByTestId("file-input").setInputFiles(file);
      const digest = page.getByTestId("digest").filter({ hasText: /^[0-9a-f]{64}$/ });
      await digest.waitFor({ timeout: 300_000 });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const shown = await digest.innerText();
      if (shown !== expected) throw new Error(`the page showed ${shown}, sha256sum ${expected}`);
      return {
        [BROWSER]: {
          value: bytes / seconds / MB,
          baseline: bytes / baseline / MB,
          notes: [
            `page ${seconds.toFixed(2)} s from setInputFiles to the digest shown, sha256sum ${baseline.toFixed(2)} s`,
            ...ctx.sizeNote(size(bytes)),
          ],
        },
      };
    } finally {
      await browser.close();
    }
  },
};
