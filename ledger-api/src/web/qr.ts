/**
 * QR codes for batch labels: the symbol carries a batch's GS1 Digital Link URI (digital-link.ts), so any phone
 * camera opens the shopper page and a GS1-aware scanner reads the same GTIN and lot.
 *
 * Print choices, applied to every symbol this file makes:
 * - Error correction level Q (restores about 25% of the codewords) by default, not M (15%). GS1 encoders default
 *   to M, which suits clean retail packaging; produce labels get wet, scuffed, folded round crates and printed on
 *   cheap thermal stock, and a label that stops scanning breaks the provenance chain for everyone downstream. The
 *   price is a symbol one or two versions larger (a 57-character batch URI: version 4, 33 modules + quiet zone at M;
 *   version 5, 37 + quiet zone at Q), which a label affords.
 * - A quiet zone of 4 modules on every side, the minimum ISO/IEC 18004 requires for QR Code; larger is allowed.
 * - PNG at 8 pixels per module by default (a 0.68 mm module when printed at 300 dpi) and always an integer scale,
 *   so every module edge falls on a pixel edge: no blurred, half-grey modules for a scanner to guess at.
 * - SVG with a viewBox in module units and crispEdges rendering, so it scales to any printed size without resampling.
 *
 * The text is encoded exactly as given: the caller passes the canonical URI from formatDigitalLink.
 */
import QRCode from "qrcode";
import { Gs1Error } from "../gs1/keys.ts";
import { escapeHtml } from "./html.ts";
import { HTML_LANG, MESSAGES, type Lang } from "./i18n.ts";
import { elementString, parseDigitalLink } from "../gs1/digital-link.ts";

export type ErrorCorrection = "L" | "M" | "Q" | "H";

export interface QrOptions {
  /** Default "Q"; see the file comment. */
  readonly errorCorrection?: ErrorCorrection;
  /** Quiet zone in modules on each side; default and minimum 4. */
  readonly margin?: number;
  /** PNG pixels per module; default 8, at least 1. Ignored for SVG. */
  readonly scale?: number;
}

export const QR_DEFAULTS = { errorCorrection: "Q", margin: 4, scale: 8 } as const satisfies Required<QrOptions>;

/** Resolves options once and refuses ones that would print an unreliable symbol. */
function resolve(opts: QrOptions): Required<QrOptions> {
  const o = { ...QR_DEFAULTS, ...opts };
  if (!["L", "M", "Q", "H"].includes(o.errorCorrection)) {
    throw new RangeError(`errorCorrection must be L, M, Q or H, got ${String(o.errorCorrection)}`);
  }
  if (!Number.isInteger(o.margin) || o.margin < 4) {
    throw new RangeError(`margin (quiet zone) must be a whole number of modules >= 4 (ISO/IEC 18004), got ${o.margin}`);
  }
  if (!Number.isInteger(o.scale) || o.scale < 1) {
    throw new RangeError(`scale must be a whole number of pixels per module >= 1, got ${o.scale}`);
  }
  return o;
}

function checkText(text: string): void {
  if (typeof text !== "string" || text === "") throw new RangeError("QR text must be a non-empty string");
}

/** Width of the symbol in modules, quiet zone included: what a print layout multiplies by the module size. */
export function qrModules(text: string, opts: QrOptions = {}): number {
  checkText(text);
  const o = resolve(opts);
  return QRCode.create(text, { errorCorrectionLevel: o.errorCorrection }).modules.size + 2 * o.margin;
}

/** The QR code as a standalone SVG document (viewBox in modules, no fixed width: size it where it is placed). */
export async function qrSvg(text: string, opts: QrOptions = {}): Promise<string> {
  checkText(text);
  const o = resolve(opts);
  const svg = await QRCode.toString(text, {
    type: "svg",
    errorCorrectionLevel: o.errorCorrection,
    margin: o.margin,
    color: { dark: "#000000ff", light: "#ffffffff" },
  });
  return svg.trim();
}

/** The QR code as a PNG: black on white, `scale` pixels per module, quiet zone included. */
export async function qrPng(text: string, opts: QrOptions = {}): Promise<Buffer> {
  checkText(text);
  const o = resolve(opts);
  return QRCode.toBuffer(text, {
    type: "png",
    errorCorrectionLevel: o.errorCorrection,
    margin: o.margin,
    scale: o.scale,
    color: { dark: "#000000ff", light: "#ffffffff" },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Label sheet

export interface BatchLabel {
  readonly product: string;
  readonly gtin: string;
  readonly lot: string;
  /** Shown as given, e.g. "KR, Jeju-do". */
  readonly origin: string;
  /** Shown as given, e.g. "2026-11-02". */
  readonly harvestDate?: string;
  /** The batch's Digital Link URI, from formatDigitalLink; checked to name the same GTIN and lot. */
  readonly url: string;
}

export interface LabelSheetOptions {
  /** Document title; default "Batch labels". */
  readonly title?: string;
  /** Labels per row on A4 portrait; default 3. */
  readonly columns?: number;
  /**
   * Printed module size (X-dimension) in mm; default 0.5. Keep it at or above GS1's minimum for the scanning
   * environment (about 0.4 mm for a QR code scanned at retail); the column must be wide enough for the symbol.
   */
  readonly moduleMm?: number;
  readonly errorCorrection?: ErrorCorrection;
  /** Language of the field names (Lot, Origin, Harvested); default "en". */
  readonly lang?: Lang;
  /** A note for whoever prints the sheet (e.g. the lot is not on chain yet): shown on screen, never printed. */
  readonly notice?: string;
}

/**
 * A printable A4 page of batch labels: product, lot, origin, harvest date, the QR code as inline SVG at a fixed
 * module size, and under it the GS1 element string as human-readable text ("(01)08801234000017(10)JJ-2611-A"), as
 * GS1 labels print it. Every label's URL must be a Digital Link naming the label's own GTIN and lot (Gs1Error
 * otherwise), so a sheet cannot pair one batch's text with another batch's code. All text is HTML-escaped.
 */
export async function labelSheetHtml(labels: readonly BatchLabel[], opts: LabelSheetOptions = {}): Promise<string> {
  const lang = opts.lang ?? "en";
  const t = MESSAGES[lang];
  const title = opts.title ?? "Batch labels";
  const columns = opts.columns ?? 3;
  const moduleMm = opts.moduleMm ?? 0.5;
  if (!Number.isInteger(columns) || columns < 1 || columns > 6) {
    throw new RangeError(`columns must be 1-6, got ${columns}`);
  }
  if (!(moduleMm > 0 && moduleMm <= 2)) throw new RangeError(`moduleMm must be in (0, 2], got ${moduleMm}`);
  const qr: QrOptions = opts.errorCorrection ? { errorCorrection: opts.errorCorrection } : {};

  const cells = await Promise.all(
    labels.map(async (label, i) => {
      const link = parseDigitalLink(label.url);
      if (!/^https?:\/\//.test(link.base)) {
        throw new Gs1Error(`label ${i + 1}: url "${label.url}" must be an absolute http(s) URI for a phone to open`);
      }
      const hri = elementString({ gtin: label.gtin, lot: label.lot });
      const named = link.lot === undefined ? `(01)${link.gtin}` : elementString({ gtin: link.gtin, lot: link.lot });
      if (named !== hri) {
        throw new Gs1Error(`label ${i + 1}: url "${label.url}" names ${named}, but the label reads ${hri}`);
      }
      const svg = await qrSvg(label.url, qr);
      const sizeMm = (qrModules(label.url, qr) * moduleMm).toFixed(2);
      return [
        `<section class="label">`,
        `<h2>${escapeHtml(label.product)}</h2>`,
        `<dl>`,
        `<dt>${escapeHtml(t.lot)}</dt><dd>${escapeHtml(label.lot)}</dd>`,
        `<dt>${escapeHtml(t.origin)}</dt><dd>${escapeHtml(label.origin)}</dd>`,
        label.harvestDate === undefined ? "" : `<dt>${escapeHtml(t.harvestDate)}</dt><dd>${escapeHtml(label.harvestDate)}</dd>`,
        `</dl>`,
        `<figure style="width:${sizeMm}mm">`,
        `<div class="qr" style="width:${sizeMm}mm;height:${sizeMm}mm" role="img" aria-label="QR code: ${escapeHtml(label.url)}">${svg}</div>`,
        `<figcaption class="hri">${escapeHtml(hri)}</figcaption>`,
        `</figure>`,
        `</section>`,
      ].join("");
    }),
  );

  return `<!DOCTYPE html>
<html lang="${HTML_LANG[lang]}">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
@page { size: A4 portrait; margin: 10mm; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Helvetica Neue", Arial, "Apple SD Gothic Neo", "Noto Sans KR", "Malgun Gothic", "PingFang SC", "Noto Sans SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; font-size: 9pt; color: #000; background: #fff; }
.sheet { display: grid; grid-template-columns: repeat(${columns}, 1fr); gap: 4mm; }
.label { border: 0.2mm dashed #999; padding: 3mm; break-inside: avoid; page-break-inside: avoid; }
.label h2 { margin: 0 0 1.5mm; font-size: 11pt; }
.label dl { margin: 0 0 2mm; display: grid; grid-template-columns: auto 1fr; column-gap: 2mm; }
.label dt { font-weight: bold; }
.label dd { margin: 0; overflow-wrap: anywhere; }
figure { margin: 0 auto; }
/* The symbol keeps its computed size: shrinking it to fit would silently drop the module size below the minimum. */
.qr { flex: none; }
.qr svg { display: block; width: 100%; height: 100%; }
.hri { font-family: "OCR-B", "Courier New", monospace; font-size: 7pt; text-align: center; margin-top: 1mm; overflow-wrap: anywhere; }
.notice { margin: 0 0 4mm; padding: 2mm 3mm; border: 0.4mm solid #b26a00; background: #fff5e0; font-size: 10pt; }
@media print { .notice { display: none; } }
</style>
</head>
<body>
${opts.notice === undefined ? "" : `<p class="notice" data-testid="label-notice">${escapeHtml(opts.notice)}</p>`}
<main class="sheet">
${cells.join("\n")}
</main>
</body>
</html>
`;
}
