import { expect } from "chai";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { formatDigitalLink, parseDigitalLink } from "../../../ledger-api/src/gs1/digital-link.ts";
import { Gs1Error } from "../../../ledger-api/src/gs1/keys.ts";
import { escapeHtml } from "../../../ledger-api/src/web/html.ts";
import { QR_DEFAULTS, labelSheetHtml, qrModules, qrPng, qrSvg } from "../../../ledger-api/src/web/qr.ts";
import type { BatchLabel } from "../../../ledger-api/src/web/qr.ts";

const BASE = "https://trace.example.org";

/** Batches whose links exercise plain lots, lots that need percent-encoding, serials and data attributes. */
const URLS = [
  formatDigitalLink(BASE, { gtin: "8801234000017", lot: "JJ-2611-A" }),
  formatDigitalLink(BASE, { gtin: "09506000134352", lot: "A/1%B" }),
  formatDigitalLink("https://market.example.cn/r", { gtin: "96385074", lot: `x"y<z>&'(1)`, serial: "S/7" }),
  formatDigitalLink(BASE, { gtin: "036000291452", lot: "!%&'()*+,-./:;<=>?_z" }, { expiry: "261231" }),
];

/** Decodes a PNG QR code with jsQR (an implementation independent of the encoder). */
function decodePng(png: Buffer): { text: string; image: PNG } {
  const image = PNG.sync.read(png);
  const pixels = new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length);
  // jsqr ships CommonJS whose default export Node exposes as the module object: call through .default.
  const found = jsQR.default(pixels, image.width, image.height, { inversionAttempts: "dontInvert" });
  if (!found) throw new Error("no QR code found");
  return { text: found.data, image };
}

function isWhite(image: PNG, x: number, y: number): boolean {
  const i = (y * image.width + x) * 4;
  return image.data[i] === 255 && image.data[i + 1] === 255 && image.data[i + 2] === 255;
}

/**
 * Minimal XML well-formedness check for the SVG the encoder writes: one root, tags balanced and properly nested,
 * attribute values quoted, no stray "<" or "&" in text. (No XML parser is a dependency of this project.)
 */
function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let roots = 0;
  let consumed = 0;
  for (const m of xml.matchAll(token)) {
    consumed += m[0].length;
    const [, closing, name, , selfClosing, text] = m;
    if (text !== undefined) {
      expect(text, "text").to.not.match(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
      continue;
    }
    if (stack.length === 0) roots++;
    if (closing) expect(stack.pop(), `</${name}>`).to.equal(name);
    else if (!selfClosing) stack.push(name!);
  }
  expect(consumed, "every character belongs to a tag or text").to.equal(xml.length);
  expect(stack, "unclosed tags").to.deep.equal([]);
  expect(roots, "one root element").to.equal(1);
}

describe("QR codes for batch labels", function () {
  it("has a well-formedness check that catches broken markup", function () {
    expect(() => assertWellFormedXml('<svg><path d="x"></svg>')).to.throw();
    expect(() => assertWellFormedXml("<svg><path d=x/></svg>")).to.throw();
    expect(() => assertWellFormedXml("<svg/><svg/>")).to.throw();
    expect(() => assertWellFormedXml('<svg a="1"><g/>a &amp; b</svg>')).to.not.throw();
  });


  describe("qrPng", function () {
    it("decodes back to exactly the Digital Link URL, for several batches", async function () {
      for (const url of URLS) {
        const { text } = decodePng(await qrPng(url));
        expect(text).to.equal(url);
        expect(parseDigitalLink(text).batchId).to.equal(parseDigitalLink(url).batchId);
      }
    });

    it("keeps the lot's percent-encoding intact in the symbol", async function () {
      const { text } = decodePng(await qrPng(URLS[1]!));
      expect(text).to.equal(`${BASE}/01/09506000134352/10/A%2F1%25B`);
      expect(parseDigitalLink(text).lot).to.equal("A/1%B");
    });

    it("draws 8 pixels per module with a 4-module white quiet zone by default", async function () {
      const url = URLS[0]!;
      const { image } = decodePng(await qrPng(url));
      const modules = qrModules(url);
      expect(image.width).to.equal(modules * 8);
      expect(image.height).to.equal(image.width);
      const quiet = 4 * 8;
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          const inQuietZone = x < quiet || y < quiet || x >= image.width - quiet || y >= image.height - quiet;
          if (inQuietZone) expect(isWhite(image, x, y), `(${x}, ${y})`).to.equal(true);
        }
      }
      // The top-left finder pattern starts right after the quiet zone.
      expect(isWhite(image, quiet, quiet)).to.equal(false);
    });

    it("uses error correction level Q by default, and honours another level, margin and scale", async function () {
      const url = URLS[0]!;
      expect(QR_DEFAULTS.errorCorrection).to.equal("Q");
      const q = QRCode.create(url, { errorCorrectionLevel: "Q" }).modules.size;
      const m = QRCode.create(url, { errorCorrectionLevel: "M" }).modules.size;
      expect(qrModules(url)).to.equal(q + 8);
      const { image, text } = decodePng(await qrPng(url, { errorCorrection: "M", margin: 6, scale: 10 }));
      expect(text).to.equal(url);
      expect(image.width).to.equal((m + 12) * 10);
    });

    it("survives a scratch 3 modules wide across the symbol, which defeats level M", async function () {
      /** Whites out `rows` module rows across the middle of the symbol, as a scuff across a label would. */
      function scratched(png: Buffer, rows: number): Buffer {
        const image = PNG.sync.read(png);
        const modules = image.width / 8;
        const from = Math.floor((modules - rows) / 2) * 8;
        for (let y = from; y < from + rows * 8; y++) {
          const row = y * image.width * 4;
          image.data.fill(255, row + 4 * 8 * 4, row + (image.width - 4 * 8) * 4);
        }
        return PNG.sync.write(image);
      }
      for (const url of [URLS[0]!, URLS[2]!]) {
        expect(decodePng(scratched(await qrPng(url), 3)).text, url).to.equal(url);
        const atM = scratched(await qrPng(url, { errorCorrection: "M" }), 3);
        let text: string | undefined;
        try {
          text = decodePng(atM).text;
        } catch {
          text = undefined;
        }
        expect(text, `${url} at level M`).to.not.equal(url);
      }
    });

    it("refuses options that would print an unreliable symbol", async function () {
      for (const opts of [{ margin: 3 }, { margin: 4.5 }, { scale: 0 }, { scale: 2.5 }]) {
        let error: unknown;
        await qrPng(URLS[0]!, opts).catch((e: unknown) => (error = e));
        expect(error, JSON.stringify(opts)).to.be.instanceOf(RangeError);
      }
      expect(() => qrModules("", {})).to.throw(RangeError);
    });
  });

  describe("qrSvg", function () {
    it("is a well-formed SVG document with a viewBox in modules and no fixed size", async function () {
      for (const url of URLS) {
        const svg = await qrSvg(url);
        assertWellFormedXml(svg);
        const n = qrModules(url);
        expect(svg).to.match(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
        expect(svg).to.include(`viewBox="0 0 ${n} ${n}"`);
        expect(svg).to.include('shape-rendering="crispEdges"');
        expect(svg).to.not.match(/<svg[^>]*\s(width|height)=/);
      }
    });

    it("is deterministic and follows the chosen error correction level", async function () {
      const url = URLS[3]!;
      const svg = await qrSvg(url);
      const other = await qrSvg(url, { errorCorrection: "M" });
      expect(svg).to.not.equal(other);
      expect(svg).to.equal(await qrSvg(url, { errorCorrection: "Q", margin: 4 }));
    });
  });

  describe("labelSheetHtml", function () {
    const labels: BatchLabel[] = [
      {
        product: "Jeju Hallabong <Premium> & \"Gift\" box",
        gtin: "8801234000017",
        lot: "JJ-2611-A",
        origin: "KR, Jeju-do",
        harvestDate: "2026-11-02",
        url: URLS[0]!,
      },
      {
        product: "<script>alert('x')</script>",
        gtin: "09506000134352",
        lot: "A/1%B",
        origin: "CN, Zhejiang 'Hangzhou'",
        url: URLS[1]!,
      },
      {
        product: "Tangerines",
        gtin: "96385074",
        lot: `x"y<z>&'(1)`,
        origin: "KR",
        url: URLS[2]!,
      },
    ];

    it("prints each label with its QR code as inline SVG and its GS1 element string", async function () {
      const html = await labelSheetHtml(labels);
      expect(html).to.match(/^<!DOCTYPE html>/);
      expect(html).to.include("@page { size: A4 portrait;");
      expect(html).to.include("grid-template-columns: repeat(3, 1fr)");
      expect(html).to.include("(01)08801234000017(10)JJ-2611-A");
      expect(html).to.include("(01)09506000134352(10)A/1%B");
      expect(html.match(/<svg /g)).to.have.length(labels.length);
      for (const label of labels) {
        expect(html).to.include(await qrSvg(label.url));
        expect(html).to.include(`<dd>${escapeHtml(label.lot)}</dd>`);
      }
      expect(html).to.include("<dt>Harvested</dt><dd>2026-11-02</dd>");
    });

    it("escapes every piece of text", async function () {
      const html = await labelSheetHtml(labels, { title: "</title><script>x</script>" });
      expect(html).to.not.include("<script>");
      expect(html).to.include("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
      expect(html).to.include("Jeju Hallabong &lt;Premium&gt; &amp; &quot;Gift&quot; box");
      expect(html).to.include("CN, Zhejiang &#39;Hangzhou&#39;");
      expect(html).to.include(`<figcaption class="hri">(01)00000096385074(10)x&quot;y&lt;z&gt;&amp;&#39;(1)</figcaption>`);
      expect(html).to.include("<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>");
    });

    it("sizes the symbol from the module size, so print keeps the X-dimension", async function () {
      const html = await labelSheetHtml([labels[0]!], { moduleMm: 0.4, columns: 2 });
      const size = (qrModules(labels[0]!.url) * 0.4).toFixed(2);
      expect(html).to.include(`width:${size}mm;height:${size}mm`);
      expect(html).to.include("repeat(2, 1fr)");
    });

    it("refuses a label whose URL names another batch, or is not an absolute URL", async function () {
      const wrong = { ...labels[0]!, url: URLS[1]! };
      let error: unknown;
      await labelSheetHtml([wrong]).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Gs1Error);
      expect((error as Error).message).to.match(/label 1: .* names \(01\)09506000134352\(10\)A\/1%B, but the label reads/);

      error = undefined;
      await labelSheetHtml([{ ...labels[0]!, url: "/01/08801234000017/10/JJ-2611-A" }]).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Gs1Error);
      expect((error as Error).message).to.match(/absolute http\(s\) URI/);
    });
  });
});
