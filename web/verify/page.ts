import {
  claimedChainId,
  claimsSet,
  fileDigestAlg,
  verifyEvidence,
  type FileDigestAlg,
  type Verdict,
} from "../../services/core";
import { EthersChainReader, createProvider } from "../../services/chain/reader";
import type { HashReply, HashRequest } from "../shared/hash-worker";

// The court's verify page: one self-contained file that works opened from disk. It reads the
// certificate (and, for a deposit set, the disclosure) and the document from this computer,
// hashes the document in a Web Worker, and reads the chain only from the RPC URL it is given.
// The verdict is the core's, the same code as the CLI's; this file only shows it.

/** The hashing worker's bundled source, put here by the build (web/build.ts). */
declare const HASH_WORKER_SOURCE: string;

const $ = <T extends HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`)!;

interface Loaded {
  name: string;
  value: unknown;
}

const state: {
  certificate?: Loaded;
  disclosure?: Loaded;
  file?: File;
  /** The digest of `file` with an algorithm, once hashed. */
  hashed?: { file: File; alg: FileDigestAlg; digest: string };
  hashing?: { file: File; alg: FileDigestAlg };
} = {};

let generation = 0;
let worker: Worker | undefined;
let jobs = 0;

function hashWorker(): Worker {
  worker ??= new Worker(URL.createObjectURL(new Blob([HASH_WORKER_SOURCE], { type: "text/javascript" })));
  return worker;
}

/** Hashes `file` in the worker, showing progress; resolves with the hex digest. */
function hash(file: File, alg: FileDigestAlg, onProgress: (bytes: number) => void): Promise<string> {
  const id = ++jobs;
  const w = hashWorker();
  return new Promise((resolve, reject) => {
    const listen = (event: MessageEvent<HashReply>) => {
      const reply = event.data;
      if (reply.id !== id) return;
      if ("progress" in reply) return onProgress(reply.progress);
      w.removeEventListener("message", listen);
      if ("digest" in reply) resolve(reply.digest);
      else reject(new Error(reply.error));
    };
    w.addEventListener("message", listen);
    w.postMessage({ id, file, alg } satisfies HashRequest);
  });
}

async function readJson(file: File): Promise<unknown> {
  const text = await file.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // not JSON: the verifier reports it as MALFORMED
  }
}

/** Runs whenever an input changes; a newer run supersedes an older one still waiting. */
async function update(): Promise<void> {
  const run = ++generation;
  if (!state.certificate) {
    show("NONE", `<p class="waiting">请选择证书文件 · Choose the certificate file (certificate.json)</p>`);
    return;
  }
  const certificate = state.certificate.value;
  const disclosure = state.disclosure?.value;
  const alg = fileDigestAlg(certificate, disclosure);
  const progress = $("file-progress");
  let fileDigest: string | undefined;
  let fileNote = "";
  if (state.file && alg === null) {
    fileNote = claimsSet(certificate)
      ? "此证书为文件集合存证：请同时提供该文件的披露文件（disclosure）才能比对文件。 This certificate deposits a set of files: add the file's disclosure to compare it."
      : "无法确定比对文件所需的摘要算法。 The certificate names no file digest algorithm this page knows.";
  } else if (state.file && alg !== null) {
    const file = state.file;
    if (state.hashed?.file === file && state.hashed.alg === alg) fileDigest = state.hashed.digest;
    else {
      state.hashing = { file, alg };
      show(
        "HASHING",
        `<p class="waiting">正在计算文件摘要… Hashing the document (${alg === "sm3" ? "SM3" : "SHA-256"})…</p>`,
      );
      try {
        const digest = await hash(file, alg, (bytes) => {
          progress.hidden = false;
          progress.textContent = `${percent(bytes, file.size)} · ${mib(bytes)} / ${mib(file.size)} MiB`;
        });
        progress.textContent = `${mib(file.size)} MiB`;
        state.hashed = { file, alg, digest };
        $("file-digest").textContent = `${alg === "sm3" ? "SM3" : "SHA-256"}: ${digest}`;
      } catch (e) {
        if (run !== generation) return;
        fileNote = `无法读取文件 · The document could not be read: ${(e as Error).message}`;
      }
      if (run !== generation) return;
      if (state.hashed?.file === file && state.hashed.alg === alg) fileDigest = state.hashed.digest;
    }
  }

  const rpc = $<HTMLInputElement>("rpc-input").value.trim();
  const registry = $<HTMLInputElement>("registry-input").value.trim();
  if (registry !== "" && !/^0x[0-9a-fA-F]{40}$/.test(registry)) {
    show(
      "USAGE",
      `<p class="waiting">受信任的合约地址格式不正确 · The trusted registry must be an address (0x and 40 hex characters).</p>`,
    );
    return;
  }
  $("verdict").dataset.outcome = "CHECKING";
  const provider =
    rpc === "" ? undefined : createProvider(rpc, claimedChainId(certificate) ?? 1, 500, 10_000);
  let verdict: Verdict;
  try {
    verdict = await verifyEvidence({
      certificate,
      ...(disclosure === undefined ? {} : { disclosure }),
      ...(fileDigest === undefined ? {} : { fileDigest }),
      ...(provider ? { chain: new EthersChainReader(provider) } : {}),
      ...(registry === "" ? {} : { registry }),
    });
  } finally {
    provider?.destroy();
  }
  if (run !== generation) return;
  render(verdict, { rpc, fileNote, fileName: state.file?.name });
}

function render(v: Verdict, given: { rpc: string; fileNote: string; fileName: string | undefined }): void {
  const box = $("verdict");
  box.dataset.outcome = v.outcome;
  box.classList.remove("stale");
  const head =
    v.outcome === "VALID"
      ? `<span class="badge valid">有效 VALID</span>`
      : v.outcome === "INVALID"
        ? `<span class="badge invalid">无效 INVALID</span> <code class="code">${v.code}</code>`
        : `<span class="badge partial">仅离线检查 UNANCHORED_CHECK_ONLY</span>`;
  const text = v.statement ?? v.explanation;
  const rows: [string, string][] = [];
  const c = v.certificate;
  if (c) {
    rows.push(["存证人 Depositor", esc(c.deposit.depositor)]);
    if (v.disclosure) rows.push(["文件 File (in the set)", esc(v.disclosure.member.path)]);
    rows.push([
      "摘要 Digest",
      `${v.disclosure ? `${esc(v.disclosure.member.digest)} (${v.disclosure.member.digestAlg})` : `${esc(c.deposit.digest)} (${esc(c.deposit.digestAlg)})`}`,
    ]);
  }
  if (v.times) {
    rows.push(["锚定时间 Anchored (UTC)", esc(v.times.anchored.utc)]);
    rows.push(["北京时间 Asia/Shanghai", esc(v.times.anchored.shanghai)]);
    rows.push(["接收时间 Received", `${esc(v.times.received.utc)} · ${esc(v.times.received.shanghai)}`]);
  }
  if (c) {
    rows.push([
      "链 · 区块 Chain · block",
      `${c.anchor.chainId} · ${c.anchor.blockNumber} (${esc(c.anchor.blockHash)})`,
    ]);
    rows.push(["交易 Transaction", esc(c.anchor.txHash)]);
  }
  const checks: string[] = [
    v.checks.file === "compared"
      ? `✔ 已比对文件 The document${given.fileName ? ` “${esc(given.fileName)}”` : ""} was compared with the deposited digest.`
      : `✘ 未比对文件 No document was compared: this result says nothing about any file.${given.fileNote ? ` ${esc(given.fileNote)}` : ""}`,
    v.checks.registry.pinned
      ? `✔ 合约已锁定 Registry pinned to the trusted ${esc(v.checks.registry.pinned)}.`
      : `✘ 合约未锁定 Registry not pinned: the certificate names ${esc(v.checks.registry.named ?? "—")}; compare it with the platform's published address.`,
    {
      consulted: `✔ 已查询区块链 Chain consulted at ${esc(given.rpc)}.`,
      "not given": "✘ 未查询区块链 Chain not consulted: no RPC URL given.",
      unreachable: `✘ 无法连接区块链节点 Chain not consulted: ${esc(given.rpc)} could not be read (${esc(v.chainError ?? "")}).`,
      "not reached": "✘ 未查询区块链 Chain not consulted: the certificate failed an earlier check.",
    }[v.checks.chain],
  ];
  if (v.checks.certifier) checks.push(`认证方 Certifier: ${esc(v.checks.certifier)}`);
  box.innerHTML = `
    <div class="head">${head}</div>
    <p class="message">${esc(v.message)}</p>
    <p class="zh" lang="zh-CN">${esc(text.zh)}</p>
    <p class="en" lang="en">${esc(text.en)}</p>
    ${v.outcome === "VALID" || rows.length === 0 ? "" : `<p class="claimed" data-testid="claimed">证书所载内容，本次验证未予证实 What the certificate states — not established by this check:</p>`}
    <table>${rows.map(([k, val]) => `<tr><th>${k}</th><td>${val}</td></tr>`).join("")}</table>
    <ul class="checks" data-testid="checks">${checks.map((x) => `<li>${x}</li>`).join("")}</ul>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const mib = (n: number) => (n / (1 << 20)).toFixed(1);
const percent = (n: number, of: number) => `${of === 0 ? 100 : Math.floor((100 * n) / of)}%`;

/** Shows a state of the verdict box other than a verdict. */
function show(outcome: string, html: string): void {
  const box = $("verdict");
  box.dataset.outcome = outcome;
  box.classList.remove("stale");
  box.innerHTML = html;
}

/** Says at once that the verdict shown is no longer current (an input changed), and drops any run still going. */
function markStale(): void {
  generation++;
  const box = $("verdict");
  box.dataset.outcome = "CHECKING";
  box.classList.add("stale");
}

function onFile(id: string, take: (file: File | undefined) => Promise<void> | void): void {
  $<HTMLInputElement>(id).addEventListener("change", async (event) => {
    markStale();
    await take((event.target as HTMLInputElement).files?.[0]);
    void update();
  });
}

onFile("certificate-input", async (file) => {
  state.certificate = file && { name: file.name, value: await readJson(file) };
});
onFile("disclosure-input", async (file) => {
  state.disclosure = file && { name: file.name, value: await readJson(file) };
});
onFile("file-input", (file) => {
  state.file = file;
  $("file-digest").textContent = "";
  $("file-progress").hidden = true;
});
// Typing in a URL or an address: verify once it has rested for a moment.
let typing: ReturnType<typeof setTimeout> | undefined;
for (const id of ["rpc-input", "registry-input"]) {
  $(id).addEventListener("input", () => {
    markStale();
    clearTimeout(typing);
    typing = setTimeout(() => void update(), 300);
  });
}

// Served by a tsd installation, the page is opened as /verify?rpc=…&registry=…
const params = new URLSearchParams(location.search);
$<HTMLInputElement>("rpc-input").value = params.get("rpc") ?? "";
$<HTMLInputElement>("registry-input").value = params.get("registry") ?? "";
void update();
