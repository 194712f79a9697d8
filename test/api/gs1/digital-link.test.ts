import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import {
  batchRefFromQuery,
  elementString,
  formatDigitalLink,
  gs1DateToIso,
  parseBatchRef,
  parseDigitalLink,
  percentDecode,
  percentEncode,
} from "../../../ledger-api/src/gs1/digital-link.ts";
import type { DataAttributes } from "../../../ledger-api/src/gs1/digital-link.ts";
import { Gs1Error, batchIdOf, checkSerial } from "../../../ledger-api/src/gs1/keys.ts";
import { batchIdOf as contractBatchIdOf } from "../../../ledger-api/src/protocol/typed-data.ts";

const GTIN = "09506000134352"; // GS1's own example GTIN; check digit 2
const BASE = "https://example.com";

/** GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1), in code point order. */
const CSET82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`;
/** RFC 3986 unreserved characters that are also in set 82: the only ones an AI value may carry unencoded. */
const UNENCODED = /^[A-Za-z0-9\-._]$/;

function refuses(input: string, message: RegExp): void {
  expect(() => parseDigitalLink(input)).to.throw(Gs1Error, message);
}

describe("GS1 Digital Link", function () {
  describe("parseDigitalLink: valid links", function () {
    it("reads GTIN, lot, serial, expiry and linkType from a full URI", function () {
      const link = parseDigitalLink(`${BASE}/01/${GTIN}/10/ABC%2F1/21/12345?17=261231&linkType=gs1:pip`);
      expect(link.base).to.equal(BASE);
      expect(link.gtin).to.equal(GTIN);
      expect(link.lot).to.equal("ABC/1");
      expect(link.serial).to.equal("12345");
      expect(link.attributes).to.deep.equal({ expiry: "261231", other: {} });
      expect(link.linkType).to.equal("gs1:pip");
      expect(link.keys).to.deep.equal({ gtin: GTIN, lot: "ABC/1" });
      expect(link.canonicalPath).to.equal(`/01/${GTIN}/10/ABC/1`);
      expect(link.path).to.equal(`/01/${GTIN}/10/ABC%2F1/21/12345`);
      expect(link.batchId).to.equal(keccak256(toUtf8Bytes(`/01/${GTIN}/10/ABC/1`)));
    });

    it("accepts a bare path", function () {
      const link = parseDigitalLink(`/01/${GTIN}/10/LOT-7`);
      expect(link.base).to.equal("");
      expect(link.keys).to.deep.equal({ gtin: GTIN, lot: "LOT-7" });
    });

    it("accepts any domain, port and path prefix before /01/, including prefixes that look numeric", function () {
      for (const base of [
        "https://id.gs1.org",
        "http://localhost:8080",
        "https://market.example.cn/resolver",
        "https://example.com/products/2024/05",
        "https://example.com/a/b/c",
        "https://192.168.1.10:3000/dl",
      ]) {
        const link = parseDigitalLink(`${base}/01/${GTIN}/10/X1`);
        expect(link.base, base).to.equal(base);
        expect(link.lot, base).to.equal("X1");
      }
    });

    it("lower-cases the scheme and host, which are case-insensitive", function () {
      expect(parseDigitalLink(`HTTPS://Example.COM/Shop/01/${GTIN}`).base).to.equal("https://example.com/Shop");
    });

    it("allows a GTIN alone, a GTIN with a serial and no lot, and the consumer product variant first", function () {
      const gtinOnly = parseDigitalLink(`${BASE}/01/${GTIN}`);
      expect(gtinOnly.lot).to.equal(undefined);
      expect(gtinOnly.keys).to.equal(undefined);
      expect(gtinOnly.batchId).to.equal(undefined);
      expect(gtinOnly.canonicalPath).to.equal(`/01/${GTIN}`);

      const serialOnly = parseDigitalLink(`${BASE}/01/${GTIN}/21/S1`);
      expect(serialOnly.serial).to.equal("S1");
      expect(serialOnly.keys).to.equal(undefined);

      const all = parseDigitalLink(`${BASE}/01/${GTIN}/22/V1/10/L1/21/S1`);
      expect([all.variant, all.lot, all.serial]).to.deep.equal(["V1", "L1", "S1"]);
      expect(all.canonicalPath).to.equal(`/01/${GTIN}/10/L1`);
    });

    it("normalises GTIN-8, GTIN-12 and GTIN-13 to 14 digits", function () {
      const cases = [
        ["96385074", "00000096385074"],
        ["036000291452", "00036000291452"],
        ["9506000134352", GTIN],
        [GTIN, GTIN],
      ];
      for (const [given, expected] of cases) {
        const link = parseDigitalLink(`/01/${given}/10/A`);
        expect(link.gtin).to.equal(expected);
        expect(link.batchId).to.equal(batchIdOf({ gtin: expected!, lot: "A" }));
      }
    });

    it("accepts the convenience alphas /gtin/, /lot/ and /ser/ deprecated since URI Syntax 1.2", function () {
      const link = parseDigitalLink(`/gtin/${GTIN}/lot/A1/ser/7`);
      expect(link.keys).to.deep.equal({ gtin: GTIN, lot: "A1" });
      expect(link.serial).to.equal("7");
      expect(link.path).to.equal(`/01/${GTIN}/10/A1/21/7`);
    });

    it("reads data attributes, known ones by name and the rest by AI", function () {
      const link = parseDigitalLink(
        `/01/${GTIN}/10/A?11=260101&13=260102&15=260110&16=260105&17=260131&7007=260101260103&3103=001250&422=410&90=X%2F1`,
      );
      expect(link.attributes).to.deep.equal({
        productionDate: "260101",
        packagingDate: "260102",
        bestBefore: "260110",
        sellBy: "260105",
        expiry: "260131",
        harvestDate: "260101260103",
        other: { "3103": "001250", "422": "410", "90": "X/1" },
      });
    });

    it("allows day 00 (day unknown) where the date AI allows it, and 29 February in leap years", function () {
      expect(parseDigitalLink(`/01/${GTIN}?17=261200`).attributes.expiry).to.equal("261200");
      expect(parseDigitalLink(`/01/${GTIN}?15=280229`).attributes.bestBefore).to.equal("280229");
    });

    it("keeps non-GS1 query parameters apart, ignores the fragment and one trailing slash", function () {
      const link = parseDigitalLink(`${BASE}/01/${GTIN}/10/A/?context=shelf&lang=ko&&17=261231#top`);
      expect(link.params).to.deep.equal({ context: "shelf", lang: "ko" });
      expect(link.attributes.expiry).to.equal("261231");
      expect(link.lot).to.equal("A");
    });

    it("decodes lower-case and needlessly encoded escapes to the same lot", function () {
      expect(parseDigitalLink(`/01/${GTIN}/10/%41%2f1`).lot).to.equal("A/1");
    });
  });

  describe("parseDigitalLink: refusals a producer can act on", function () {
    it("names the wrong and the expected check digit", function () {
      refuses(`/01/09506000134353/10/A`, /GTIN 09506000134353 has check digit 3, expected 2/);
      refuses(`/01/9506000134353/10/A`, /GTIN 9506000134353 has check digit 3, expected 2/);
    });

    it("refuses GTINs of the wrong length or with non-digits", function () {
      refuses(`/01/95060001343/10/A`, /8, 12, 13 or 14 digits/);
      refuses(`/01/0950600013435A/10/A`, /8, 12, 13 or 14 digits/);
    });

    it("refuses qualifiers out of the standard's order", function () {
      refuses(`/01/${GTIN}/21/S/10/L`, /AI 10 \(lot\) must come before AI 21 \(serial\)/);
      refuses(`/01/${GTIN}/10/L/22/V`, /AI 22 \(consumer product variant\) must come before AI 10/);
    });

    it("refuses a duplicate AI in the path or the query", function () {
      refuses(`/01/${GTIN}/10/A/10/B`, /AI 10 \(lot\) appears twice/);
      refuses(`/01/${GTIN}/01/${GTIN}/10/B`, /AI 01 \(GTIN\) appears twice/);
      refuses(`/01/${GTIN}/10/A?17=261231&17=261230`, /AI 17 \(expiry date\) appears twice/);
      refuses(`/01/${GTIN}/10/A?linkType=gs1:pip&linkType=gs1:epil`, /linkType appears twice/);
    });

    it("refuses unknown AIs, data attributes in the path, and key qualifiers in the query", function () {
      refuses(`/01/${GTIN}/10/A/4399/B`, /unknown AI 4399 in the path/);
      refuses(`/01/${GTIN}/17/261231`, /AI 17 \(expiry date\) is a data attribute: it belongs in the query string/);
      refuses(`/01/${GTIN}?10=A`, /AI 10 \(lot\) is a key or key qualifier: it belongs in the path/);
      refuses(`/01/${GTIN}/10/A?4399=1`, /AI 4399 in the query string is not a data attribute this ledger accepts/);
      refuses(`/01/${GTIN}/10/A?12345=1`, /not a GS1 Application Identifier/);
      refuses(`/01/${GTIN}/10/A/foo/bar`, /path segment "foo" after the GTIN is not a GS1 Application Identifier/);
    });

    it("refuses links with no GTIN, or another primary key", function () {
      refuses(`${BASE}/products/apple`, /no GTIN in the path/);
      refuses(`${BASE}/414/9520123456788`, /primary key is AI 414 \(GLN\)/);
      refuses(`ftp://example.com/01/${GTIN}`, /not a GS1 Digital Link/);
      refuses(`01/${GTIN}/10/A`, /not a GS1 Digital Link/);
      refuses(`https:///01/${GTIN}`, /not a domain name/);
    });

    it("refuses an AI without a value, or with an empty one", function () {
      refuses(`/01/${GTIN}/10`, /AI 10 \(lot\) at the end of the path has no value/);
      refuses(`/01/${GTIN}/10//21/S`, /AI 10 \(lot\) has an empty value/);
      refuses(`/01/${GTIN}?17=`, /AI 17 \(expiry date\) has an empty value/);
    });

    it("refuses malformed percent-escapes rather than reading them literally", function () {
      refuses(`/01/${GTIN}/10/A%2`, /"%2" in "A%2" is not a percent-escape/);
      refuses(`/01/${GTIN}/10/A%G1`, /"%G1" in "A%G1" is not a percent-escape/);
      refuses(`/01/${GTIN}/10/100%`, /"%" in "100%" is not a percent-escape.*%25/);
      refuses(`/01/${GTIN}/10/A%C3`, /do not decode to UTF-8/);
      refuses(`/01/${GTIN}?17=26%1`, /not a percent-escape/);
    });

    it("refuses characters that cannot appear in a URI, saying how to encode them", function () {
      refuses(`/01/${GTIN}/10/A B`, /character " " at position 24 cannot appear in a URI; percent-encode it as %20/);
      refuses(`/01/${GTIN}/10/A"B`, /percent-encode it as %22/);
      refuses(`/01/${GTIN}/10/A<B`, /percent-encode it as %3C/);
      refuses(`/01/${GTIN}/10/Å`, /percent-encode it as %C3%85/);
    });

    it("refuses lots and serials longer than 20 characters", function () {
      refuses(`/01/${GTIN}/10/${"A".repeat(21)}`, /lot \(AI 10\) "A{21}" is 21 characters; at most 20/);
      refuses(`/01/${GTIN}/21/${"9".repeat(21)}`, /serial \(AI 21\) "9{21}" is 21 characters; at most 20/);
      expect(parseDigitalLink(`/01/${GTIN}/10/${"A".repeat(20)}`).lot).to.have.length(20);
    });

    it("refuses characters outside set 82 even when percent-encoded, naming the character", function () {
      refuses(`/01/${GTIN}/10/A%20B`, /lot \(AI 10\) "A B" has " " \(U\+0020\) at position 2/);
      refuses(`/01/${GTIN}/10/A%23B`, /"#" \(U\+0023\)/);
      refuses(`/01/${GTIN}/10/A~B`, /"~" \(U\+007E\)/);
      refuses(`/01/${GTIN}/21/%C3%85`, /serial \(AI 21\) "Å" has "Å" \(U\+00C5\)/);
      refuses(`/01/${GTIN}/22/a%5Cb`, /consumer product variant \(AI 22\)/);
    });

    it("refuses impossible dates and malformed date values", function () {
      refuses(`/01/${GTIN}?17=261331`, /expiry date \(AI 17\) "261331" has month 13/);
      refuses(`/01/${GTIN}?17=260230`, /has day 30; month 02 of year 26 has days 01-28/);
      refuses(`/01/${GTIN}?15=270229`, /has day 29; month 02 of year 27 has days 01-28/);
      refuses(`/01/${GTIN}?11=260431`, /has day 31/);
      refuses(`/01/${GTIN}?17=26123`, /too short/);
      refuses(`/01/${GTIN}?17=2612311`, /too long/);
      refuses(`/01/${GTIN}?17=26A231`, /digits only/);
      // First freeze (7006) and harvest (7007) dates are yymmdd: no unknown day.
      refuses(`/01/${GTIN}?7006=261200`, /first freeze date \(AI 7006\) "261200" has day 00/);
      refuses(`/01/${GTIN}?7007=260101261332`, /harvest date \(AI 7007\) "261332" has month 13/);
    });

    it("refuses oversize input", function () {
      refuses(`/01/${GTIN}/10/A?x=${"a".repeat(3000)}`, /at most 2048 characters/);
    });
  });

  describe("percent-encoding", function () {
    it("encodes every set-82 character outside RFC 3986 unreserved, with upper-case hex", function () {
      for (const c of CSET82) {
        const expected = UNENCODED.test(c) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
        expect(percentEncode(c), c).to.equal(expected);
      }
      expect(percentEncode(`/%"#&?=+`)).to.equal("%2F%25%22%23%26%3F%3D%2B");
    });

    it("round-trips every character of set 82 in a lot and in a serial, through format and parse", function () {
      for (const c of CSET82) {
        const uri = formatDigitalLink(BASE, { gtin: GTIN, lot: `L${c}${c}`, serial: `S${c}` });
        const encoded = percentEncode(c);
        expect(uri, c).to.equal(`${BASE}/01/${GTIN}/10/L${encoded}${encoded}/21/S${encoded}`);
        const link = parseDigitalLink(uri);
        expect(link.lot, uri).to.equal(`L${c}${c}`);
        expect(link.serial, uri).to.equal(`S${c}`);
        expect(link.canonicalPath).to.equal(`/01/${GTIN}/10/L${c}${c}`);
      }
    });

    it("round-trips the whole of set 82 in 20-character lots, and in a query value", function () {
      for (let i = 0; i < CSET82.length; i += 20) {
        const lot = CSET82.slice(i, i + 20);
        const uri = formatDigitalLink(BASE, { gtin: GTIN, lot }, { other: { "90": lot } });
        // Nothing but unreserved characters and escapes in the values: no "/" or "?" that could split them.
        expect(uri.slice(BASE.length + 22)).to.match(/^[A-Za-z0-9\-._%]*\?90=[A-Za-z0-9\-._%]*$/);
        const link = parseDigitalLink(uri);
        expect(link.lot).to.equal(lot);
        expect(link.attributes.other["90"]).to.equal(lot);
      }
    });

    it("decodes what it encodes, for non-ASCII text too", function () {
      for (const text of ["A/1", "100%", "济州 감귤", "a+b=c&d"]) {
        expect(percentDecode(percentEncode(text), "test")).to.equal(text);
      }
    });
  });

  describe("formatDigitalLink", function () {
    it("writes the canonical URI: base without trailing slash, GTIN-14, encoded values, attributes by AI", function () {
      const uri = formatDigitalLink(
        "https://Example.com/dl/",
        { gtin: "9506000134352", lot: 'JJ/26"11%A', serial: "12345" },
        { expiry: "261231", productionDate: "261101", other: { "3103": "001250" } },
      );
      expect(uri).to.equal(
        `https://example.com/dl/01/${GTIN}/10/JJ%2F26%2211%25A/21/12345?11=261101&17=261231&3103=001250`,
      );
    });

    it("round-trips keys and attributes through parseDigitalLink", function () {
      const attributes: DataAttributes = {
        productionDate: "261101",
        bestBefore: "261200",
        expiry: "261231",
        harvestDate: "261030",
        other: { "422": "410", "3102": "012500", "91": "a&b=c" },
      };
      const keys = { gtin: GTIN, variant: "V/2", lot: "A&B=C?", serial: "S(1)" };
      const link = parseDigitalLink(formatDigitalLink(BASE, keys, attributes));
      expect(link.attributes).to.deep.equal(attributes);
      expect({ gtin: link.gtin, variant: link.variant, lot: link.lot, serial: link.serial }).to.deep.equal(keys);
      expect(link.base).to.equal(BASE);
    });

    it("formats a GTIN-only and a GTIN + serial link", function () {
      expect(formatDigitalLink(BASE, { gtin: GTIN })).to.equal(`${BASE}/01/${GTIN}`);
      expect(formatDigitalLink(BASE, { gtin: GTIN, serial: "9" })).to.equal(`${BASE}/01/${GTIN}/21/9`);
    });

    it("refuses invalid keys, attributes and bases", function () {
      expect(() => formatDigitalLink(BASE, { gtin: "09506000134353", lot: "A" })).to.throw(Gs1Error, /expected 2/);
      expect(() => formatDigitalLink(BASE, { gtin: GTIN, lot: "A B" })).to.throw(Gs1Error, /U\+0020/);
      expect(() => formatDigitalLink(BASE, { gtin: GTIN, lot: "" })).to.throw(Gs1Error, /lot \(AI 10\) is empty/);
      expect(() => formatDigitalLink(BASE, { gtin: GTIN, lot: "A" }, { expiry: "261331" })).to.throw(Gs1Error, /month 13/);
      expect(() => formatDigitalLink(BASE, { gtin: GTIN, lot: "A" }, { other: { "10": "B" } })).to.throw(
        Gs1Error,
        /belongs in the path/,
      );
      expect(() => formatDigitalLink(BASE, { gtin: GTIN, lot: "A" }, { expiry: "261231", other: { "17": "261231" } }))
        .to.throw(Gs1Error, /given twice/);
      expect(() => formatDigitalLink("example.com", { gtin: GTIN })).to.throw(Gs1Error, /not a GS1 Digital Link/);
      expect(() => formatDigitalLink("/dl", { gtin: GTIN })).to.throw(Gs1Error, /must be absolute/);
      expect(() => formatDigitalLink(`${BASE}?a=1`, { gtin: GTIN })).to.throw(Gs1Error, /query or fragment/);
      expect(() => formatDigitalLink(`${BASE}/01/${GTIN}`, { gtin: GTIN, lot: "A" })).to.throw(Gs1Error);
    });
  });

  describe("batch identity", function () {
    it("hashes the unencoded canonical path, for a lot containing / and %", function () {
      const lot = "A/1%B";
      const uri = formatDigitalLink(BASE, { gtin: GTIN, lot });
      expect(uri).to.equal(`${BASE}/01/${GTIN}/10/A%2F1%25B`);
      const link = parseDigitalLink(uri);
      expect(link.canonicalPath).to.equal(`/01/${GTIN}/10/A/1%B`);
      expect(link.batchId).to.equal(keccak256(toUtf8Bytes(`/01/${GTIN}/10/A/1%B`)));
      expect(link.batchId).to.not.equal(keccak256(toUtf8Bytes(`/01/${GTIN}/10/A%2F1%25B`)));
      // The same id the contract-facing EIP-712 code (and so ProvenanceLedger's GS1.batchId) derives.
      expect(link.batchId).to.equal(contractBatchIdOf(GTIN, lot));
    });

    it("gives one batchId for every spelling of the same batch", function () {
      const spellings = [
        `${BASE}/01/${GTIN}/10/A%2F1`,
        `http://other.example/x/y/01/9506000134352/10/A%2f1/`,
        `/gtin/${GTIN}/lot/%41%2F%31?17=261231#frag`,
        `${BASE}/01/${GTIN}/10/A%2F1/21/SERIAL9`,
      ];
      const ids = new Set(spellings.map((s) => parseDigitalLink(s).batchId));
      expect([...ids]).to.deep.equal([batchIdOf({ gtin: GTIN, lot: "A/1" })]);
    });
  });

  describe("parseBatchRef and batchRefFromQuery", function () {
    const id = batchIdOf({ gtin: GTIN, lot: "L-1" });

    it("takes a 0x batchId as is, lower-cased", function () {
      expect(parseBatchRef(id.toUpperCase().replace("0X", "0x"))).to.deep.equal({ batchId: id });
    });

    it("takes a Digital Link URI or path and returns the keys too", function () {
      expect(parseBatchRef(`${BASE}/01/${GTIN}/10/L-1`)).to.deep.equal({ batchId: id, keys: { gtin: GTIN, lot: "L-1" } });
      expect(parseBatchRef(`/01/${GTIN}/10/L-1/21/7`)).to.deep.equal({ batchId: id, keys: { gtin: GTIN, lot: "L-1" } });
    });

    it("takes gtin + lot from a query, normalising the GTIN", function () {
      expect(batchRefFromQuery({ gtin: "9506000134352", lot: "L-1" })).to.deep.equal({
        batchId: id,
        keys: { gtin: GTIN, lot: "L-1" },
      });
    });

    it("refuses anything else with a message that lists the accepted forms", function () {
      expect(() => parseBatchRef("")).to.throw(Gs1Error, /required/);
      expect(() => parseBatchRef("0x1234")).to.throw(Gs1Error, /0x followed by 64 hex digits/);
      expect(() => parseBatchRef(`0x${"g".repeat(64)}`)).to.throw(Gs1Error, /64 hex digits/);
      expect(() => parseBatchRef(GTIN)).to.throw(Gs1Error, /not a batch reference.*Digital Link.*0x batchId.*gtin and lot/);
      expect(() => parseBatchRef(`/01/${GTIN}`)).to.throw(Gs1Error, /no lot; a batch needs \/10\/\{lot\}/);
      expect(() => parseBatchRef(`/01/${GTIN}/21/7`)).to.throw(Gs1Error, /no lot/);
      expect(() => batchRefFromQuery({ gtin: GTIN })).to.throw(Gs1Error, /both gtin and lot/);
      expect(() => batchRefFromQuery({ gtin: GTIN, lot: ["a", "b"] })).to.throw(Gs1Error, /once each/);
      expect(() => batchRefFromQuery({ gtin: GTIN, lot: "x".repeat(21) })).to.throw(Gs1Error, /at most 20/);
    });
  });

  describe("helpers", function () {
    it("writes the human-readable GS1 element string", function () {
      expect(elementString({ gtin: "8801234000017", lot: "JJ-2611-A" })).to.equal("(01)08801234000017(10)JJ-2611-A");
      expect(elementString({ gtin: GTIN, lot: "A", serial: "7" }, { expiry: "261231" })).to.equal(
        `(01)${GTIN}(10)A(21)7(17)261231`,
      );
    });

    it("converts GS1 dates to ISO with the sliding century window", function () {
      const today = new Date("2026-06-01T00:00:00Z");
      expect(gs1DateToIso("261231", today)).to.equal("2026-12-31");
      expect(gs1DateToIso("261200", today)).to.equal("2026-12");
      expect(gs1DateToIso("760101", today)).to.equal("2076-01-01"); // 50 years ahead: still this century
      expect(gs1DateToIso("770101", today)).to.equal("1977-01-01"); // 51 ahead: previous century
      expect(() => gs1DateToIso("2612", today)).to.throw(Gs1Error);
    });

    it("checks serials as AI 21: 1-20 characters of set 82", function () {
      expect(checkSerial("ABC/123")).to.equal("ABC/123");
      expect(() => checkSerial("")).to.throw(Gs1Error, /empty/);
      expect(() => checkSerial("a b")).to.throw(Gs1Error, /U\+0020/);
    });
  });
});
