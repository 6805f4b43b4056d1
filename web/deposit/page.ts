import { DIGEST_ALG_LABELS, type FileDigestAlg } from "../../services/core";
import { TsdApiError, TsdClient, type DepositStatus } from "../../services/client/api-client";
import type { HashReply, HashRequest } from "../shared/hash-worker";

// The depositor's page, served by the platform at `/`. Files are hashed here, one after
// another in the shared Web Worker (8 MiB slices: a 1 GiB file is never whole in memory); the
// API client sends their digests, never their bytes, to the origin that served the page (its
// CSP allows no other). The API key lives in sessionStorage: this tab only.

/** The hashing worker's bundled source, put here by the build (web/build.ts). */
declare const HASH_WORKER_SOURCE: string;

/** Where the API key is kept: sessionStorage, so a reload keeps it and closing the tab forgets it. */
const KEY_ITEM = "tsd.apiKey";
/** Status polling: every second at first, backing off to every 5 s. */
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 5000;
/** Status requests in flight at once while polling. */
const POLL_CONCURRENCY = 4;
/** Most digests in one deposit request (the API's default BULK_MAX); more wait for the next click. */
const BULK_LIMIT = 10_000;

type RowState = "hashing" | "ready" | DepositStatus | "failed";

/** One chosen file and what became of it. */
interface Row {
  file: File;
  /** As shown: the path inside a chosen folder, else the file's name. */
  path: string;
  state: RowState;
  /** The error code when `state` is failed. */
  failure?: string;
  /** The digest and its algorithm, once hashed. */
  hashed?: { alg: FileDigestAlg; digest: string };
  /** Bytes hashed so far. */
  progress: number;
  /** The deposit's id, once deposited. */
  id?: string;
  /** In the deposit request being sent. */
  sending: boolean;
  view: RowView;
}

interface RowView {
  root: HTMLLIElement;
  name: HTMLElement;
  size: HTMLElement;
  status: HTMLElement;
  zh: HTMLElement;
  bar: HTMLProgressElement;
  percent: HTMLElement;
  alg: HTMLElement;
  digest: HTMLElement;
  note: HTMLElement;
  id: HTMLElement;
  idCode: HTMLElement;
  track: HTMLElement;
  links: HTMLElement;
  remove: HTMLButtonElement;
}

const $ = <T extends HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`)!;
const keyInput = $<HTMLInputElement>("api-key-input");
const algSelect = $<HTMLSelectElement>("alg-select");
const labelInput = $<HTMLInputElement>("label-input");
const depositButton = $<HTMLButtonElement>("deposit-button");

const rows: Row[] = [];
let depositing = false;

// ---- the API key ----

function apiKey(): string {
  return keyInput.value.trim();
}

/** A client for this key; `owner` is what its retry notes and errors are shown for. */
function client(key: string, owner: Owner): TsdClient {
  return new TsdClient({
    baseUrl: location.origin,
    apiKey: key,
    onRetry: (error, attempt) =>
      showMessage(owner, "info", error.code, `第 ${attempt} 次重试…`, `Retrying (${attempt})…`),
  });
}

/** After a 401: the key is forgotten and asked for again. */
function askForKey(): void {
  keyInput.value = "";
  sessionStorage.removeItem(KEY_ITEM);
  keyInput.classList.add("invalid");
  keyInput.focus();
  refresh();
}

keyInput.value = sessionStorage.getItem(KEY_ITEM) ?? "";
keyInput.addEventListener("input", () => {
  keyInput.classList.remove("invalid");
  if (apiKey() === "") sessionStorage.removeItem(KEY_ITEM);
  else sessionStorage.setItem(KEY_ITEM, apiKey());
  refresh();
  if (apiKey() !== "" && waiting().length > 0) startPolling();
});

// ---- hashing, one file after another ----

class Cancelled extends Error {}
class HashingFailed extends Error {}

let worker: Worker | undefined;
let jobs = 0;
/** The file being hashed, and how to abandon it. */
let inFlight: { row: Row; cancel: () => void } | undefined;
let pumping = false;

function hashWorker(): Worker {
  worker ??= new Worker(URL.createObjectURL(new Blob([HASH_WORKER_SOURCE], { type: "text/javascript" })));
  return worker;
}

/** Hashes the row's file in the worker, reporting progress; resolves with the hex digest. */
function hash(row: Row, alg: FileDigestAlg): Promise<string> {
  const id = ++jobs;
  const w = hashWorker();
  return new Promise((resolve, reject) => {
    const done = () => {
      w.removeEventListener("message", listen);
      w.removeEventListener("error", crashed);
      inFlight = undefined;
    };
    // The worker itself failed (it could not start, or ran out of memory): a new one next time.
    const crashed = () => {
      done();
      w.terminate();
      if (worker === w) worker = undefined;
      reject(new HashingFailed());
    };
    const listen = (event: MessageEvent<HashReply>) => {
      const reply = event.data;
      if (reply.id !== id) return;
      if ("progress" in reply) {
        row.progress = reply.progress;
        return renderRow(row);
      }
      done();
      if ("digest" in reply) resolve(reply.digest);
      else reject(new Error(reply.error));
    };
    inFlight = {
      row,
      cancel: () => {
        done();
        reject(new Cancelled());
      },
    };
    w.addEventListener("message", listen);
    w.addEventListener("error", crashed);
    w.postMessage({ id, file: row.file, alg } satisfies HashRequest);
  });
}

/** Abandons the file being hashed: its worker stops mid-file and a new one takes the next. */
function cancelHashing(): void {
  if (!inFlight) return;
  worker?.terminate();
  worker = undefined;
  inFlight.cancel();
}

/** Hashes every row waiting for it, in order, with the algorithm chosen when each starts. */
async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    for (
      let row = rows.find((r) => r.state === "hashing");
      row;
      row = rows.find((r) => r.state === "hashing")
    ) {
      const alg = algSelect.value as FileDigestAlg;
      row.progress = 0;
      renderRow(row);
      try {
        const digest = await hash(row, alg);
        // A changed algorithm hashes the file again (the loop picks it up).
        if (alg !== algSelect.value) continue;
        row.hashed = { alg, digest };
        row.state = "ready";
      } catch (e) {
        if (e instanceof Cancelled) continue;
        row.state = "failed";
        // the worker's own error is the file's (gone, or unreadable); a crash is the browser's
        row.failure = e instanceof HashingFailed ? "HASHING_FAILED" : "FILE_UNREADABLE";
      }
      renderRow(row);
      refresh();
    }
  } finally {
    pumping = false;
  }
}

function addFiles(files: FileList | null): void {
  for (const file of files ?? []) {
    const path = file.webkitRelativePath || file.name;
    const again = rows.some(
      (r) =>
        (r.state === "hashing" || r.state === "ready") &&
        r.path === path &&
        r.file.size === file.size &&
        r.file.lastModified === file.lastModified,
    );
    if (again) continue;
    const row: Row = { file, path, state: "hashing", progress: 0, sending: false, view: rowView() };
    row.view.remove.addEventListener("click", () => removeRow(row));
    rows.push(row);
    $("files").append(row.view.root);
    renderRow(row);
  }
  refresh();
  void pump();
}

function removeRow(row: Row): void {
  if (row.sending || row.id !== undefined) return;
  rows.splice(rows.indexOf(row), 1);
  row.view.root.remove();
  if (inFlight?.row === row) cancelHashing();
  refresh();
}

for (const id of ["file-input", "folder-input"]) {
  const input = $<HTMLInputElement>(id);
  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = ""; // the same file chosen again is a change again
  });
}

algSelect.addEventListener("change", () => {
  for (const row of rows) {
    if (row.state === "ready" && !row.sending && row.hashed?.alg !== algSelect.value) {
      row.state = "hashing";
      row.hashed = undefined;
      renderRow(row);
    }
  }
  cancelHashing();
  refresh();
  void pump();
});

// ---- depositing ----

/** A fresh Idempotency-Key: the client's retries of this click never deposit twice. */
function idempotencyKey(): string {
  // getRandomValues, not randomUUID: the platform may be served over plain HTTP on a LAN.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `deposit-page-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function deposit(): Promise<void> {
  const key = apiKey();
  const batch = rows.filter((r) => r.state === "ready" && r.hashed).slice(0, BULK_LIMIT);
  if (depositing || key === "" || batch.length === 0) return;
  const label = labelInput.value.trim();
  depositing = true;
  for (const row of batch) row.sending = true;
  showMessage(
    "deposit",
    "info",
    "",
    `正在提交 ${batch.length} 个摘要…`,
    `Depositing ${batch.length} digest(s)…`,
  );
  refresh();
  try {
    const accepted = await client(key, "deposit").depositBulk(
      batch.map((r) => ({
        digest: r.hashed!.digest,
        digestAlg: r.hashed!.alg,
        ...(label === "" ? {} : { label }),
      })),
      idempotencyKey(),
    );
    accepted.forEach((d, i) => {
      const row = batch[i]!;
      row.id = d.id;
      row.state = d.status;
      renderRow(row);
    });
    const left = rows.filter((r) => r.state === "ready").length;
    showMessage(
      "deposit",
      "ok",
      "",
      `已提交 ${batch.length} 个摘要，正在等待上链与出证。${left > 0 ? `还有 ${left} 个文件待提交。` : ""}`,
      `${batch.length} digest(s) deposited; waiting for anchoring and certification.${left > 0 ? ` ${left} more file(s) ready to deposit.` : ""}`,
    );
    startPolling();
  } catch (e) {
    showError("deposit", e);
  } finally {
    depositing = false;
    for (const row of batch) row.sending = false;
    refresh();
  }
}

depositButton.addEventListener("click", () => void deposit());

// The rows are the only link between the files and their deposits: leaving asks first.
addEventListener("beforeunload", (event) => {
  if (depositing || waiting().length > 0 || rows.some((r) => r.state === "hashing")) event.preventDefault();
});

// ---- statuses ----

let pollTimer: ReturnType<typeof setTimeout> | undefined;
let pollDelay = POLL_FIRST_MS;
let polling = false;

/** Deposited rows not certified yet. */
function waiting(): Row[] {
  return rows.filter((r) => r.id !== undefined && r.state !== "certified" && r.state !== "failed");
}

function startPolling(): void {
  pollDelay = POLL_FIRST_MS;
  schedulePoll();
}

function schedulePoll(): void {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => void poll(), pollDelay);
}

/** One round of `GET /v1/deposits/:id` for every row still waiting; schedules the next. */
async function poll(): Promise<void> {
  const todo = waiting();
  if (polling || todo.length === 0) return;
  const key = apiKey();
  if (key === "") {
    showMessage(
      "poll",
      "error",
      "",
      "请输入 API 密钥以继续查询存证状态。",
      "Enter the API key to follow the deposits.",
    );
    return askForKey(); // resumes when a key is typed
  }
  polling = true;
  const api = client(key, "poll");
  try {
    let next = 0;
    const one = async (): Promise<void> => {
      for (let row = todo[next++]; row; row = todo[next++]) {
        try {
          const d = await api.status(row.id!);
          if (d.status !== row.state) {
            row.state = d.status;
            renderRow(row);
          }
        } catch (e) {
          // This deposit is not the key's tenant's (or no longer exists): nothing to wait for.
          if (!(e instanceof TsdApiError) || e.status !== 404) throw e;
          row.state = "failed";
          row.failure = e.code;
          renderRow(row);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(POLL_CONCURRENCY, todo.length) }, one));
    if (messageOwner === "poll") clearMessage(); // a retry note or an error this round overcame
  } catch (e) {
    showError("poll", e);
    if (e instanceof TsdApiError && e.status === 401) return; // resumes when a key is typed
  } finally {
    polling = false;
    refresh();
  }
  if (waiting().length === 0) {
    if (rows.some((r) => r.state === "certified"))
      showMessage(
        "poll",
        "ok",
        "",
        "存证已完成：请下载证书并与文件一同保存。",
        "Certified: download the certificates and keep each with its file.",
      );
    return;
  }
  pollDelay = Math.min(POLL_MAX_MS, pollDelay * 1.5);
  schedulePoll();
}

// ---- certificates ----

/** Fetches a row's certificate with the API key and hands it to the browser as a download. */
async function download(row: Row, kind: "json" | "pdf"): Promise<void> {
  const key = apiKey();
  if (key === "" || row.id === undefined) return askForKey();
  try {
    const api = client(key, "download");
    const blob =
      kind === "json"
        ? new Blob([await api.certificate(row.id)], { type: "application/json" })
        : new Blob([(await api.certificatePdf(row.id)) as Uint8Array<ArrayBuffer>], {
            type: "application/pdf",
          });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${row.file.name}.certificate.${kind}`;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    if (messageOwner === "download") clearMessage();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    showError("download", e);
    // 409: the certificate was withdrawn (the chain lost its block): follow the deposit again.
    if (e instanceof TsdApiError && e.status === 409) {
      const now = await client(key, "download")
        .status(row.id)
        .catch(() => undefined);
      if (now && now.status !== row.state) {
        row.state = now.status;
        renderRow(row);
        startPolling();
      }
    }
  }
}

// ---- messages ----

/** What a message is about: a later success of the same kind clears it. */
type Owner = "deposit" | "poll" | "download";

const messageBox = $("message");
let messageOwner: Owner | undefined;

function showMessage(
  owner: Owner,
  kind: "info" | "ok" | "error",
  code: string,
  zh: string,
  en: string,
): void {
  messageOwner = owner;
  messageBox.hidden = false;
  messageBox.dataset.kind = kind;
  messageBox.replaceChildren(
    ...(code === "" ? [] : [el("strong", "code", code)]),
    el("span", "zh", zh),
    el("span", "en", en),
  );
}

function clearMessage(): void {
  messageOwner = undefined;
  messageBox.hidden = true;
  messageBox.dataset.kind = "none";
  messageBox.replaceChildren();
}

/** An API error in both languages, with its code; a refused key is asked for again. */
function showError(owner: Owner, e: unknown): void {
  const error =
    e instanceof TsdApiError ? e : new TsdApiError(0, "NETWORK", e instanceof Error ? e.message : String(e));
  const [zh, en] =
    error.status === 401
      ? ["API 密钥无效或已被吊销，请重新输入。", "The API key was refused: enter it again."]
      : error.status === 0
        ? [
            "无法连接存证服务（已多次重试），请检查网络后再试。",
            `The deposit service could not be reached, after several tries (${error.message}).`,
          ]
        : error.code === "QUOTA_EXCEEDED"
          ? [
              "今日存证配额已用完，将于 UTC 0 点（北京时间 8 点）恢复。",
              "Today's deposit quota is used up; it renews at 00:00 UTC.",
            ]
          : error.status === 429
            ? [
                "请求过于频繁（已多次重试），请稍后再试。",
                "Too many requests, after several tries: try again later.",
              ]
            : error.status >= 500
              ? [
                  "存证服务暂时不可用（已多次重试），请稍后再试。",
                  "The deposit service is unavailable, after several tries: try again later.",
                ]
              : error.code === "CERTIFICATE_WITHDRAWN"
                ? ["该存证的上链区块已丢失，正在重新上链，之后将重新出证。", error.message]
                : ["存证服务拒绝了请求。", `The service refused the request: ${error.message}`];
  showMessage(owner, "error", error.code, zh, en);
  if (error.status === 401) askForKey();
}

// ---- the view ----

const STATE_ZH: Record<RowState, string> = {
  hashing: "计算摘要",
  ready: "待提交",
  pending: "已受理",
  batched: "已组批",
  anchored: "已上链",
  certified: "已出证",
  failed: "失败",
};
/** What a row's failure means, in both languages. */
const FAILURES: Record<string, string> = {
  FILE_UNREADABLE:
    "无法读取该文件（是否已被移动或修改？）请重新选择。 The file could not be read (moved or changed?): choose it again.",
  HASHING_FAILED: "浏览器无法计算该文件的摘要。 The browser could not hash this file.",
  DEPOSIT_NOT_FOUND: "当前 API 密钥下没有这笔存证。 This deposit is not one of the current API key's.",
};
const STEPS: DepositStatus[] = ["pending", "batched", "anchored", "certified"];

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

function rowView(): RowView {
  const root = el("li", "row");
  root.dataset.testid = "file-row";
  const head = el("div", "head");
  const name = el("span", "name");
  name.dataset.testid = "file-name";
  const size = el("span", "size");
  const pill = el("span", "pill");
  const zh = el("span", "word");
  const status = el("span", "status");
  status.dataset.testid = "status";
  pill.append(zh, status);
  const remove = el("button", "remove", "×");
  remove.type = "button";
  remove.title = "移除 Remove";
  head.append(name, size, pill, remove);
  const hashing = el("div", "hashing");
  const bar = el("progress");
  const percent = el("span", "percent");
  hashing.append(bar, percent);
  const line = el("div", "digest mono");
  const alg = el("span", "alg");
  const digest = el("code");
  digest.dataset.testid = "digest";
  line.append(alg, digest);
  const foot = el("div", "foot");
  const track = el("ol", "track");
  for (const step of STEPS) {
    const li = el("li", "", `${STATE_ZH[step]} ${step}`);
    li.dataset.step = step;
    track.append(li);
  }
  const links = el("span", "links");
  const id = el("div", "id", "存证编号 Deposit id ");
  const idCode = el("code");
  idCode.dataset.testid = "deposit-id";
  id.append(idCode);
  foot.append(track, links);
  const note = el("div", "note");
  root.append(head, hashing, line, note, id, foot);
  return { root, name, size, status, zh, bar, percent, alg, digest, note, id, idCode, track, links, remove };
}

function renderRow(row: Row): void {
  const v = row.view;
  v.root.dataset.state = row.state;
  v.name.textContent = row.path;
  v.size.textContent = size(row.file.size);
  v.zh.textContent = STATE_ZH[row.state];
  v.status.textContent = row.state === "failed" ? `failed: ${row.failure ?? "UNKNOWN"}` : row.state;
  v.remove.hidden = row.id !== undefined || row.sending;

  const hashing = row.state === "hashing";
  (v.bar.parentElement as HTMLElement).hidden = !hashing;
  if (hashing) {
    v.bar.max = Math.max(row.file.size, 1);
    v.bar.value = row.progress;
    v.percent.textContent = `${percent(row.progress, row.file.size)} · ${size(row.progress)} / ${size(row.file.size)}`;
  }
  (v.digest.parentElement as HTMLElement).hidden = !row.hashed;
  v.alg.textContent = row.hashed ? DIGEST_ALG_LABELS[row.hashed.alg] : "";
  v.digest.textContent = row.hashed?.digest ?? "";

  v.id.hidden = row.id === undefined;
  v.idCode.textContent = row.id ?? "";
  const note = row.state === "failed" ? FAILURES[row.failure ?? ""] : undefined;
  v.note.hidden = note === undefined;
  v.note.textContent = note ?? "";
  (v.track.parentElement as HTMLElement).hidden = row.id === undefined;
  const reached = STEPS.indexOf(row.state as DepositStatus);
  for (const li of v.track.children) {
    (li as HTMLElement).dataset.done = String(
      STEPS.indexOf((li as HTMLElement).dataset.step as DepositStatus) <= reached,
    );
  }
  if (row.state !== "certified") v.links.replaceChildren();
  else if (v.links.childElementCount === 0) {
    for (const kind of ["json", "pdf"] as const) {
      const a = el("a", "download", `证书 ${kind.toUpperCase()}`);
      a.href = "#";
      a.dataset.testid = `download-${kind}`;
      a.title = `${row.file.name}.certificate.${kind}`;
      a.addEventListener("click", (event) => {
        event.preventDefault();
        void download(row, kind);
      });
      v.links.append(a);
    }
  }
}

/** The button, the summary line and the empty-list note, from the rows. */
function refresh(): void {
  const ready = rows.filter((r) => r.state === "ready").length;
  depositButton.disabled = depositing || ready === 0 || apiKey() === "";
  depositButton.textContent =
    ready > 0 ? `提交存证 Deposit (${Math.min(ready, BULK_LIMIT)})` : "提交存证 Deposit";
  algSelect.disabled = depositing;
  $("empty").hidden = rows.length > 0;
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const parts = [...counts].map(([state, n]) => `${n} ${STATE_ZH[state as RowState]} ${state}`);
  $("summary").textContent = rows.length === 0 ? "" : `${rows.length} 个文件 files · ${parts.join(" · ")}`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let n = bytes / 1024;
  let u = 0;
  for (; n >= 1024 && u < units.length - 1; u++) n /= 1024;
  return `${n.toFixed(1)} ${units[u]}`;
}

const percent = (n: number, of: number) => `${of === 0 ? 100 : Math.floor((100 * n) / of)}%`;

refresh();
