import { readFileSync } from "node:fs";
import canonicalize from "canonicalize";
import PDFDocument from "pdfkit";
import { type Certificate } from "../core";
import { drawCertificate } from "./pdf-layout";

// The PDF certificate: a bilingual, one-page rendering of the certificate JSON, which rides
// along as the attachment `certificate.json`. The JSON is the evidence; the PDF is what a
// person files and reads. The same certificate always gives the same bytes, so a PDF can be
// re-issued, cached or compared without doubt about which is "the" certificate.

/** What a PDF certificate is made from. */
export interface CertificatePdfInput {
  certificate: Certificate;
  /** Exactly the JSON text the API serves for `certificate`; attached byte for byte. */
  certificateJson: string;
  /** The public verify page for this certificate; printed and encoded in the QR code. */
  verifyUrl: string;
}

const FONT_PATH = "@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf";
let font: Buffer | undefined;

/** Noto Sans SC, read once per process (10 MB; pdfkit embeds only the glyphs used). */
function notoSansSc(): Buffer {
  font ??= readFileSync(require.resolve(FONT_PATH));
  return font;
}

/** Renders the bilingual one-page A4 certificate, deterministically, with the JSON attached. */
export async function renderCertificatePdf(input: CertificatePdfInput): Promise<Buffer> {
  // The page must say what the attached evidence says (compared as JCS, whatever the layout).
  if (canonicalize(JSON.parse(input.certificateJson)) !== canonicalize(input.certificate)) {
    throw new Error("certificateJson is not the JSON of the certificate being rendered");
  }
  // A long depositor or verify URL may need the compact setting; each try is a fresh
  // document, so the choice depends on the input alone and the bytes stay reproducible.
  for (const density of ["regular", "compact", "tight"] as const) {
    const doc = newDocument(input.certificate);
    if (!drawCertificate(doc, input.certificate, input.verifyUrl, density)) continue;
    const done = collect(doc);
    attachCertificate(doc, input);
    doc.end();
    return done;
  }
  throw new Error("the certificate does not fit on one page (depositor or verify URL too long)");
}

function newDocument(certificate: Certificate): PDFKit.PDFDocument {
  // Every date in the file is the certifier's issuedAt, never the clock: pdfkit derives the
  // trailer ID from the info dictionary (an MD5 of CreationDate and every entry), so fixed
  // entries give a fixed ID, and the deposit id in the title keeps IDs apart.
  const issued = issuedAt(certificate);
  return new PDFDocument({
    size: "A4",
    margin: 0,
    pdfVersion: "1.7",
    // Uncompressed (about 85 kB instead of 40 kB): zlib promises to inflate, not to deflate
    // to the same bytes across versions and builds (Node bundles Chromium's, with CPU-specific
    // code paths), and the same certificate must give the same PDF on every server.
    compress: false,
    lang: "zh-CN",
    displayTitle: true,
    info: {
      Title: `区块链存证证书 Deposit Certificate ${certificate.deposit.id}`,
      Subject: `tsd-certificate/1, deposit ${certificate.deposit.id}`,
      Author: "tsd",
      Creator: "tsd",
      Producer: "tsd (PDFKit)",
      CreationDate: issued,
      ModDate: issued,
    },
    // @types/pdfkit 0.17 types the default font as a file name; pdfkit 0.20 takes the font's
    // bytes too. Starting with Noto means no text can ever fall back to Helvetica.
    font: notoSansSc() as unknown as string,
  });
}

function attachCertificate(doc: PDFKit.PDFDocument, input: CertificatePdfInput): void {
  const issued = issuedAt(input.certificate);
  // AFRelationship "Data": the data the page is rendered from (PDF 2.0 / PDF/A-3 usage).
  const options: PDFKit.Mixins.PDFAttachmentOptions & { relationship: string } = {
    name: "certificate.json",
    type: "application/json",
    description: "The deposit certificate (tsd-certificate/1): the evidence this page renders",
    creationDate: issued,
    modifiedDate: issued,
    relationship: "Data",
  };
  doc.file(Buffer.from(input.certificateJson, "utf8"), options);
}

function issuedAt(certificate: Certificate): Date {
  return new Date(certificate.attestation.typedData.message.issuedAt * 1000);
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}
