// @ts-check
const js = require("@eslint/js");
const tseslint = require("typescript-eslint");

module.exports = tseslint.config(
  { ignores: ["node_modules/", "artifacts/", "cache/", "coverage/", "data/", "dist/", "test-artifacts/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-restricted-syntax": [
        "error",
        { selector: "ExportAllDeclaration", message: "Explicit exports only: no `export *` barrels." },
      ],
    },
  },
  {
    // The protocol core is pure: nothing from the service's I/O layers.
    files: ["services/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["../*", "!../core"], message: "services/core imports nothing outside the core." },
            {
              group: [
                "pg",
                "ioredis",
                "bullmq",
                "fastify",
                "pino",
                "node:fs",
                "node:fs/*",
                "node:net",
                "node:http",
                "node:https",
                "node:child_process",
              ],
              message: "services/core does no I/O (node:crypto is its one platform module, in hashing.ts).",
            },
          ],
        },
      ],
    },
  },
  {
    // Configuration is read once, in services/config; nothing else reads process.env.
    files: ["services/**/*.ts"],
    ignores: ["services/config/**"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read config from services/config." },
      ],
    },
  },
  {
    // Tests tamper with parsed JSON on purpose.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: {
        require: "readonly",
        module: "writable",
        __dirname: "readonly",
        process: "readonly",
        console: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
