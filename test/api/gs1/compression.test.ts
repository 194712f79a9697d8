/**
 * Compressed GS1 Digital Links: our codec (compression.ts) against the toolkit it takes its tables from
 * (digital-link.js's GS1DigitalLinkToolkit), round trips, known compressed forms computed with that toolkit, and
 * where the two deliberately part.
 */
import { expect } from "chai";
import { toolkit } from "../../../ledger-api/src/gs1/ai-table.ts";
import { compress, decompress, type Pair } from "../../../ledger-api/src/gs1/compression.ts";
import { canonicalQuery, compressDigitalLink, linkAis, parseBatchRef, parseDigitalLink } from "../../../ledger-api/src/gs1/digital-link.ts";
import { Gs1Error, batchIdOf } from "../../../ledger-api/src/gs1/keys.ts";

const GTIN = "09506000134352";

function refuses(input: string, message: RegExp): void {
  expect(() => parseDigitalLink(input)).to.throw(Gs1Error, message);
}

/** The toolkit's own compressed segment for the same AIs and pairs. */
function toolkitSegment(ais: readonly Pair[], other: readonly Pair[] = [], useSequences = true): string {
  const kit = toolkit();
  return kit.bin2base64(kit.compressGS1AIarrayToBinary(Object.fromEntries(ais), useSequences, Object.fromEntries(other)));
}

describe("GS1 Digital Link compression", function () {
  // Inputs the toolkit handles exactly: no numeric string with a leading zero outside a fixed-length field.
  const inputs: { ais: Pair[]; other?: Pair[] }[] = [
    { ais: [["01", GTIN]] },
    { ais: [["01", GTIN], ["10", "L1"]] },
    { ais: [["01", GTIN], ["10", "LOT-7"], ["21", "42"], ["17", "261231"]] },
    { ais: [["01", GTIN], ["10", "ab12"], ["3103", "000950"], ["3922", "299"]] },
    { ais: [["01", GTIN], ["10", "AB12"], ["422", "410"], ["7007", "260101260131"]] },
    { ais: [["01", GTIN], ["22", "Var.1"], ["10", "A!1"], ["15", "270101"]], other: [["lang", "ko"]] },
    { ais: [["01", GTIN], ["10", "x"], ["3932", "4101250"], ["3102", "001250"]], other: [["linkType", "gs1:pip"]] },
  ];

  it("writes exactly the segment GS1's toolkit writes, with and without sequence codes", function () {
    for (const { ais, other = [] } of inputs) {
      expect(compress({ ais, other }), JSON.stringify(ais)).to.equal(toolkitSegment(ais, other));
      expect(compress({ ais, other }, { useSequences: false })).to.equal(toolkitSegment(ais, other, false));
    }
  });

  it("reads every segment the toolkit writes back to the same AIs and pairs", function () {
    for (const { ais, other = [] } of inputs) {
      const decoded = decompress(toolkitSegment(ais, other));
      expect(Object.fromEntries(decoded.ais)).to.deep.equal(Object.fromEntries(ais));
      expect(decoded.other).to.deep.equal(other);
    }
  });

  it("gives the known compressed form of a batch link with its expiry, as the toolkit computes it", function () {
    const plain = `https://example.com/01/${GTIN}/10/L1?17=261231`;
    expect(compressDigitalLink(plain)).to.equal("https://example.com/CxFKk4XBoMReouf43g");
    expect(toolkit().decompressBinaryToGS1AIarray(toolkit().base642bin("CxFKk4XBoMReouf43g"))).to.deep.equal({
      "01": GTIN,
      "10": "L1",
      "17": "261231",
    });
  });

  it("round-trips every string encoding: digits, lower and upper hex, base64url and ASCII", function () {
    const other: Pair[] = [["a", "123"], ["b", "abc1"], ["c", "ABC1"], ["d", "aB-_"], ["e", "a b!"]];
    expect(decompress(compress({ ais: [["01", GTIN], ["10", "A!1"]], other })).other).to.deep.equal(other);
  });

  it("keeps leading zeros and long digit strings exact, where the toolkit's decoder drops or rounds them", function () {
    const ais: Pair[] = [["01", GTIN], ["10", "007"], ["21", "12345678901234567890"], ["3103", "000950"], ["3922", "0299"]];
    const segment = compress({ ais, other: [] });
    expect(Object.fromEntries(decompress(segment).ais)).to.deep.equal(Object.fromEntries(ais));
    const theirs = toolkit().decompressBinaryToGS1AIarray(toolkit().base642bin(segment));
    expect([theirs["10"], theirs["3922"]]).to.deep.equal(["7", "299"]);
  });

  it("refuses segments that do not decode, and values that do not fit the table", function () {
    expect(() => decompress("/x")).to.throw(Gs1Error, /not a compressed Digital Link segment/);
    expect(() => decompress("8A")).to.throw(Gs1Error, /code|ends/);
    expect(() => decompress(compress({ ais: [["01", GTIN]], other: [] }).slice(0, 6))).to.throw(Gs1Error, /ends in the middle/);
    // AI 11 twice, written bit by bit: "11" as two hex digits, then 261231 in the 20 bits a 6-digit number takes.
    const entry = "00010001" + (261231).toString(2).padStart(20, "0");
    expect(() => decompress(toolkit().bin2base64(entry + entry))).to.throw(Gs1Error, /gives AI 11 twice/);
    expect(() => compress({ ais: [["01", GTIN], ["10", "A".repeat(21)]], other: [] })).to.throw(Gs1Error, /longer than 20/);
    expect(() => compress({ ais: [["01", "0950600013435X"]], other: [] })).to.throw(Gs1Error, /non-digit/);
    expect(() => compress({ ais: [["4399", "1"]], other: [] })).to.throw(Gs1Error, /no compressed form/);
    expect(() => compress({ ais: [["01", GTIN]], other: [["a b", "x"]] })).to.throw(Gs1Error, /cannot be compressed/);
    expect(() => compress({ ais: [["01", GTIN]], other: [["k", "Å"]] })).to.throw(Gs1Error, /only 7-bit ASCII/);
  });
});

describe("compressed Digital Links on the parser", function () {
  it("name the same batch as their uncompressed form, fully or partially compressed", function () {
    const plain = `https://example.com/01/${GTIN}/10/L%2F1/21/S1?17=261231&3103=000195&lang=ko`;
    const full = compressDigitalLink(plain);
    expect(full).to.match(/^https:\/\/example\.com\/[A-Za-z0-9_-]+$/);
    const partial = `https://example.com/01/${GTIN}/${compress({ ais: [["10", "L/1"]], other: [] })}`;
    for (const uri of [full, partial]) {
      const link = parseDigitalLink(uri);
      expect(link.compressed).to.equal(true);
      expect(link.batchId).to.equal(batchIdOf({ gtin: GTIN, lot: "L/1" }));
      expect(parseBatchRef(uri).batchId).to.equal(link.batchId);
    }
    expect(canonicalQuery(parseDigitalLink(full))).to.equal("17=261231&3103=000195&lang=ko");
    expect(linkAis(parseDigitalLink(full))).to.deep.equal(linkAis(parseDigitalLink(plain)));
  });

  it("leave non-GS1 parameters in the query when asked to", function () {
    const kept = compressDigitalLink(`https://example.com/01/${GTIN}/10/L1?lang=ko`, { compressOtherParameters: false });
    expect(kept).to.match(/\?lang=ko$/);
    expect(parseDigitalLink(kept).params).to.deep.equal({ lang: "ko" });
  });

  it("pass every check their uncompressed form must pass", function () {
    refuses(`https://example.com/${compress({ ais: [["01", GTIN], ["422", "999"]], other: [] })}`, /ORIGIN \(AI 422\) "999" is not an ISO 3166/);
    refuses(`https://example.com/${compress({ ais: [["01", GTIN], ["3922", "299"]], other: [] })}`, /needs \(30\)/);
    refuses(`https://example.com/${compress({ ais: [["00", "006141411234567890"]], other: [] })}`, /names no GTIN/);
  });

  it("are refused with a reason when they do not decode", function () {
    refuses("https://example.com/products/apple", /no GTIN in the path.*nor is "apple" a compressed Digital Link/);
    refuses(`https://example.com/01/${GTIN}/AAAAAAAAAAAA`, /AI 00 \(SSCC\) is a primary key/);
  });
});
