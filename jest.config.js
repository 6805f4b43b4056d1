// One test runner for everything: pure unit tests, the contract suite (Hardhat's in-process
// network) and the service suites (real PostgreSQL, Redis and an anvil node per test file).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: false }],
    // Two runtime dependencies ship only as ES modules (content-disposition, behind the /docs
    // page, and cookie, behind Fastify's inject): Node 20 loads them natively, Jest's CommonJS
    // runtime needs them compiled.
    "/node_modules/(content-disposition|cookie)/.+\\.js$": [
      "ts-jest",
      { tsconfig: { allowJs: true, module: "commonjs", esModuleInterop: true }, diagnostics: false },
    ],
  },
  transformIgnorePatterns: ["/node_modules/(?!(content-disposition|cookie)/)"],
  // index.ts only re-exports.
  collectCoverageFrom: ["services/core/**/*.ts", "!services/core/index.ts"],
  coverageThreshold: { "./services/core/": { branches: 100, functions: 100, lines: 100, statements: 100 } },
  coverageReporters: ["text-summary", "text"],
  testTimeout: 60_000,
};
