/**
 * The GS1 Digital Link resolver, the shopper page and the label routes, over the demo story (plus one batch whose
 * product name is markup) on the real services (test/api/harness.ts). One ledger for the file, loaded in `before`.
 */
import { expect } from "chai";
import Fastify from "fastify";
import jsQR from "jsqr";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { PNG } from "pngjs";
import { batchIdOf } from "../../../ledger-api/src/protocol/typed-data.ts";
import { demoBatches, demoStory, type DemoActorName } from "../../../ledger-api/src/demo/story.ts";
import { chooseLang, countryName, MESSAGES, type Lang } from "../../../ledger-api/src/web/i18n.ts";
import { negotiate, resolverRoutes } from "../../../ledger-api/src/web/resolver.ts";
import { AnswerCache } from "../../../ledger-api/src/query/answer-cache.ts";
import { startLedger, type Ledger } from "../harness.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
const [stallLot] = tangerineStallLots as unknown as [Keys];
const XSS: Keys = { gtin: tangerines.gtin, lot: "XSS-1" };
const XSS_PRODUCT = `<script>alert("x")</script> & 'tangerines'`;

const pathOf = (k: Keys): string => `/01/${k.gtin}/10/${k.lot}`;

interface Res {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
  rawPayload: Buffer;
}

describe("GS1 Digital Link resolver and shopper page", function () {
  let ledger: Ledger;
  let base = "";

  async function get(url: string, headers: Record<string, string> = {}): Promise<Res> {
    const res = await ledger.app.inject({ method: "GET", url, headers });
    return { statusCode: res.statusCode, body: res.body, headers: res.headers, rawPayload: res.rawPayload };
  }
  const page = async (keys: Keys, lang: Lang): Promise<string> => {
    const res = await get(`${pathOf(keys)}?lang=${lang}`, { accept: "text/html" });
    expect(res.statusCode, res.body).to.equal(200);
    return res.body;
  };
  /** The element with `data-testid="<id>"`, up to the end of the page (enough to look for text inside it). */
  const from = (html: string, id: string): string => {
    const at = html.indexOf(`data-testid="${id}"`);
    expect(at, `no data-testid="${id}"`).to.be.greaterThan(-1);
    return html.slice(at);
  };

  before(async function () {
    ledger = await startLedger();
    base = ledger.services.config.publicBaseUrl;
    const address = (actor: DemoActorName): string => ledger.chain.actors[actor].address;
    const steps = [
      ...demoStory(new Date(), address),
      {
        actor: "cooperative" as const,
        doc: {
          kind: "Registered" as const,
          batch: XSS,
          occurredAt: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, "Z"),
          product: XSS_PRODUCT,
          origin: { country: "KR", region: `Jeju <b>bold</b>`, farm: { name: `"Orchard" <img src=x onerror=alert(1)>` } },
          harvestDate: new Date().toISOString().slice(0, 10),
          quantity: { value: 10, unit: "kg" },
          imported: false,
        },
      },
    ];
    for (const step of steps) {
      const res = await ledger.post(await ledger.sign(step.actor, step.doc));
      expect(res.statusCode, JSON.stringify(res.json)).to.equal(202);
      await ledger.sync();
    }
  });
  after(async function () {
    await ledger?.close();
  });

  describe("content negotiation", function () {
    it("serves the shopper page to a browser, in HTML with a strict CSP, varying on Accept and Accept-Language", async function () {
      const res = await get(pathOf(tangerines), {
        accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      });
      expect(res.statusCode).to.equal(200);
      expect(res.headers["content-type"]).to.match(/^text\/html; charset=utf-8/);
      expect(String(res.headers.vary)).to.include("Accept").and.include("Accept-Language");
      expect(String(res.headers["content-security-policy"])).to.match(/default-src 'none'/).and.match(/script-src 'self' 'nonce-/);
      expect(res.headers.link).to.equal(`<${base}${pathOf(tangerines)}?linkType=linkset>; rel="linkset"; type="application/linkset+json"`);
      expect(res.body).to.include("Jeju Hallabong tangerines");
    });

    it("serves the provenance answer to a JSON client, the same as /v1/batches/{id}/provenance, with its ETag and 304", async function () {
      const res = await get(pathOf(tangerines), { accept: "application/json" });
      expect(res.statusCode).to.equal(200);
      expect(res.headers["content-type"]).to.match(/^application\/json/);
      const api = await ledger.app.inject({ method: "GET", url: `/v1/batches/${encodeURIComponent(pathOf(tangerines))}/provenance` });
      expect(JSON.parse(res.body)).to.deep.equal(api.json());
      expect(res.headers.etag).to.be.a("string").and.equal(api.headers.etag);
      const again = await get(pathOf(tangerines), { accept: "application/json", "if-none-match": String(res.headers.etag) });
      expect(again.statusCode).to.equal(304);
    });

    it("serves an RFC 9264 linkset anchored at the Digital Link URI, for Accept or ?linkType=linkset", async function () {
      const viaAccept = await get(pathOf(tangerines), { accept: "application/linkset+json" });
      expect(viaAccept.statusCode).to.equal(200);
      expect(viaAccept.headers["content-type"]).to.match(/^application\/linkset\+json/);
      const viaQuery = await get(`${pathOf(tangerines)}?linkType=linkset`);
      expect(JSON.parse(viaQuery.body)).to.deep.equal(JSON.parse(viaAccept.body));
      const { linkset } = JSON.parse(viaAccept.body) as { linkset: Record<string, unknown>[] };
      expect(linkset).to.have.length(1);
      const set = linkset[0] as Record<string, { href: string; type: string }[]>;
      expect(set.anchor).to.equal(`${base}${pathOf(tangerines)}`);
      expect(Object.keys(set)).to.deep.equal([
        "anchor",
        "https://gs1.org/voc/pip",
        "https://gs1.org/voc/traceability",
        "https://gs1.org/voc/recallStatus",
        "https://gs1.org/voc/certificationInfo",
        "https://gs1.org/voc/defaultLink",
      ]);
      expect(set["https://gs1.org/voc/pip"]?.[0]).to.include({ href: `${base}${pathOf(tangerines)}`, type: "text/html" });
      expect(set["https://gs1.org/voc/traceability"]?.[0]).to.include({
        href: `${base}/v1/batches/${encodeURIComponent(pathOf(tangerines))}/provenance`,
        type: "application/json",
      });
      expect(set["https://gs1.org/voc/certificationInfo"]?.[0]?.href).to.equal(`${base}${pathOf(tangerines)}#lab-results`);
    });

    it("redirects ?linkType=gs1:traceability (307) to the provenance answer", async function () {
      for (const linkType of ["gs1:traceability", encodeURIComponent("https://gs1.org/voc/traceability")]) {
        const res = await get(`${pathOf(beef)}?linkType=${linkType}`);
        expect(res.statusCode, linkType).to.equal(307);
        expect(res.headers.location).to.equal(`${base}/v1/batches/${encodeURIComponent(pathOf(beef))}/provenance`);
      }
    });

    it("answers an unknown link type, or one the batch lacks, with 404 and the list it has", async function () {
      const unknown = await get(`${pathOf(tangerines)}?linkType=gs1:nutritionalInfo`, { accept: "application/json" });
      expect(unknown.statusCode).to.equal(404);
      const body = JSON.parse(unknown.body) as { code: string; linkTypes: string[] };
      expect(body.code).to.equal("NOT_FOUND");
      expect(body.linkTypes).to.deep.equal(["gs1:pip", "gs1:traceability", "gs1:recallStatus", "gs1:certificationInfo", "gs1:defaultLink"]);
      // The beef was never tested by a lab: no certificationInfo.
      const lacking = await get(`${pathOf(beef)}?linkType=gs1:certificationInfo`);
      expect(lacking.statusCode).to.equal(404);
      expect((JSON.parse(lacking.body) as { linkTypes: string[] }).linkTypes).to.not.include("gs1:certificationInfo");
    });

    it("prefers by q-value, HTML on a tie or no Accept, nothing for an unacceptable type", function () {
      expect(negotiate(undefined)).to.equal("html");
      expect(negotiate("*/*")).to.equal("html");
      expect(negotiate("application/json")).to.equal("json");
      expect(negotiate("text/html;q=0.5, application/json")).to.equal("json");
      expect(negotiate("application/*")).to.equal("json");
      expect(negotiate("application/linkset+json, application/json;q=0.9")).to.equal("linkset");
      expect(negotiate("image/png")).to.equal(undefined);
      expect(negotiate("text/html;q=0, */*")).to.equal("json");
    });
  });

  describe("canonical URIs and errors", function () {
    it("redirects a GTIN-13 link (301) to the canonical 14-digit URI, keeping the query", async function () {
      const res = await get(`/01/${tangerines.gtin.slice(1)}/10/${tangerines.lot}?lang=ko`);
      expect(res.statusCode).to.equal(301);
      expect(res.headers.location).to.equal(`${pathOf(tangerines)}?lang=ko`);
      const serial = await get(`/01/${tangerines.gtin.slice(1)}/10/${tangerines.lot}/21/77`);
      expect(serial.headers.location).to.equal(`${pathOf(tangerines)}/21/77`);
    });

    it("serves an item's serial URI as its batch", async function () {
      const res = await get(`${pathOf(tangerines)}/21/77`, { accept: "application/json" });
      expect(res.statusCode).to.equal(200);
      expect((JSON.parse(res.body) as { batch: { lot: string } }).batch.lot).to.equal(tangerines.lot);
    });

    it("answers an unknown batch with a friendly 404 page in the shopper's language, JSON clients with UNKNOWN_BATCH", async function () {
      const res = await get(`/01/${tangerines.gtin}/10/NOPE-1`, { accept: "text/html", "accept-language": "ko-KR,ko;q=0.9,en;q=0.5" });
      expect(res.statusCode).to.equal(404);
      expect(res.headers["content-type"]).to.match(/^text\/html/);
      expect(res.headers["content-language"]).to.equal("ko");
      expect(res.body).to.include('<html lang="ko">');
      expect(res.body).to.include(MESSAGES.ko.notFoundTitle);
      expect(res.body).to.not.match(/at .*\.ts:\d+|Error:|UNKNOWN_BATCH/);
      const json = await get(`/01/${tangerines.gtin}/10/NOPE-1`, { accept: "application/json" });
      expect(json.statusCode).to.equal(404);
      expect((JSON.parse(json.body) as { code: string }).code).to.equal("UNKNOWN_BATCH");
    });

    it("answers a link with a bad check digit with a 400 page that explains the GS1 error", async function () {
      const res = await get("/01/08801234000018/10/JJ-2611-A", { accept: "text/html", "accept-language": "zh-CN,zh;q=0.9" });
      expect(res.statusCode).to.equal(400);
      expect(res.body).to.include(MESSAGES.zh.badLinkTitle);
      expect(from(res.body, "gs1-error")).to.match(/check digit 8, expected 7/);
      // The parser's detail is English, and says so, under a heading in the shopper's language.
      expect(res.body).to.include(`${MESSAGES.zh.technicalDetail}:<br><code lang="en" data-testid="gs1-error">`);
      const json = await get("/01/08801234000018/10/JJ-2611-A", { accept: "application/json" });
      expect(JSON.parse(json.body)).to.include({ statusCode: 400, code: "INVALID_IDENTIFIER" });
    });

    it("answers a product link without a lot with a 404 page", async function () {
      const res = await get(`/01/${tangerines.gtin}`, { accept: "text/html" });
      expect(res.statusCode).to.equal(404);
      expect(res.body).to.include(MESSAGES.en.notFoundNoLot);
    });
  });

  describe("the shopper page", function () {
    it("chooses Korean, Chinese or English by ?lang=, then Accept-Language q-values", function () {
      expect(chooseLang("ko-KR,ko;q=0.9,en-US;q=0.8")).to.equal("ko");
      expect(chooseLang("en;q=0.3, zh-CN;q=0.9")).to.equal("zh");
      expect(chooseLang("zh-TW")).to.equal("zh");
      expect(chooseLang("fr, ko;q=0.1")).to.equal("ko");
      expect(chooseLang("fr, de")).to.equal("en");
      expect(chooseLang("ko;q=0, en")).to.equal("en");
      expect(chooseLang(undefined)).to.equal("en");
      expect(chooseLang("ko", "zh")).to.equal("zh");
      expect(chooseLang("ko", "xx")).to.equal("ko");
    });

    for (const lang of ["en", "ko", "zh"] as const) {
      it(`shows the tangerines' origin, spraying record with its pre-harvest interval, lab results and custodians (${lang})`, async function () {
        const t = MESSAGES[lang];
        const html = await page(tangerines, lang);
        expect(html).to.include(`<html lang="${lang === "zh" ? "zh-Hans" : lang}">`);
        expect(html).to.include("Jeju Hallabong tangerines").and.include(tangerines.lot);
        expect(html).to.include({ en: "South Korea", ko: "대한민국", zh: "韩国" }[lang]);
        expect(html).to.include("Jeju-do, Seogwipo-si").and.include("Jeju Hallabong Cooperative, orchard 3");
        expect(from(html, "pesticides")).to.include("Imidacloprid").and.include(t.phiDays(21));
        // Applied 40 days ago, harvested 13 days ago: 27 days >= 21.
        expect(html).to.include('data-phi="respected"').and.include(t.phiRespected(27, 21));
        const lab = from(html, "lab-results");
        expect(lab).to.include(t.limit);
        expect(lab).to.match(/data-analyte="Imidacloprid" data-result="pass"><td>Imidacloprid<\/td><td>0.03 mg\/kg<\/td><td>1 mg\/kg<\/td>/);
        expect(lab).to.match(/data-analyte="Cadmium" data-result="pass">/);
        expect(from(html, "custody")).to.include("Jeju Hallabong Cooperative").and.include("Garak Wholesale Market Co.");
        expect(from(html, "children")).to.include(`href="${pathOf(stallLot)}?lang=${lang}"`);
        expect(html).to.not.include('data-testid="recall-banner"');
        expect(from(html, "lang-switch")).to.include('href="/01/08801234000017/10/JJ-2611-A?lang=ko"');
      });
    }

    it("gives every fact a badge keyed by its log index that starts as checking, and a summary, all set by the browser", async function () {
      const answer = (await ledger.get(`/v1/batches/${encodeURIComponent(pathOf(tangerines))}/provenance`)).json as {
        timeline: { index: number; kind: string; eventHash: string }[];
      };
      const html = await page(tangerines, "en");
      for (const e of answer.timeline.filter((x) => x.kind !== "HandOffOffered")) {
        expect(html, e.kind).to.include(`data-testid="fact-${e.index}"`);
        expect(html, e.kind).to.include(`data-index="${e.index}" data-event-hash="${e.eventHash}" data-testid="badge-${e.index}"`);
      }
      expect(from(html, "summary")).to.match(/^data-testid="summary" data-state="checking"/);
      expect(html).to.not.match(/data-state="verified"/);
      expect(html).to.include('<script type="application/json" id="ledger-config">');
      // With its content hash once built (web-dist), so phones can cache it for good.
      expect(html).to.match(/"clientUrl":"\/assets\/shopper\.js(\?v=[\w-]{16})?"/);
      // The answer the page was rendered from travels in it, for the browser to verify and re-render.
      const embedded = /<script type="application\/json" id="ledger-answer">([^<]*)<\/script>/.exec(html)?.[1];
      expect(JSON.parse(embedded ?? "null")).to.deep.equal(answer);
    });

    for (const lang of ["en", "ko", "zh"] as const) {
      it(`shows the imported beef's customs clearance, cold chain and custody chain by name (${lang})`, async function () {
        const t = MESSAGES[lang];
        const html = await page(beef, lang);
        expect(html).to.include("Australian grass-fed beef, chilled striploin");
        const customs = from(html, "customs");
        expect(customs).to.include(t.customs).and.include("12345-26-0098765X").and.include("KRPUS");
        expect(customs).to.include({ en: "Australia", ko: "오스트레일리아", zh: "澳大利亚" }[lang]);
        const custody = from(html, "custody");
        for (const name of ["Busan Global Foods Import", "Hanjin Cold Logistics", "Mangwon Market Stall 12"]) {
          expect(custody).to.include(name);
        }
        expect(custody).to.not.match(/0x[0-9a-f]{40}<\/strong>/);
        expect(from(html, "observations")).to.include("-0.8 °C").and.include("Refrigerated truck 82-SA-4471");
      });
    }

    for (const lang of ["en", "ko", "zh"] as const) {
      it(`puts the spinach's recall at the top as a banner with its reason and the failed analyte (${lang})`, async function () {
        const t = MESSAGES[lang];
        const html = await page(spinach, lang);
        const banner = html.indexOf('data-testid="recall-banner"');
        expect(banner).to.be.greaterThan(-1).and.lessThan(html.indexOf('data-testid="summary"'));
        expect(from(html, "recall-banner")).to.include(t.recallTitle).and.include("Chlorpyrifos residue 0.12 mg/kg exceeds");
        expect(from(html, "recall-banner")).to.include("RECALL-26-0311");
        expect(from(html, "lab-results")).to.match(/data-analyte="Chlorpyrifos" data-result="fail"><td>Chlorpyrifos<\/td><td>0.12 mg\/kg<\/td><td>0.01 mg\/kg<\/td>/);
        expect(html).to.include(t.overallFail);
      });
    }

    it("shows a split lot's origin from its parent, a link to the parent's page and the stall that holds it", async function () {
      const html = await page(stallLot, "ko");
      expect(from(html, "fact-origin-0")).to.include("Jeju Hallabong Cooperative, orchard 3");
      expect(html).to.include('data-scope="batch" data-testid="badge-origin-0"');
      expect(from(html, "parents")).to.include(`href="${pathOf(tangerines)}?lang=ko"`);
      expect(from(html, "custody")).to.include("Garak Wholesale Market Co.").and.include("Mangwon Market Stall 12");
      expect(from(html, "observations")).to.include("8.5 °C");
    });

    it("sends the page compressed to a browser that accepts it (brotli, else gzip)", async function () {
      const url = `${pathOf(tangerines)}?lang=en`;
      const br = await get(url, { accept: "text/html", "accept-encoding": "gzip, deflate, br" });
      expect(br.headers["content-encoding"]).to.equal("br");
      const html = brotliDecompressSync(br.rawPayload).toString("utf8");
      expect(html).to.include("Jeju Hallabong tangerines");
      expect(br.rawPayload.length).to.be.below(html.length / 3);
      const gz = await get(url, { accept: "text/html", "accept-encoding": "gzip" });
      expect(gz.headers["content-encoding"]).to.equal("gzip");
      // The same page (each response has its own CSP nonce).
      const sameNonce = (text: string) => text.replace(/nonce(-|=")[A-Za-z0-9+/=]+/g, "nonce");
      expect(sameNonce(gunzipSync(gz.rawPayload).toString("utf8"))).to.equal(sameNonce(html));
    });

    it("renders text from documents inert: a product name with <script> is escaped", async function () {
      const html = await page(XSS, "en");
      expect(html).to.include("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;tangerines&#39;");
      expect(html).to.include("Jeju &lt;b&gt;bold&lt;/b&gt;").and.include("&lt;img src=x onerror=alert(1)&gt;");
      expect(html).to.not.include("<script>alert").and.not.include("<img src=x").and.not.include("<b>bold");
      // The only scripts are the page's own: the config and answer blocks and the nonce'd loader.
      expect(html.match(/<script/g)).to.have.length(3);
      const config = /<script type="application\/json" id="ledger-config">([^<]*)<\/script>/.exec(html);
      expect(config, "config JSON has no raw <").to.not.equal(null);
      const answer = /<script type="application\/json" id="ledger-answer">([^<]*)<\/script>/.exec(html);
      expect(answer, "answer JSON has no raw <").to.not.equal(null);
      expect((JSON.parse(answer![1]!) as { batch: { product: string } }).batch.product).to.include('<script>alert("x")</script>');
    });
  });

  describe("labels", function () {
    it("serves the QR code as PNG that decodes to exactly the batch's Digital Link URL", async function () {
      const res = await get(`/v1/batches/${encodeURIComponent(pathOf(beef))}/qr.png`);
      expect(res.statusCode).to.equal(200);
      expect(res.headers["content-type"]).to.equal("image/png");
      expect(String(res.headers["cache-control"])).to.include("public");
      expect(res.headers.etag).to.be.a("string");
      const image = PNG.sync.read(res.rawPayload);
      const pixels = new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length);
      const found = jsQR.default(pixels, image.width, image.height, { inversionAttempts: "dontInvert" });
      expect(found?.data).to.equal(`${base}${pathOf(beef)}`);
      const byId = await get(`/v1/batches/${batchIdOf(beef.gtin, beef.lot)}/qr.png`);
      expect(byId.rawPayload.equals(res.rawPayload)).to.equal(true);
      const revalidated = await get(`/v1/batches/${encodeURIComponent(pathOf(beef))}/qr.png`, { "if-none-match": String(res.headers.etag) });
      expect(revalidated.statusCode).to.equal(304);
    });

    it("serves the QR code as SVG", async function () {
      const res = await get(`/v1/batches/${encodeURIComponent(pathOf(tangerines))}/qr.svg`);
      expect(res.statusCode).to.equal(200);
      expect(res.headers["content-type"]).to.match(/^image\/svg\+xml/);
      expect(res.body).to.match(/^<svg[^>]*viewBox/);
    });

    it("prints a label page with product, lot, origin, QR code and the GS1 element string", async function () {
      const res = await get(`/v1/batches/${encodeURIComponent(pathOf(tangerines))}/label`);
      expect(res.statusCode).to.equal(200);
      expect(res.headers["content-type"]).to.match(/^text\/html/);
      expect(res.body).to.include("(01)08801234000017(10)JJ-2611-A");
      expect(res.body).to.include("Jeju Hallabong tangerines").and.include("South Korea, Jeju-do, Seogwipo-si");
      expect(res.body).to.include(`aria-label="QR code: ${base}${pathOf(tangerines)}"`);
      const three = await get(`/v1/batches/${encodeURIComponent(pathOf(tangerines))}/label?copies=3`);
      expect(three.body.match(/<section class="label">/g)).to.have.length(3);
    });

    it("prints the label's field names, origin and date in the producer's language", async function () {
      const url = `/v1/batches/${encodeURIComponent(pathOf(tangerines))}/label`;
      const ko = await get(url, { "accept-language": "ko-KR,ko;q=0.9" });
      expect(ko.headers["content-language"]).to.equal("ko");
      expect(ko.body).to.include('<html lang="ko">');
      expect(ko.body).to.include(`<dt>${MESSAGES.ko.lot}</dt>`).and.include(`<dt>${MESSAGES.ko.harvestDate}</dt>`);
      expect(ko.body).to.include(`${countryName("KR", "ko")}, Jeju-do`);
      const zh = await get(`${url}?lang=zh`);
      expect(zh.body).to.include('<html lang="zh-Hans">').and.include(`<dt>${MESSAGES.zh.origin}</dt>`);
      // The symbol does not depend on the language.
      const qr = (body: string) => /<div class="qr"[\s\S]*?<\/div>/.exec(body)?.[0];
      expect(qr(ko.body)).to.equal(qr(zh.body)).and.not.equal(undefined);
    });

    it("answers 404 UNKNOWN_BATCH (JSON) for a batch the ledger does not know", async function () {
      for (const suffix of ["qr.svg", "qr.png", "label"]) {
        const res = await get(`/v1/batches/${encodeURIComponent(`/01/${tangerines.gtin}/10/NOPE`)}/${suffix}`);
        expect(res.statusCode, suffix).to.equal(404);
        expect((JSON.parse(res.body) as { code: string }).code, suffix).to.equal("UNKNOWN_BATCH");
      }
    });
  });

  describe("the browser bundles", function () {
    it("are served from web-dist when built, 404 before; other names are not served", async function () {
      const dir = await mkdtemp(path.join(tmpdir(), "web-dist-"));
      const app = Fastify();
      try {
        await app.register(resolverRoutes, {
          store: ledger.services.store,
          deployments: ledger.chain.deployments,
          publicBaseUrl: base,
          publicRpcUrl: ledger.services.config.publicRpcUrl,
          webDist: pathToFileURL(dir + path.sep),
          cache: new AnswerCache(ledger.services.store, 1 << 20),
        });
        expect((await app.inject({ method: "GET", url: "/assets/verify.js" })).statusCode).to.equal(404);
        await writeFile(path.join(dir, "verify.js"), "globalThis.LedgerVerify = {};\n");
        const res = await app.inject({ method: "GET", url: "/assets/verify.js" });
        expect(res.statusCode).to.equal(200);
        expect(res.headers["content-type"]).to.match(/^text\/javascript/);
        expect(res.body).to.equal("globalThis.LedgerVerify = {};\n");
        expect((await app.inject({ method: "GET", url: "/assets/shopper.js" })).statusCode).to.equal(404);
        await writeFile(path.join(dir, "shopper.js"), "void 0;\n");
        const plain = await app.inject({ method: "GET", url: "/assets/shopper.js" });
        expect(plain.body).to.equal("void 0;\n");
        expect(plain.headers["cache-control"]).to.equal("public, max-age=300");
        // Named by its content hash (as pages name it), it is cached for good; a stale hash is not.
        const hash = String(plain.headers.etag).replaceAll('"', "");
        const pinned = await app.inject({ method: "GET", url: `/assets/shopper.js?v=${hash}` });
        expect(pinned.headers["cache-control"]).to.equal("public, max-age=31536000, immutable");
        const stale = await app.inject({ method: "GET", url: "/assets/shopper.js?v=AAAAAAAAAAAAAAAA" });
        expect(stale.headers["cache-control"]).to.equal("public, max-age=300");
        await writeFile(path.join(dir, "secret.txt"), "no\n");
        expect((await app.inject({ method: "GET", url: "/assets/secret.txt" })).statusCode).to.equal(400);
        expect((await app.inject({ method: "GET", url: "/assets/..%2Fsecret.txt" })).statusCode).to.equal(400);
      } finally {
        await app.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
