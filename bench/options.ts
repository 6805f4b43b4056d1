// The command line of `npm run bench`: `--quick` for smaller sizes, `--only <substring>`
// (repeatable) to run the rows whose names contain it, `--profile DIR` to write a V8 CPU
// profile of every service process the rows start (read with bench/profile.ts).

export interface BenchOptions {
  quick: boolean;
  /** Substrings of row names to run; empty: every row. */
  only: string[];
  /** Where the service processes write their CPU profiles; none when absent. */
  profile?: string;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { quick: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--only") {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--"))
        throw new Error("--only needs a substring of a row name");
      options.only.push(value.toLowerCase());
    } else if (arg.startsWith("--only=")) options.only.push(arg.slice("--only=".length).toLowerCase());
    else if (arg === "--profile") {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new Error("--profile needs a folder");
      options.profile = value;
    } else
      throw new Error(`unknown option ${arg} (expected --quick, --only <substring>, --profile <folder>)`);
  }
  return options;
}

/** Whether a module producing rows named `names` is to run. */
export function selected(options: BenchOptions, names: readonly string[]): boolean {
  if (options.only.length === 0) return true;
  return names.some((name) => options.only.some((o) => name.toLowerCase().includes(o)));
}
