import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import hre from "hardhat";
import solc from "solc";

// The registry is compiled offline by the `solc` npm package's soljson.js, one pinned version
// (hardhat.config.ts). If the package and the config drift apart, compilation must not
// silently fall back to anything else.
const solcPackage = JSON.parse(readFileSync(require.resolve("solc/package.json"), "utf8")) as {
  version: string;
};

test("hardhat.config.ts pins exactly the solc npm package's version", () => {
  expect(hre.config.solidity.compilers.map((c) => c.version)).toEqual([solcPackage.version]);
});

test("the artifacts were built by that solcjs build", () => {
  const dir = join(__dirname, "..", "..", "artifacts", "build-info");
  const infos = readdirSync(dir).map(
    (f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as { solcLongVersion: string },
  );
  expect(infos.length).toBeGreaterThan(0);
  for (const info of infos) expect(info.solcLongVersion).toBe(solc.version());
});
