// One test runner for everything: pure unit tests, the contract suite (Hardhat's in-process
// network) and the service suites (real PostgreSQL, Redis and an anvil node per test file).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: false }],
    // The queue dashboard (@bull-board/fastify) requires content-disposition 3, an ES module:
    // Node 20 loads it (require(esm)), jest's CommonJS runtime needs it compiled.
    "content-disposition/dist/.+\\.js$": ["ts-jest", { tsconfig: { allowJs: true }, diagnostics: false }],
  },
  transformIgnorePatterns: ["/node_modules/(?!.*content-disposition/dist/)"],
  // index.ts only re-exports.
  collectCoverageFrom: ["services/core/**/*.ts", "!services/core/index.ts"],
  coverageThreshold: { "./services/core/": { branches: 100, functions: 100, lines: 100, statements: 100 } },
  coverageReporters: ["text-summary", "text"],
  testTimeout: 60_000,
  // Most suites wait on processes, PostgreSQL and the chain rather than compute: two files at
  // once keep CI well under its 20 minutes on two cores.
  maxWorkers: 2,
  // The fault suite's summary table, printed once at the end of a run that includes it.
  reporters: ["default", "<rootDir>/test/faults/summary-reporter.js"],
};
