#!/usr/bin/env node
// The `tsd` command in a checkout (`npx tsd ...`): runs the TypeScript CLI through tsx, so
// there is no build step to forget.
require("tsx/cjs/api").register();
require("../services/cli/main.ts");
