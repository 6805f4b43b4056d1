import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

// Reads the V8 CPU profiles `npm run bench -- --profile DIR` wrote (a folder per service
// process, a file per thread) and prints where the busy time went: by package or service
// folder, then the functions with the most self time.
// `node --import tsx bench/profile.ts DIR|FILE [--top N]`: every .cpuprofile under DIR. This is
// how docs/performance.md explains a missed target.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Busy time sampled, ms (idle excluded). */
  busyMs: number;
  /** Share of busy time by where the code lives, largest first. */
  byPlace: { place: string; ms: number; share: number }[];
  /** Functions by self time, largest first. */
  byFunction: { fn: string; place: string; ms: number; share: number }[];
}

/** Where a frame's code lives: a package, a folder of this repository, node's own, or V8's. */
export function placeOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  // The innermost package: a dependency's own dependency is named, not its parent.
  const at = url.lastIndexOf("/node_modules/");
  const pkg = at < 0 ? null : /^((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(at + "/node_modules/".length));
  if (pkg) return pkg[1] as string;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (internal) return `node:${internal[1] as string}`;
  const own = /\/(services|web|bench)\/([^/]+)\//.exec(url);
  if (own) return `${own[1] as string}/${own[2] as string}`;
  return "other";
}

/** The busy time of one or more profiles, by place and by function. */
export function summarise(profiles: readonly CpuProfile[], top = 20): ProfileSummary {
  const places = new Map<string, number>();
  const functions = new Map<string, { fn: string; place: string; ms: number }>();
  let busyMs = 0;
  for (const profile of profiles) {
    const hits = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
    if (hits === 0) continue;
    const msPerHit = (profile.endTime - profile.startTime) / 1000 / hits;
    for (const node of profile.nodes) {
      const { callFrame } = node;
      if (!node.hitCount || callFrame.functionName === "(idle)") continue;
      const ms = node.hitCount * msPerHit;
      const place = placeOf(callFrame);
      busyMs += ms;
      places.set(place, (places.get(place) ?? 0) + ms);
      const fn = `${callFrame.functionName || "(anonymous)"} ${callFrame.url.replace(/^.*\/(node_modules|services|web|bench)\//, "$1/")}:${callFrame.lineNumber + 1}`;
      const entry = functions.get(fn) ?? { fn, place, ms: 0 };
      entry.ms += ms;
      functions.set(fn, entry);
    }
  }
  const share = (ms: number) => (busyMs === 0 ? 0 : ms / busyMs);
  return {
    busyMs,
    byPlace: [...places].map(([place, ms]) => ({ place, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms),
    byFunction: [...functions.values()]
      .map((f) => ({ ...f, share: share(f.ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

function render(name: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `## ${name}: ${(s.busyMs / 1000).toFixed(2)} s busy`,
    "",
    "| where | share |",
    "|---|---:|",
    ...s.byPlace.filter((p) => p.share >= 0.01).map((p) => `| ${p.place} | ${pct(p.share)} |`),
    "",
    "| function (self time) | where | share |",
    "|---|---|---:|",
    ...s.byFunction.map((f) => `| \`${f.fn}\` | ${f.place} | ${pct(f.share)} |`),
    "",
  ].join("\n");
}

function main(): void {
  const args = process.argv.slice(2);
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 20;
  const target = args[0];
  if (!target) throw new Error("usage: bench/profile.ts DIR|FILE.cpuprofile [--top N]");
  const files = statSync(target).isDirectory()
    ? readdirSync(target, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".cpuprofile"))
        .sort()
        .map((f) => join(target, f))
    : [target];
  if (files.length === 0) throw new Error(`no .cpuprofile in ${target}`);
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    process.stdout.write(`${render(file, summarise([profile], top))}\n`);
  }
}

if (require.main === module) main();
