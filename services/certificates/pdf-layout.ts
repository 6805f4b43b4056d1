import QRCode from "qrcode";
import {
  DIGEST_ALG_LABELS,
  certificateStatement,
  formatTime,
  type Certificate,
  type FormattedTime,
} from "../core";

// The page of the PDF certificate: where each part goes and how it looks. Positions are
// computed here, never left to pdfkit's flow, so the caller learns whether the page held
// everything instead of finding text spilled onto a second page.

const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = 50;
const CONTENT_WIDTH = PAGE.width - 2 * MARGIN;
const LABEL_WIDTH = 112;
const VALUE_X = MARGIN + LABEL_WIDTH + 14;
/** 96 pt is 3.4 cm: above the 3 cm a phone camera needs at arm's length. */
const QR_SIZE = 96;
const FOOTER_TOP = PAGE.height - 52;

/** An ideographic space: the gap Chinese typesetting puts between parts of one line. */
const GAP = "\u3000";

const COLOR = {
  navy: "#1d3557",
  ink: "#1b1b1b",
  muted: "#5f6b7a",
  rule: "#c5cdd8",
  tint: "#f1f4f8",
};

/** Type sizes (pt) and spacing; compact is for the rare long depositor or verify URL. */
interface Density {
  value: number;
  label: number;
  labelEn: number;
  note: number;
  body: number;
  bodyEn: number;
  /** Space above and below a field's text. */
  rowPad: number;
  /** Space between sections. */
  gap: number;
}

/** How densely the page is set. */
export type DensityName = "regular" | "compact" | "tight";

const DENSITY: Readonly<Record<DensityName, Density>> = {
  regular: { value: 8.5, label: 8.5, labelEn: 6.8, note: 7.5, body: 8.5, bodyEn: 8, rowPad: 3.5, gap: 12 },
  compact: { value: 7.5, label: 8, labelEn: 6.5, note: 6.8, body: 7.5, bodyEn: 7, rowPad: 2.5, gap: 8 },
  tight: { value: 6.5, label: 7.5, labelEn: 6, note: 6, body: 6.5, bodyEn: 6.5, rowPad: 1.5, gap: 6 },
};

/** One line of a field's value: an optional muted caption, then the value itself. */
interface ValueLine {
  caption?: string;
  text: string;
}

interface Field {
  zh: string;
  en: string;
  lines: ValueLine[];
}

/** Draws the certificate on the document's page; false when it did not fit on one page. */
export function drawCertificate(
  doc: PDFKit.PDFDocument,
  cert: Certificate,
  verifyUrl: string,
  density: DensityName,
): boolean {
  const d = DENSITY[density];
  let pages = 1;
  doc.on("pageAdded", () => pages++);
  drawFrame(doc);
  let y = drawHeader(doc, 42);
  y = drawFields(doc, d, fieldsOf(cert), y + d.gap - 4);
  y = drawStatement(doc, d, cert, y + d.gap);
  y = drawVerification(doc, d, verifyUrl, y + d.gap);
  drawFooter(doc);
  return y <= FOOTER_TOP - 10 && pages === 1;
}

function fieldsOf(cert: Certificate): Field[] {
  const { deposit, anchor, proof, attestation } = cert;
  const isSet = deposit.digestAlg === "tsd-set/1";
  const issued = formatTime(attestation.typedData.message.issuedAt);
  const fields: Field[] = [
    { zh: "证书编号", en: "Certificate No.", lines: [{ text: deposit.id }] },
    { zh: "存证人", en: "Depositor", lines: [{ text: deposit.depositor }] },
    {
      zh: isSet ? "文件集合根哈希" : "文件摘要",
      en: isSet ? "Root of the file set" : "File digest",
      lines: [
        { text: deposit.digest },
        { caption: "算法 Algorithm", text: DIGEST_ALG_LABELS[deposit.digestAlg] },
      ],
    },
    { zh: "锚定时间", en: "Time anchored", lines: bothZones(formatTime(anchor.blockTimestamp)) },
    { zh: "接收时间", en: "Deposit received", lines: bothZones(formatTime(deposit.receivedAt / 1000)) },
  ];
  if (deposit.prev !== undefined) {
    fields.push({ zh: "取代的存证", en: "Supersedes deposit", lines: [{ text: deposit.prev }] });
  }
  fields.push(
    {
      zh: "登记合约",
      en: "Registry contract",
      lines: [{ text: anchor.registry }, { caption: "链 ID Chain ID", text: String(anchor.chainId) }],
    },
    { zh: "交易哈希", en: "Transaction hash", lines: [{ text: anchor.txHash }] },
    {
      zh: "区块",
      en: "Block",
      lines: [
        { caption: "区块高度 Number", text: String(anchor.blockNumber) },
        { caption: "区块哈希 Hash", text: anchor.blockHash },
      ],
    },
    {
      zh: "批次与默克尔证明",
      en: "Batch and Merkle proof",
      lines: [
        {
          caption: "批次 Batch",
          text: `${anchor.batch}${GAP}叶子序号 leaf index ${proof.leafIndex}${GAP}树大小 tree size ${proof.treeSize}`,
        },
        { caption: "默克尔根 Root", text: anchor.root },
      ],
    },
    {
      zh: "认证方",
      en: "Certifier",
      lines: [
        { text: attestation.signer },
        { caption: "签发时间 Issued", text: `${issued.utc}${GAP}${issued.shanghai}` },
      ],
    },
  );
  return fields;
}

function bothZones(t: FormattedTime): ValueLine[] {
  return [{ text: t.utc }, { text: `${t.shanghai}${GAP}北京时间` }];
}

function drawFrame(doc: PDFKit.PDFDocument): void {
  doc
    .lineWidth(1.6)
    .strokeColor(COLOR.navy)
    .rect(22, 22, PAGE.width - 44, PAGE.height - 44)
    .stroke();
  doc
    .lineWidth(0.5)
    .rect(27, 27, PAGE.width - 54, PAGE.height - 54)
    .stroke();
}

function drawHeader(doc: PDFKit.PDFDocument, top: number): number {
  doc.fillColor(COLOR.muted).fontSize(7);
  doc.text("tsd-certificate/1", MARGIN, top, { width: CONTENT_WIDTH, align: "right", lineBreak: false });
  // One weight of Noto is embedded; stroking the outlines gives the title a heading's weight.
  doc.fillColor(COLOR.navy).strokeColor(COLOR.navy).lineWidth(0.6).fontSize(25);
  doc.text("区块链存证证书", MARGIN, top + 10, {
    width: CONTENT_WIDTH,
    align: "center",
    characterSpacing: 6,
    fill: true,
    stroke: true,
    lineBreak: false,
  });
  // Wider tracking would look grander but makes text extraction read "D E P O S I T".
  doc.fontSize(13).lineWidth(0.25);
  doc.text("DEPOSIT CERTIFICATE", MARGIN, top + 48, {
    width: CONTENT_WIDTH,
    align: "center",
    characterSpacing: 1,
    fill: true,
    stroke: true,
    lineBreak: false,
  });
  const ruleY = top + 72;
  doc
    .lineWidth(1.2)
    .moveTo(MARGIN, ruleY)
    .lineTo(PAGE.width - MARGIN, ruleY)
    .stroke();
  doc
    .lineWidth(0.4)
    .moveTo(MARGIN, ruleY + 3)
    .lineTo(PAGE.width - MARGIN, ruleY + 3)
    .stroke();
  return ruleY + 3;
}

function drawFields(doc: PDFKit.PDFDocument, d: Density, fields: Field[], top: number): number {
  let y = top;
  for (const field of fields) {
    const rowTop = y + d.rowPad;
    doc.fillColor(COLOR.ink).fontSize(d.label);
    doc.text(field.zh, MARGIN, rowTop, { width: LABEL_WIDTH, lineBreak: false });
    doc.fillColor(COLOR.muted).fontSize(d.labelEn);
    doc.text(field.en, MARGIN, rowTop + d.label * 1.35, { width: LABEL_WIDTH, lineBreak: false });
    let valueY = rowTop + 0.5;
    for (const line of field.lines) valueY = drawValueLine(doc, d, line, valueY);
    y = Math.max(rowTop + d.label * 1.35 + d.labelEn * 1.4, valueY) + d.rowPad - 0.5;
    doc
      .lineWidth(0.4)
      .strokeColor(COLOR.rule)
      .moveTo(MARGIN, y)
      .lineTo(PAGE.width - MARGIN, y)
      .stroke();
  }
  return y;
}

/** Draws a caption and a value from `y`; returns the y below it. Long values wrap. */
function drawValueLine(doc: PDFKit.PDFDocument, d: Density, line: ValueLine, y: number): number {
  let x = VALUE_X;
  if (line.caption !== undefined) {
    doc.fillColor(COLOR.muted).fontSize(d.note);
    doc.text(line.caption, x, y + (d.value - d.note) * 0.9, { lineBreak: false });
    x += doc.widthOfString(line.caption) + 6;
  }
  return paragraph(doc, line.text, x, y, d.value, COLOR.ink) + 1.5;
}

function drawStatement(doc: PDFKit.PDFDocument, d: Density, cert: Certificate, top: number): number {
  const statement = certificateStatement(cert);
  const pad = 9;
  const width = CONTENT_WIDTH - 2 * pad;
  doc.fillColor(COLOR.navy).fontSize(d.label + 0.5);
  doc.text("证明事项  Statement", MARGIN, top, { lineBreak: false });
  doc.fillColor(COLOR.muted).fontSize(d.labelEn);
  doc.text(
    "仅在按下述方法验证结果为“有效”时成立  Holds only when verification, as below, finds the certificate VALID",
    MARGIN,
    top + 2.5,
    { width: CONTENT_WIDTH, align: "right", lineBreak: false },
  );
  const boxTop = top + d.label * 1.45 + 3;
  doc.fontSize(d.body);
  const zhHeight = doc.heightOfString(statement.zh, { width, lineGap: 2 });
  doc.fontSize(d.bodyEn);
  const enHeight = doc.heightOfString(statement.en, { width, lineGap: 1.5 });
  const boxHeight = pad + zhHeight + 5 + enHeight + pad - 2;
  doc.rect(MARGIN, boxTop, CONTENT_WIDTH, boxHeight).fill(COLOR.tint);
  doc.rect(MARGIN, boxTop, 2.5, boxHeight).fill(COLOR.navy);
  doc.fillColor(COLOR.ink).fontSize(d.body);
  doc.text(statement.zh, MARGIN + pad, boxTop + pad, { width, lineGap: 2 });
  doc.fontSize(d.bodyEn);
  doc.text(statement.en, MARGIN + pad, boxTop + pad + zhHeight + 5, { width, lineGap: 1.5 });
  return boxTop + boxHeight;
}

function drawVerification(doc: PDFKit.PDFDocument, d: Density, verifyUrl: string, top: number): number {
  doc.fillColor(COLOR.navy).fontSize(d.label + 0.5);
  doc.text("如何验证  How to verify", MARGIN, top, { lineBreak: false });
  const qrTop = top + d.label * 1.45 + 5;
  drawQrCode(doc, verifyUrl, MARGIN, qrTop, QR_SIZE);
  doc.fillColor(COLOR.muted).fontSize(d.labelEn);
  doc.text("扫码验证 Scan to verify", MARGIN, qrTop + QR_SIZE + 3, {
    width: QR_SIZE,
    align: "center",
    lineBreak: false,
  });

  const zh = (text: string) => ({ text, size: d.body, color: COLOR.ink });
  const en = (text: string) => ({ text, size: d.bodyEn, color: COLOR.muted });
  const steps: { text: string; size: number; color: string; link?: string }[][] = [
    [
      zh("保存本 PDF 及存证的原始文件（不作任何修改）。"),
      en("Keep this PDF and the original file, unmodified."),
    ],
    [
      zh("打开验证页面（扫描二维码或访问下列网址），或在命令行运行下列命令："),
      en("Open the verify page (scan the QR code or visit the address below), or run the command below:"),
      { text: verifyUrl, size: d.value, color: COLOR.navy, link: verifyUrl },
      {
        text: "node tsd-verify.cjs verify certificate.json --file <file> --rpc <chain RPC URL>",
        size: d.note,
        color: COLOR.ink,
      },
    ],
    [
      zh("核对证书中的登记合约地址与平台公布的地址一致。"),
      en("Check that the certificate's registry address is the one the platform publishes."),
    ],
  ];
  const numberX = MARGIN + QR_SIZE + 20;
  const x = numberX + 13;
  let y = qrTop - 2;
  steps.forEach((lines, i) => {
    doc.fillColor(COLOR.navy).fontSize(d.body);
    doc.text(`${i + 1}.`, numberX, y, { lineBreak: false });
    for (const line of lines) y = paragraph(doc, line.text, x, y, line.size, line.color, line.link);
    y += 4;
  });
  return Math.max(y - 4, qrTop + QR_SIZE + 3 + d.labelEn * 1.45);
}

/** A paragraph at `size` wrapped at the right margin; returns the y below it. */
function paragraph(
  doc: PDFKit.PDFDocument,
  text: string,
  x: number,
  y: number,
  size: number,
  color: string,
  link?: string,
): number {
  const width = PAGE.width - MARGIN - x;
  doc.fillColor(color).fontSize(size);
  doc.text(text, x, y, { width, lineGap: 1, ...(link !== undefined && { link }) });
  return y + doc.heightOfString(text, { width, lineGap: 1 });
}

/** The QR code as filled rectangles (one per run of dark modules in a row): vector, no image. */
function drawQrCode(doc: PDFKit.PDFDocument, text: string, x: number, y: number, size: number): void {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const module = size / modules.size;
  for (let row = 0; row < modules.size; row++) {
    let col = 0;
    while (col < modules.size) {
      if (!modules.get(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < modules.size && modules.get(row, col)) col++;
      doc.rect(x + start * module, y + row * module, (col - start) * module, module);
    }
  }
  doc.fill(COLOR.ink);
}

function drawFooter(doc: PDFKit.PDFDocument): void {
  doc.lineWidth(0.4).strokeColor(COLOR.rule);
  doc
    .moveTo(MARGIN, FOOTER_TOP - 4)
    .lineTo(PAGE.width - MARGIN, FOOTER_TOP - 4)
    .stroke();
  doc.fillColor(COLOR.muted).fontSize(6.8);
  doc.text(
    "证书的 JSON 原文作为附件 certificate.json 嵌入本 PDF（可在 PDF 阅读器的附件栏取出）。本 PDF 仅为其可读呈现，证据以 JSON 为准。",
    MARGIN,
    FOOTER_TOP,
    { width: CONTENT_WIDTH, align: "center", lineBreak: false },
  );
  doc.text(
    "The certificate JSON is attached to this PDF as certificate.json (see your PDF reader's attachments). This PDF is a rendering; the JSON is the evidence.",
    MARGIN,
    FOOTER_TOP + 10,
    { width: CONTENT_WIDTH, align: "center", lineBreak: false },
  );
}
