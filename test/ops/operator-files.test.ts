import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ConfigError, ConfigSchema, loadConfig } from "../../services/config";

// The operator files (.env.example, Dockerfile, docker-compose.yml) checked against the code
// they configure: no Docker engine needed, only parsing. ConfigSchema is the source of truth.

const root = join(__dirname, "..", "..");
const read = (file: string) => readFileSync(join(root, file), "utf8");
const configKeys = Object.keys(ConfigSchema.properties);
const PRIVATE_KEY = /0x[0-9a-fA-F]{64}/;

// ---------------------------------------------------------------------------------------------
// Dockerfile (parsed here: the compose checks need its HEALTHCHECK too)

/** Instructions with continuation lines joined and comments dropped. */
const dockerfile: { instruction: string; args: string }[] = read("Dockerfile")
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const [instruction, ...rest] = l.split(/\s+/);
    return { instruction: (instruction as string).toUpperCase(), args: rest.join(" ") };
  });
const args = (instruction: string) =>
  dockerfile.filter((i) => i.instruction === instruction).map((i) => i.args);

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

interface Healthcheck {
  test?: string | string[];
  disable?: boolean;
}
interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  volumes?: (string | { type?: string; source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: Healthcheck;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

// Merge keys (`<<: *tsd`) are part of the compose format.
const compose = parse(read("docker-compose.yml"), { merge: true }) as Compose;
const services = compose.services;
const serviceNames = Object.keys(services);

/** The service's environment as a map; `${VAR:-default}` resolved to its default. */
function environmentOf(s: Service): Record<string, string> {
  const resolve = (v: string) =>
    v.replace(/\$\{[A-Za-z0-9_]+(?::?-([^}]*))?\}/g, (_m, d?: string) => d ?? "");
  const env: Record<string, string> = {};
  if (Array.isArray(s.environment)) {
    for (const item of s.environment) {
      const [key, ...rest] = item.split("=");
      env[key as string] = resolve(rest.join("="));
    }
  } else {
    for (const [key, value] of Object.entries(s.environment ?? {})) env[key] = resolve(String(value ?? ""));
  }
  return env;
}

function dependsOn(s: Service): Record<string, { condition?: string }> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((d) => [d, {}]));
  return s.depends_on ?? {};
}

function mounts(s: Service): { source: string | undefined; target: string }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== "string") return { source: v.source, target: v.target };
    const [source, target] = v.split(":");
    return target === undefined ? { source: undefined, target: source as string } : { source, target };
  });
}

const commandLine = (s: Service) => [s.command ?? []].flat().join(" ");

/** The services built from this repository's Dockerfile. */
const tsdServices = serviceNames.filter((n) => services[n]?.build !== undefined);
const tsdImage = services[tsdServices[0] as string]?.image;

describe("docker-compose.yml", () => {
  test("uses the compose spec (no version key) and has every service", () => {
    expect(Object.keys(compose)).not.toContain("version");
    for (const name of ["postgres", "redis", "chain", "tsd", "api", "workers"]) {
      expect(serviceNames).toContain(name);
    }
    expect(tsdServices.sort()).toEqual(["api", "tsd", "workers"]);
  });

  test("the tsd services share one build and one image", () => {
    const first = services[tsdServices[0] as string] as Service;
    expect(tsdImage).toEqual(expect.any(String));
    for (const name of tsdServices) {
      expect({ name, build: services[name]?.build, image: services[name]?.image }).toEqual({
        name,
        build: first.build,
        image: tsdImage,
      });
    }
    // No other service uses the image without building it.
    for (const name of serviceNames.filter((n) => !tsdServices.includes(n))) {
      expect(services[name]?.image).not.toBe(tsdImage);
    }
  });

  test.each(tsdServices)("%s sets only ConfigSchema variables, and valid ones", (name) => {
    const env = environmentOf(services[name] as Service);
    expect(Object.keys(env).filter((k) => !configKeys.includes(k))).toEqual([]);
    expect(() => loadConfig(env)).not.toThrow();
  });

  test.each(tsdServices)("%s reaches PostgreSQL, Redis and the chain by service name", (name) => {
    const env = environmentOf(services[name] as Service);
    for (const key of ["DATABASE_URL", "REDIS_URL", "CHAIN_RPC_URL"]) {
      expect(env[key]).toBeDefined();
      expect(serviceNames).toContain(new URL(env[key] as string).hostname);
    }
    // Inside a container the API must listen beyond loopback.
    expect(env.HOST).toBe("0.0.0.0");
  });

  test.each(tsdServices)("%s runs an entry point that exists, with DATA_DIR on a volume", (name) => {
    const s = services[name] as Service;
    const entry = commandLine(s).match(/services\/\S+\.ts/)?.[0];
    expect(entry).toBeDefined();
    expect(existsSync(join(root, entry as string))).toBe(true);
    const dataDir = environmentOf(s).DATA_DIR;
    expect(mounts(s).find((m) => m.target === dataDir)?.source).toBe("tsd-data");
  });

  test("every depends_on target exists; a service_healthy target has a health check", () => {
    const dockerfileHasHealthcheck = dockerfile.some(
      (i) => i.instruction === "HEALTHCHECK" && i.args !== "NONE",
    );
    let checked = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(dependsOn(s))) {
        expect({ name, target, exists: serviceNames.includes(target) }).toEqual({
          name,
          target,
          exists: true,
        });
        if (condition !== "service_healthy") continue;
        const t = services[target] as Service;
        const hasCheck = t.healthcheck?.disable
          ? false
          : t.healthcheck?.test !== undefined || (t.build !== undefined && dockerfileHasHealthcheck);
        expect({ name, target, hasCheck }).toEqual({ name, target, hasCheck: true });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  test("exactly one service deploys (services/main.ts); the others wait for it, healthy", () => {
    const deployers = tsdServices.filter((n) =>
      commandLine(services[n] as Service).includes("services/main.ts"),
    );
    expect(deployers).toHaveLength(1);
    const deployer = deployers[0] as string;
    for (const name of tsdServices.filter((n) => n !== deployer)) {
      expect(dependsOn(services[name] as Service)[deployer]?.condition).toBe("service_healthy");
    }
    for (const dep of ["postgres", "redis", "chain"]) {
      expect(dependsOn(services[deployer] as Service)[dep]?.condition).toBe("service_healthy");
    }
  });

  test("named volumes are declared, and every declared volume is used", () => {
    const declared = Object.keys(compose.volumes ?? {});
    const used = new Set(
      Object.values(services)
        .flatMap(mounts)
        .map((m) => m.source)
        .filter((src): src is string => src !== undefined && !/^[./~]/.test(src)),
    );
    expect([...used].sort()).toEqual([...declared].sort());
    expect(declared).toEqual(
      expect.arrayContaining(["postgres-data", "redis-data", "chain-state", "tsd-data"]),
    );
  });

  test("the chain keeps its state on a volume; Redis appends to disk", () => {
    const chain = services.chain as Service;
    const args = [chain.entrypoint ?? [], chain.command ?? []].flat().join(" ");
    expect(args).toContain("anvil");
    const state = args.match(/--state[= ](\S+)/)?.[1];
    expect(state).toBeDefined();
    expect(mounts(chain).some((m) => m.source && (state as string).startsWith(`${m.target}/`))).toBe(true);
    expect(args).toMatch(/--state-interval[= ]1\b/);
    expect(commandLine(services.redis as Service)).toMatch(/--appendonly yes/);
    // the service refuses any other policy at start-up
    expect(commandLine(services.redis as Service)).toMatch(/--maxmemory-policy noeviction/);
  });

  test("the worker's health check asks its metrics port; the grace period covers the shutdown", () => {
    const workers = services.workers as Service & { stop_grace_period?: string };
    const check = ([] as string[]).concat(workers.healthcheck?.test ?? []).join(" ");
    expect(workers.healthcheck?.disable).toBeUndefined();
    expect(check).toContain("WORKER_METRICS_PORT");
    expect(check).toContain("/healthz");
    for (const name of tsdServices) {
      const grace = (services[name] as { stop_grace_period?: string }).stop_grace_period ?? "10s";
      const seconds = Number(/^(\d+)s$/.exec(grace)?.[1]);
      // at least docker's default (the shutdown's own bound), at most a minute
      expect({ name, seconds }).toEqual({ name, seconds: expect.any(Number) });
      expect(seconds).toBeGreaterThanOrEqual(10);
      expect(seconds).toBeLessThanOrEqual(60);
    }
  });

  test("holds no private key; the API gets no key and the extra workers no admin key", () => {
    expect(JSON.stringify(compose)).not.toMatch(PRIVATE_KEY);
    const blanked = (name: string, key: string) => {
      const s = services[name] as Service;
      // Keys only arrive through env_file; an empty variable counts as unset.
      return s.env_file === undefined || environmentOf(s)[key] === "";
    };
    for (const key of ["ADMIN_PRIVATE_KEY", "ANCHORER_PRIVATE_KEY", "CERTIFIER_PRIVATE_KEY"]) {
      expect({ key, blanked: blanked("api", key) }).toEqual({ key, blanked: true });
    }
    expect(blanked("workers", "ADMIN_PRIVATE_KEY")).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// .env.example

interface EnvEntry {
  key: string;
  value: string;
  commented: boolean;
  line: number;
}
const envLines = read(".env.example").split("\n");
const entries: EnvEntry[] = envLines.flatMap((text, line) => {
  const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(text);
  return m ? [{ key: m[2] as string, value: m[3] as string, commented: m[1] !== undefined, line }] : [];
});

describe(".env.example", () => {
  test("lists exactly the ConfigSchema variables, once each, in schema order", () => {
    expect(entries.map((e) => e.key)).toEqual(configKeys);
  });

  test("every variable has a comment line above it", () => {
    for (const e of entries) {
      const above = envLines[e.line - 1] ?? "";
      expect({ key: e.key, above: /^#\s+\S/.test(above) && !/^#\s*[A-Z][A-Z0-9_]*=/.test(above) }).toEqual({
        key: e.key,
        above: true,
      });
    }
  });

  test("the uncommented values pass loadConfig", () => {
    const env = Object.fromEntries(entries.filter((e) => !e.commented).map((e) => [e.key, e.value]));
    expect(Object.keys(env).length).toBeGreaterThan(0);
    expect(() => loadConfig(env)).not.toThrow();
  });

  test("a commented value is the schema's default, or a valid example", () => {
    const props = ConfigSchema.properties as Record<string, { default?: unknown }>;
    for (const e of entries.filter((x) => x.commented && !x.key.endsWith("_PRIVATE_KEY"))) {
      const schemaDefault = props[e.key]?.default;
      if (schemaDefault !== undefined) {
        expect({ key: e.key, value: e.value }).toEqual({ key: e.key, value: String(schemaDefault) });
      }
      expect(() => loadConfig({ [e.key]: e.value })).not.toThrow();
    }
  });

  test("private keys are commented placeholders, never keys", () => {
    const keys = entries.filter((e) => e.key.endsWith("_PRIVATE_KEY"));
    expect(keys.map((e) => e.key).sort()).toEqual(
      configKeys.filter((k) => k.endsWith("_PRIVATE_KEY")).sort(),
    );
    for (const e of keys) {
      expect({ key: e.key, commented: e.commented }).toEqual({ key: e.key, commented: true });
      // refused as a configuration error about this key alone (a placeholder is no key)
      expect(() => loadConfig({ [e.key]: e.value })).toThrow(
        expect.objectContaining({
          constructor: ConfigError,
          problems: [expect.stringMatching(new RegExp(`^${e.key}: `))],
        }),
      );
    }
    expect(read(".env.example")).not.toMatch(PRIVATE_KEY);
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile and .dockerignore

describe("Dockerfile", () => {
  test("builds on node:20-bookworm-slim with npm ci, then compiles the contracts", () => {
    const froms = args("FROM");
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toMatch(/^node:20-bookworm-slim\b/);
    const runs = dockerfile.map((i, n) => ({ ...i, n })).filter((i) => i.instruction === "RUN");
    const ci = runs.find((r) => /\bnpm ci\b/.test(r.args));
    const compile = runs.find((r) => /\bnpm run build:contracts\b/.test(r.args));
    expect(ci).toBeDefined();
    expect(compile).toBeDefined();
    expect((compile as { n: number }).n).toBeGreaterThan((ci as { n: number }).n);
  });

  test("runs as a non-root user", () => {
    const user = args("USER").at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  test("has a HEALTHCHECK on /healthz that needs no curl", () => {
    const [check] = args("HEALTHCHECK");
    expect(check).toMatch(/\/healthz/);
    expect(check).not.toMatch(/\bcurl\b|\bwget\b/);
  });

  test("listens on all interfaces, keeps DATA_DIR on /data, runs the API by default", () => {
    const env = Object.fromEntries(
      args("ENV")
        .flatMap((a) => a.split(/\s+/))
        .map((kv) => kv.split("=") as [string, string]),
    );
    expect(env.HOST).toBe("0.0.0.0");
    expect(env.DATA_DIR).toBe("/data");
    expect(args("VOLUME").join(" ")).toMatch(/"?\/data"?/);
    expect(args("CMD").at(-1)).toMatch(/services\/api\/server\.ts/);
    expect(() =>
      loadConfig(Object.fromEntries(Object.entries(env).filter(([k]) => configKeys.includes(k)))),
    ).not.toThrow();
  });

  test(".dockerignore keeps local state, build output and secrets out of the context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim().replace(/^\/|\/$/g, ""));
    for (const entry of ["node_modules", "data", "artifacts", "cache", "coverage", ".git", ".env"]) {
      expect(ignored).toContain(entry);
    }
  });
});
