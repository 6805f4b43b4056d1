import { randomUUID } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { lstat } from "node:fs/promises";
import {
  buildManifest,
  memberPathProblem,
  parseCertificate,
  parseManifest,
  serializeCertificate,
  type Certificate,
  type FileDigestAlg,
  type SetManifest,
} from "../core";
import type { TsdClient } from "../client/api-client";
import { findFiles, hashFiles, progressBar, type Hashed, type Skipped } from "./files";

// `tsd deposit`: hash locally, deposit in bulk, optionally wait for the certificates and keep
// them. With --out, a journal (DIR/.tsd-journal.jsonl, append-only, synced) records each bulk
// request — its Idempotency-Key and exact items — before it is sent, and its deposits after:
// an interrupted run started again with the same --out re-sends only what was not answered,
// with the same keys, so the server returns the same deposits and nothing is deposited twice.

export interface DepositOptions {
  alg: FileDigestAlg;
  label?: string;
  asSet?: boolean;
  wait?: boolean;
  out?: string;
  pdf?: boolean;
  json?: boolean;
  /** Items per bulk request (the API's BULK_MAX is 10,000). */
  bulkSize: number;
  /** How long --wait waits for certification, seconds. */
  timeoutS: number;
  progress: boolean;
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Exit codes of `tsd deposit`. */
export const DEPOSIT_EXIT = { OK: 0, SOME_FILES_FAILED: 1, USAGE: 3, TIMED_OUT: 4 } as const;

/** One deposit as the journal plans it. `name` names its output files; `digest` is what is deposited. */
interface PlannedItem {
  name: string;
  digest: string;
  digestAlg: string;
}

type JournalEvent =
  | { type: "cursor"; cursor: string }
  | { type: "manifest"; name: string; root: string }
  | { type: "planned"; key: string; items: PlannedItem[] }
  | { type: "accepted"; key: string; ids: string[] }
  | { type: "saved"; id: string };

/** The journal in DIR: the events so far, and a way to add one durably. */
class Journal {
  readonly events: JournalEvent[] = [];
  private readonly file: string | undefined;

  constructor(dir: string | undefined) {
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, ".tsd-journal.jsonl");
    if (!existsSync(this.file)) return;
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      // A line cut short by a crash is the only kind that fails to parse; it was never acted on.
      if (line.trim() === "") continue;
      try {
        this.events.push(JSON.parse(line) as JournalEvent);
      } catch {
        break;
      }
    }
  }

  add(event: JournalEvent): void {
    this.events.push(event);
    if (this.file === undefined) return;
    appendFileSync(this.file, `${JSON.stringify(event)}\n`);
    const fd = openSync(this.file, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  of<T extends JournalEvent["type"]>(type: T): Extract<JournalEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<JournalEvent, { type: T }> => e.type === type);
  }
}

export async function depositCommand(
  paths: string[],
  o: DepositOptions,
  client: TsdClient,
  io: Io,
): Promise<number> {
  if (o.asSet) {
    const stat = paths.length === 1 ? await lstat(paths[0] as string).catch(() => undefined) : undefined;
    if (!stat?.isDirectory()) {
      io.err("--as-set deposits one folder: give exactly one folder");
      return DEPOSIT_EXIT.USAGE;
    }
    if (o.out === undefined) {
      io.err(
        "--as-set needs --out DIR: the set's manifest (kept secret, needed for every disclosure) is written there",
      );
      return DEPOSIT_EXIT.USAGE;
    }
  }
  if (o.pdf && (!o.wait || o.out === undefined)) {
    io.err("--pdf needs --wait and --out DIR (the PDF is made once the deposit is certified)");
    return DEPOSIT_EXIT.USAGE;
  }
  const journal = new Journal(o.out);

  // 1. what there is to deposit, hashed here
  const { files, skipped } = await findFiles(paths);
  for (const s of skipped) io.err(`${s.error ? "error" : "skipped"}: ${s.display} (${s.reason})`);
  const totalBytes = files.reduce((n, f) => n + f.bytes, 0);
  const { hashed, failed } = await hashFiles(
    files,
    o.alg,
    progressBar("hashing", totalBytes, files.length, o.progress),
  );
  for (const f of failed) io.err(`error: ${f.display} (${f.reason})`);
  const problems: Skipped[] = [...skipped.filter((s) => s.error), ...failed];

  // 2. the items: one per file, or one for the whole folder as a set
  let items: PlannedItem[];
  let manifest: SetManifest | undefined;
  if (o.asSet) {
    const folder = files[0]?.name.split("/")[0] ?? "set";
    const made = setItem(hashed, folder, o, journal, io);
    if (!made) return DEPOSIT_EXIT.USAGE;
    ({ manifest } = made);
    items = [made.item];
  } else {
    const names = new Set<string>();
    for (const h of hashed) {
      if (names.has(h.name)) {
        io.err(`two files would be kept as ${h.name}: deposit them in separate runs or rename one`);
        return DEPOSIT_EXIT.USAGE;
      }
      names.add(h.name);
    }
    items = hashed.map((h) => ({ name: h.name, digest: h.digest, digestAlg: h.alg }));
  }

  // 3. where the certificates feed starts for this run (before any deposit of it)
  if (o.wait && journal.of("cursor").length === 0) {
    journal.add({ type: "cursor", cursor: await feedHead(client) });
  }

  // 4. deposit: first what an interrupted run planned but never saw answered, as planned
  const answered = new Map(journal.of("accepted").map((a) => [a.key, a.ids]));
  const known = new Set<string>();
  for (const plan of journal.of("planned")) for (const item of plan.items) known.add(itemKey(item));
  const fresh = items.filter((item) => !known.has(itemKey(item)));
  for (let i = 0; i < fresh.length; i += o.bulkSize) {
    journal.add({ type: "planned", key: randomUUID(), items: fresh.slice(i, i + o.bulkSize) });
  }
  for (const plan of journal.of("planned")) {
    if (answered.has(plan.key)) continue;
    const deposits = await client.depositBulk(
      plan.items.map((item) => ({
        digest: item.digest,
        digestAlg: item.digestAlg,
        ...(o.label ? { label: o.label } : {}),
      })),
      plan.key,
    );
    const ids = deposits.map((d) => d.id);
    journal.add({ type: "accepted", key: plan.key, ids });
    answered.set(plan.key, ids);
  }
  // Every deposit of this --out (an earlier run's too), by id.
  const byId = new Map<string, PlannedItem>();
  for (const plan of journal.of("planned")) {
    (answered.get(plan.key) ?? []).forEach((id, i) => byId.set(id, plan.items[i] as PlannedItem));
  }
  const idOf = new Map([...byId].map(([id, item]) => [itemKey(item), id]));
  const mine = items.map((item) => idOf.get(itemKey(item)));
  io.err(
    `deposited ${items.length} ${o.asSet ? "set" : items.length === 1 ? "file" : "files"}` +
      (skipped.length + failed.length > 0
        ? ` (${skipped.length + failed.length} not deposited, see above)`
        : ""),
  );

  // 5. wait for the certificates, keep them
  let certified = new Map<string, Certificate>();
  let timedOut = false;
  if (o.wait) {
    const cursor = (journal.of("cursor")[0] as { cursor: string }).cursor;
    ({ certified, timedOut } = await waitForCertificates(client, cursor, new Set(byId.keys()), o, io));
    if (o.out !== undefined) {
      const saved = new Set(journal.of("saved").map((s) => s.id));
      for (const [id, certificate] of certified) {
        const item = byId.get(id) as PlannedItem;
        const base = join(o.out, item.name);
        mkdirSync(dirname(base), { recursive: true });
        writeFileSync(`${base}.certificate.json`, serializeCertificate(certificate));
        if (o.pdf && !saved.has(id))
          writeFileSync(`${base}.certificate.pdf`, await client.certificatePdf(id));
        if (!saved.has(id)) journal.add({ type: "saved", id });
      }
    }
  }

  if (o.json) {
    io.out(
      JSON.stringify(
        items.map((item, i) => ({
          name: item.name,
          digest: item.digest,
          digestAlg: item.digestAlg,
          id: mine[i] ?? null,
          certified: mine[i] !== undefined && certified.has(mine[i]),
        })),
        null,
        2,
      ),
    );
  } else {
    items.forEach((item, i) => io.out(`${mine[i] ?? "-"}  ${item.digest}  ${item.name}`));
  }
  if (manifest)
    io.err(
      `manifest (keep it secret; it discloses single files): ${join(o.out as string, `${items[0]!.name}.manifest.json`)}`,
    );
  if (timedOut) return DEPOSIT_EXIT.TIMED_OUT;
  return problems.length > 0 ? DEPOSIT_EXIT.SOME_FILES_FAILED : DEPOSIT_EXIT.OK;
}

/** A journal entry's identity: the same file content deposited under the same name. */
function itemKey(item: PlannedItem): string {
  return `${item.name}\u0000${item.digestAlg}\u0000${item.digest}`;
}

/**
 * The set deposit of a folder: its manifest (fresh salts), written to --out before anything is
 * sent; an interrupted run's manifest is reused when the folder is unchanged, so the root
 * deposited is the root of the manifest kept.
 */
function setItem(
  hashed: Hashed[],
  folder: string,
  o: DepositOptions,
  journal: Journal,
  io: Io,
): { item: PlannedItem; manifest: SetManifest } | undefined {
  if (hashed.length === 0) {
    io.err("the folder has no file to deposit");
    return undefined;
  }
  for (const h of hashed) {
    const problem = memberPathProblem(h.relative);
    if (problem !== null) {
      io.err(`${h.display}: this path cannot be a member of a set (${problem})`);
      return undefined;
    }
  }
  const file = join(o.out as string, `${folder}.manifest.json`);
  const members = hashed.map((h) => ({
    path: h.relative,
    digestAlg: h.alg,
    digest: h.digest,
    bytes: h.bytes,
  }));
  const planned = journal.of("manifest").find((m) => m.name === folder);
  let manifest: SetManifest;
  if (planned && existsSync(file)) {
    manifest = parseManifest(JSON.parse(readFileSync(file, "utf8")));
    const same = (m: { path: string; digestAlg: string; digest: string; bytes: number }) =>
      `${m.path}\u0000${m.digestAlg}\u0000${m.digest}\u0000${m.bytes}`;
    const before = new Set(manifest.members.map(same));
    if (manifest.members.length !== members.length || !members.every((m) => before.has(same(m)))) {
      io.err(`${folder} changed since the interrupted run that wrote ${file}: deposit it with another --out`);
      return undefined;
    }
  } else {
    try {
      manifest = buildManifest(members);
    } catch (e) {
      io.err(`${folder}: ${(e as Error).message}`);
      return undefined;
    }
    mkdirSync(o.out as string, { recursive: true });
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    journal.add({ type: "manifest", name: folder, root: manifest.root });
  }
  return { item: { name: folder, digest: manifest.root, digestAlg: "tsd-set/1" }, manifest };
}

/** The feed's cursor as of now: certificates issued after it are this run's or later. */
async function feedHead(client: TsdClient): Promise<string> {
  const res = await client.request("GET", "/v1/certificates?since=now");
  const cursor = res.headers.get("x-next-cursor");
  if (cursor === null) throw new Error("the API gave no certificates cursor");
  return cursor;
}

/** Polls the certificates feed until every id is certified or the timeout passes. */
async function waitForCertificates(
  client: TsdClient,
  since: string,
  ids: Set<string>,
  o: DepositOptions,
  io: Io,
): Promise<{ certified: Map<string, Certificate>; timedOut: boolean }> {
  const certified = new Map<string, Certificate>();
  const bar = progressBar("certified", ids.size, ids.size, o.progress, "deposits");
  const deadline = Date.now() + o.timeoutS * 1000;
  let cursor = since;
  let pause = 500;
  while (certified.size < ids.size) {
    const res = await client.request(
      "GET",
      `/v1/certificates?since=${encodeURIComponent(cursor)}&limit=10000`,
    );
    const lines = (await res.text()).split("\n").filter((l) => l !== "");
    for (const line of lines) {
      const certificate = parseCertificate(JSON.parse(line));
      if (!ids.has(certificate.deposit.id)) continue;
      // A batch certified again (its first anchor block was lost) comes again: the newer wins.
      if (!certified.has(certificate.deposit.id)) bar.advance(1);
      certified.set(certificate.deposit.id, certificate);
    }
    cursor = res.headers.get("x-next-cursor") ?? cursor;
    if (lines.length === 10_000 || certified.size === ids.size) continue;
    if (Date.now() > deadline) {
      bar.stop();
      io.err(
        `timed out: ${ids.size - certified.size} of ${ids.size} deposits are not certified yet (run again with the same --out to go on waiting)`,
      );
      return { certified, timedOut: true };
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 1.5, 5000);
  }
  bar.stop();
  return { certified, timedOut: false };
}
