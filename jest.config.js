// One test runner for everything: pure unit tests, the contract suite (Hardhat's in-process
// network) and the service suites (real PostgreSQL, Redis and an anvil node per test file).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: false }],
  },
  // index.ts only re-exports.
  collectCoverageFrom: ["services/core/**/*.ts", "!services/core/index.ts"],
  coverageThreshold: { "./services/core/": { branches: 100, functions: 100, lines: 100, statements: 100 } },
  coverageReporters: ["text-summary", "text"],
  testTimeout: 60_000,
};
