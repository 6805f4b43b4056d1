import { requireArgument } from "./errors";
import type { Certificate } from "./certificate";
import type { DigestAlg } from "./record";
import type { Disclosure } from "./set";
import type { Outcome, ReasonCode } from "./verify";

// What a person reads: times, the statement a VALID certificate supports and the meaning of
// each verification outcome, in English and Simplified Chinese. The same text serves the PDF
// certificate, the CLI and the web verify page, so it lives in the core and uses no Node API.

/** A text in the two languages of a certificate. */
export interface Bilingual {
  en: string;
  zh: string;
}

/** A moment in the two time zones a certificate shows. */
export interface FormattedTime {
  /** e.g. `2025-11-24 16:01:00 UTC` */
  utc: string;
  /** e.g. `2025-11-25 00:01:00 (UTC+8, Asia/Shanghai)` */
  shanghai: string;
}

/** Everything a verifier can conclude: an outcome other than INVALID, or INVALID's reason. */
export type Finding = Exclude<Outcome, "INVALID"> | ReasonCode;

// Asia/Shanghai has kept UTC+8 without daylight saving since 1991. Adding the offset by
// arithmetic keeps the output independent of the ICU time-zone data of the machine.
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;
/** 9999-12-31 23:59:59 in Shanghai: the last second whose year has four digits in both zones. */
const MAX_SECONDS = 253_402_300_799 - 8 * 3600;

/**
 * A Unix time in UTC and in Asia/Shanghai (UTC+8). Fractional seconds (a receivedAt in ms,
 * divided by 1000) show as milliseconds; whole seconds show without a fraction.
 */
export function formatTime(unixSeconds: number): FormattedTime {
  requireArgument(isFormattableTime(unixSeconds), "time must be seconds since the epoch, at most year 9999");
  const ms = Math.round(unixSeconds * 1000);
  return {
    utc: `${dateTime(ms)} UTC`,
    shanghai: `${dateTime(ms + SHANGHAI_OFFSET_MS)} (UTC+8, Asia/Shanghai)`,
  };
}

/**
 * True for a time formatTime can show: seconds since the epoch up to the end of year 9999. A
 * certificate may state any safe integer; one beyond that is shown without a date.
 */
export function isFormattableTime(unixSeconds: number): boolean {
  return Number.isFinite(unixSeconds) && unixSeconds >= 0 && unixSeconds <= MAX_SECONDS;
}

/** `YYYY-MM-DD hh:mm:ss[.mmm]` of a UTC epoch time in ms. */
function dateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, width = 2) => String(n).padStart(width, "0");
  const fraction = ms % 1000 === 0 ? "" : `.${p(ms % 1000, 3)}`;
  return (
    `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${fraction}`
  );
}

/** How a digest algorithm is named to a person. */
export const DIGEST_ALG_LABELS: Readonly<Record<DigestAlg, string>> = {
  sha256: "SHA-256",
  sm3: "SM3",
  "tsd-set/1": "tsd-set/1",
};

/**
 * The plain-language statement a VALID certificate supports (protocol.md sections 9 and 10). Only
 * a verifier's VALID outcome makes it true; the text itself proves nothing.
 */
export function certificateStatement(cert: Certificate): Bilingual {
  const { deposit, anchor } = cert;
  const time = formatTime(anchor.blockTimestamp);
  const beijing = time.shanghai.slice(0, time.shanghai.indexOf(" ("));
  const alg = DIGEST_ALG_LABELS[deposit.digestAlg];
  const where = { block: anchor.blockNumber, chain: anchor.chainId, registry: anchor.registry };
  const isSet = deposit.digestAlg === "tsd-set/1";
  const subjectEn = isSet
    ? `A set of files with root ${deposit.digest} (${alg})`
    : `The file with ${alg} digest ${deposit.digest}`;
  const subjectZh = isSet
    ? `根哈希为 ${deposit.digest}（${alg}）的文件集合`
    : `摘要为 ${deposit.digest}（${alg}）的文件`;
  return {
    en:
      `${subjectEn} was deposited by ${deposit.depositor} no later than ${time.utc} ` +
      `(${beijing} Beijing time, UTC+8), block ${where.block} on chain ${where.chain}, ` +
      `registry ${where.registry}.`,
    zh:
      `${subjectZh}由 ${deposit.depositor} 存证，存证时间不晚于 ${time.utc}（北京时间 ${beijing}），` +
      `区块 ${where.block}，链 ${where.chain}，合约 ${where.registry}。`,
  };
}

/**
 * The statement a VALID disclosure supports: one file of a deposited set (protocol.md section 10).
 * Like the disclosure itself, it says nothing of the set's other members or its size.
 */
export function memberStatement(disclosure: Disclosure, cert: Certificate): Bilingual {
  const { path, digest, digestAlg } = disclosure.member;
  const { deposit, anchor } = cert;
  const time = formatTime(anchor.blockTimestamp);
  const beijing = time.shanghai.slice(0, time.shanghai.indexOf(" ("));
  const alg = DIGEST_ALG_LABELS[digestAlg];
  return {
    en:
      `The file ${path} (${alg} digest ${digest}) belonged to the set of files deposited by ` +
      `${deposit.depositor} no later than ${time.utc} (${beijing} Beijing time, UTC+8), ` +
      `block ${anchor.blockNumber} on chain ${anchor.chainId}, registry ${anchor.registry}.`,
    zh:
      `文件 ${path}（${alg} 摘要 ${digest}）属于由 ${deposit.depositor} 存证的文件集合，` +
      `存证时间不晚于 ${time.utc}（北京时间 ${beijing}），区块 ${anchor.blockNumber}，` +
      `链 ${anchor.chainId}，合约 ${anchor.registry}。`,
  };
}

// A Record over Finding: a new outcome or reason code does not compile until it has text.
const FINDINGS: Readonly<Record<Finding, Bilingual>> = {
  VALID: {
    en:
      "Valid. Every check passed, the blockchain included: the deposit existed no later than the " +
      "anchoring time shown. If a file was compared, it is the deposited file.",
    zh: "有效。包括区块链在内的全部检查均已通过：该存证不晚于所示锚定时间即已存在。如已比对文件，该文件即为存证的文件。",
  },
  UNANCHORED_CHECK_ONLY: {
    en:
      "Checked offline only. The certificate is intact and properly signed, but the blockchain was " +
      "not consulted, so its time is not yet proven. Verify again with a node (RPC URL) of the " +
      "certificate's chain.",
    zh: "仅完成离线检查。证书完整且签名正确，但未查询区块链，存证时间尚未得到证明。请使用证书所载链的节点（RPC 地址）重新验证。",
  },
  MALFORMED: {
    en:
      "Invalid: this is not a well-formed tsd certificate (unknown format, or a missing, extra or " +
      "ill-formed field). Check that the complete, unmodified certificate.json was provided.",
    zh: "无效：该文件不是格式正确的存证证书（格式未知，或有字段缺失、多余或格式错误）。请确认提供的是完整且未经修改的 certificate.json。",
  },
  DIGEST_MISMATCH: {
    en:
      "Not this file: the file's digest differs from the deposited digest, so it is not the deposited " +
      "file (changing a single byte changes the digest). Check that the original, unmodified file was used.",
    zh: "文件不符：该文件的摘要与存证的摘要不一致，因此不是所存证的文件（哪怕改动一个字节，摘要也会改变）。请确认使用的是未经修改的原始文件。",
  },
  PROOF_INVALID: {
    en:
      "Invalid: the inclusion proof does not lead from the deposit record to the anchored root, so the " +
      "certificate was altered or damaged. Obtain the original certificate again.",
    zh: "无效：包含证明无法从存证记录推导出上链的根哈希，证书已被篡改或损坏。请重新获取原始证书。",
  },
  SIGNATURE_INVALID: {
    en:
      "Invalid: the certifier's signature does not match the certificate's anchor data, so the " +
      "certificate was altered or not signed by the named certifier. Obtain the original certificate again.",
    zh: "无效：认证方的签名与证书中的锚定数据不符，证书已被篡改或并非由所列认证方签署。请重新获取原始证书。",
  },
  CHAIN_MISMATCH: {
    en:
      "Not confirmed: the blockchain node used serves a different chain from the one the certificate " +
      "names. Verify again with a node of the certificate's chain.",
    zh: "未能确认：所用的区块链节点属于另一条链，与证书所载的链不同。请使用证书所载链的节点重新验证。",
  },
  NOT_ANCHORED: {
    en:
      "Invalid: the registry holds no matching anchor, or the certificate names a registry other than " +
      "the one trusted. Its time is not proven; compare the registry address with the platform's published one.",
    zh: "无效：登记合约中没有相符的锚定记录，或证书所载合约并非受信任的合约，证书中的时间未得到证明。请将合约地址与平台公布的地址核对。",
  },
  ANCHOR_MISMATCH: {
    en:
      "Invalid: the block on the chain differs from the certificate's anchor block (hash or time), or " +
      "the deposit was received later than that block's time. The stated time is not proven; obtain the " +
      "original certificate again.",
    zh: "无效：链上区块与证书所载的锚定区块不符（哈希或时间不同），或存证的接收时间晚于该区块时间，证书所载时间未得到证明。请重新获取原始证书。",
  },
  SIGNER_NOT_AUTHORISED: {
    en:
      "Invalid: the key that signed the certificate was not an active certifier of the registry when " +
      "it signed. Check the registry's on-chain record of certifier keys, or ask the platform.",
    zh: "无效：签署证书的密钥在签署时并非该登记合约的有效认证密钥。请查阅合约上的认证密钥记录，或向平台核实。",
  },
};

/** What a verification finding means and what to do, for a person without technical training. */
export function reasonText(code: Finding): Bilingual {
  return { ...FINDINGS[code] };
}
