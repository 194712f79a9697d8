/**
 * What GS1's AI table and the General Specifications add to Digital Link parsing: every data attribute with its
 * format, check digit and content rules (dates, ISO 3166 and ISO 4217 codes, IBAN, GMN check pair, ...), the
 * pairing rules, "+" as a space in the query, and each deliberate deviation README "GS1 Digital Link" lists, one
 * test per deviation. Values are our own, made to hit each rule.
 */
import { expect } from "chai";
import { aiEntry, aiTable, parseFormat } from "../../../ledger-api/src/gs1/ai-table.ts";
import { checkAiValue } from "../../../ledger-api/src/gs1/ai-values.ts";
import { elementString, formatDigitalLink, parseDigitalLink } from "../../../ledger-api/src/gs1/digital-link.ts";
import { Gs1Error } from "../../../ledger-api/src/gs1/keys.ts";
import { checkPairing } from "../../../ledger-api/src/gs1/pairing.ts";

const GTIN = "09506000134352";
const BATCH = `/01/${GTIN}/10/L1`;

function refuses(input: string, message: RegExp): void {
  expect(() => parseDigitalLink(input)).to.throw(Gs1Error, message);
}

function other(query: string): Readonly<Record<string, string>> {
  return parseDigitalLink(`${BATCH}?${query}`).attributes.other;
}

describe("GS1 AI table (the digital-link.js toolkit's aitable)", function () {
  it("knows the AIs of the toolkit, each with its role", function () {
    expect(aiTable().size).to.be.greaterThan(450);
    expect(aiEntry("01")?.role).to.equal("primary key");
    expect(aiEntry("10")?.role).to.equal("key qualifier");
    expect(aiEntry("3922")?.role).to.equal("data attribute");
    expect(aiEntry("4399")).to.equal(undefined);
  });

  it("reads formats as components: fixed, variable, a minimum, several parts", function () {
    expect(parseFormat("N6")).to.deep.equal([{ type: "N", min: 6, max: 6 }]);
    expect(parseFormat("X..20")).to.deep.equal([{ type: "X", min: 1, max: 20 }]);
    expect(parseFormat("N6..12")).to.deep.equal([{ type: "N", min: 6, max: 12 }]);
    expect(parseFormat("N3+N..15")).to.deep.equal([
      { type: "N", min: 3, max: 3 },
      { type: "N", min: 1, max: 15 },
    ]);
    expect(() => parseFormat("Q7")).to.throw(/unreadable AI format/);
  });

  it("corrects the formats the toolkit has from before the current standard", function () {
    expect(aiEntry("3932")?.format).to.equal("N3+N..15");
    expect(aiEntry("7031")?.format).to.equal("N3+X..27");
    expect(aiEntry("8013")?.format).to.equal("X..25");
    expect(other(`7031=410${"A".repeat(27)}`)["7031"]).to.have.length(30);
  });
});

describe("data attributes: format, check digit and content", function () {
  it("accepts the variable-weight price AIs 392n and 393n a fresh-food label prints, beside the weight they price", function () {
    expect(other("3103=000195&3922=0299&17=261231")).to.deep.equal({ "3103": "000195", "3922": "0299" });
    expect(other("3102=001250&3932=4101250")["3932"]).to.equal("4101250");
    expect(other("30=12&3921=0450")["3921"]).to.equal("0450");
  });

  it("checks the length and character set of every component, naming the format", function () {
    refuses(`${BATCH}?3100=1`, /NET WEIGHT \(kg\) \(AI 3100\) "1" is too short: format N6/);
    refuses(`${BATCH}?7008=ABCD`, /AQUATIC SPECIES \(AI 7008\) "ABCD" is too long: format X\.\.3/);
    refuses(`${BATCH}?7010=%C3%85`, /PROD METHOD \(AI 7010\) "Å" must be GS1 character set 82/);
    refuses(`${BATCH}?3103=00019A`, /must be digits only/);
  });

  it("checks the GS1 check digit where the table places one", function () {
    expect(other("410=9520123456788")["410"]).to.equal("9520123456788");
    refuses(`${BATCH}?410=9520123456789`, /SHIP TO LOC \(AI 410\) "9520123456789" has check digit 9, expected 8/);
    expect(checkAiValue("253", "9520123456788DOC-1")).to.equal("9520123456788DOC-1");
    expect(() => checkAiValue("253", "9520123456787DOC-1")).to.throw(Gs1Error, /check digit 7, expected 8/);
  });

  it("takes only ISO 3166 numeric country codes in AIs 421-426 and 703n, and 999 only where 703n allows it", function () {
    expect(other("422=410")["422"]).to.equal("410");
    expect(other("423=410156276")["423"]).to.equal("410156276");
    expect(other("421=41012345")["421"]).to.equal("41012345");
    for (const ai of ["422", "424", "426"]) {
      refuses(`${BATCH}?${ai}=999`, new RegExp(`\\(AI ${ai}\\) "999" is not an ISO 3166 numeric country code`));
      refuses(`${BATCH}?${ai}=000`, /is not an ISO 3166/);
    }
    refuses(`${BATCH}?423=410999`, /\(AI 423\) "999" is not an ISO 3166/);
    refuses(`${BATCH}?425=4101`, /\(AI 425\) "4101" is 4 digits; it must be one to five 3-digit ISO 3166 country codes/);
    refuses(`${BATCH}?421=410`, /\(AI 421\) "410" has no postal code/);
    // 983 is user-assigned (Kosovo in some lists), not an ISO 3166 code.
    refuses(`${BATCH}?422=983`, /is not an ISO 3166/);
    expect(other("7030=999AB-17")["7030"]).to.equal("999AB-17");
    refuses(`${BATCH}?7030=123AB`, /"123" is neither an ISO 3166 numeric country code nor 999/);
  });

  it("takes only ISO 4217 numeric currency codes in AIs 391n and 393n", function () {
    expect(other("3102=001250&3932=9780099")["3932"]).to.equal("9780099");
    refuses(`${BATCH}?3932=0001250&3102=001250`, /PRICE \(AI 3932\) "000" is not an ISO 4217 numeric currency code/);
    refuses(`${BATCH}?3932=410&3102=001250`, /"410" has no amount/);
  });

  it("checks dates, times and date ranges as real days and hours", function () {
    expect(parseDigitalLink(`${BATCH}?7007=260101260131`).attributes.harvestDate).to.equal("260101260131");
    expect(other("8008=2612312359")["8008"]).to.equal("2612312359");
    expect(other("7003=2612312359")["7003"]).to.equal("2612312359");
    refuses(`${BATCH}?7007=2601012601`, /harvest date \(AI 7007\) "2601012601" is neither one YYMMDD date nor two/);
    refuses(`${BATCH}?8008=26123125`, /PROD TIME \(AI 8008\) "25" has hour 25; it must be 00-23/);
    refuses(`${BATCH}?8008=261231235`, /must be YYMMDDHH with optional MM and SS/);
    refuses(`${BATCH}?7003=2612312360`, /"60" has minute 60/);
    refuses(`${BATCH}?16=260231`, /has day 31; month 02 of year 26 has days 01-28 \(or 00 when the day is unknown\)/);
  });

  it("checks an IBAN's country and check digits, a GMN's check pair, a piece of a total and a roll's dimensions", function () {
    expect(checkAiValue("8007", "GB82WEST12345698765432")).to.equal("GB82WEST12345698765432");
    expect(() => checkAiValue("8007", "GB82WEST12345698765431")).to.throw(Gs1Error, /wrong IBAN check digits/);
    expect(() => checkAiValue("8007", "QQ82WEST12345698765432")).to.throw(Gs1Error, /QQ, which is not an ISO 3166 alpha-2/);
    expect(checkAiValue("8013", "1987654Ad4X4bL5ttr2310c2K")).to.equal("1987654Ad4X4bL5ttr2310c2K");
    expect(() => checkAiValue("8013", "1987654Ad4X4bL5ttr2310c3K")).to.throw(Gs1Error, /check characters 3K, expected 2K/);
    expect(checkAiValue("8026", "095060001343520203")).to.equal("095060001343520203");
    expect(() => checkAiValue("8026", "095060001343520302")).to.throw(Gs1Error, /piece 03 of only 02/);
    expect(() => checkAiValue("8026", "095060001343520002")).to.throw(Gs1Error, /neither may be 00/);
    expect(other("8001=12345678901294")["8001"]).to.equal("12345678901294");
    refuses(`${BATCH}?8001=12345678901234`, /winding direction 3; it must be 0, 1 or 9/);
    refuses(`${BATCH}?8001=00005678901204`, /a zero width, length or core diameter/);
  });
});

describe("pairing rules (General Specifications §4.14)", function () {
  it("needs a count or a measure beside a variable-measure price", function () {
    refuses(`${BATCH}?3922=0299`, /PRICE \(AI 3922\) needs \(30\) or \(31nn\) or \(32nn\) or \(35nn\) or \(36nn\) on the same item/);
    refuses(`${BATCH}?3932=9780299`, /PRICE \(AI 3932\) needs \(30\) or \(31nn\)/);
  });

  it("needs the AI each dependent attribute belongs to", function () {
    refuses(`${BATCH}?427=AB`, /ORIGIN SUBDIVISION \(AI 427\) needs \(422\) on the same item/);
    expect(other("422=410&427=11")).to.deep.equal({ "422": "410", "427": "11" });
    refuses(`${BATCH}?250=X`, /SECONDARY SERIAL \(AI 250\) needs \(21\)/);
    expect(parseDigitalLink(`${BATCH}/21/S1?250=X`).attributes.other["250"]).to.equal("X");
    refuses(`${BATCH}?12=261231`, /DUE DATE \(AI 12\) needs \(8020\)/);
    refuses(`${BATCH}?7004=12`.replace("/10/L1", ""), /ACTIVE POTENCY \(AI 7004\) needs \(10\)/);
  });

  it("refuses pairs that contradict each other, and one quantity given twice", function () {
    refuses(`${BATCH}?422=410&426=410`, /ORIGIN \(AI 422\) cannot appear together with COUNTRY - FULL PROCESS \(AI 426\)/);
    refuses(`${BATCH}?3103=000195&3922=0299&3932=4100299`, /PRICE \(AI 3922\) cannot appear together with PRICE \(AI 3932\)/);
    refuses(`${BATCH}?3102=001250&3103=000125`, /\(AI 3102\) cannot appear together with .*\(AI 3103\): the same quantity is given once/);
    expect(() => checkPairing(["01", "02"])).to.throw(Gs1Error, /GTIN\) \(AI 01\)|\(AI 01\) cannot appear together with .*\(AI 02\)/);
  });

  it("holds for the links and element strings the ledger writes, too", function () {
    const attributes = { other: { "3922": "0299" } };
    expect(() => formatDigitalLink("https://example.com", { gtin: GTIN, lot: "L1" }, attributes)).to.throw(Gs1Error, /needs \(30\)/);
    expect(() => elementString({ gtin: GTIN, lot: "L1" }, attributes)).to.throw(Gs1Error, /needs \(30\)/);
  });
});

describe("the query string read as GS1 reads it", function () {
  it("reads + in a query value as a space, and %2B as a plus sign", function () {
    expect(other("90=A%2BB")["90"]).to.equal("A+B");
    expect(parseDigitalLink(`${BATCH}?note=two+words`).params.note).to.equal("two words");
    refuses(`${BATCH}?90=A+B`, /INTERNAL \(AI 90\) "A B" must be GS1 character set 82/);
  });

  it("keeps + in the path a plus sign: only the query string is form-encoded", function () {
    expect(parseDigitalLink(`/01/${GTIN}/10/A+B`).lot).to.equal("A+B");
  });
});

describe("deliberate deviations from GS1 (README: GS1 Digital Link)", function () {
  it("accepts a mixed-case scheme or host and lower-cases them (RFC 3986), where GS1 refuses a mixed-case scheme", function () {
    expect(parseDigitalLink(`HtTpS://Example.COM/01/${GTIN}/10/L1`).base).to.equal("https://example.com");
  });

  it("refuses a link keyed by any primary key but GTIN, and a second primary key in the query", function () {
    refuses("https://id.gs1.org/00/952012345678912345", /primary key is AI 00 \(SSCC\); batches here are named by GTIN/);
    refuses(`https://example.com/01/${GTIN}?8004=9520614141234567`, /AI 8004 \(GIAI\) is a primary key and cannot qualify a GTIN/);
    refuses(`${BATCH}?254=X`, /AI 254 \(GLN EXTENSION COMPONENT\) qualifies another primary key, not a GTIN/);
  });

  it("refuses the TPX qualifier (AI 235), which names no lot", function () {
    refuses(`https://example.com/01/${GTIN}/235/XYZ`, /AI 235 \(third-party serial extension, TPX\) is not supported/);
  });

  it("accepts one trailing slash, GTIN-8/12/13 and the convenience alphas, as labels printed under older rules have them", function () {
    expect(parseDigitalLink(`https://example.com/01/${GTIN}/10/L1/`).lot).to.equal("L1");
    expect(parseDigitalLink("https://example.com/01/9506000134352/10/L1").gtin).to.equal(GTIN);
    expect(parseDigitalLink(`https://example.com/gtin/${GTIN}/lot/L1`).lot).to.equal("L1");
  });

  it("keeps unknown non-AI query parameters (GS1 ignores them) and refuses numeric ones that are no AI", function () {
    expect(parseDigitalLink(`${BATCH}?utm_source=label&lang=ko`).params).to.deep.equal({ utm_source: "label", lang: "ko" });
    refuses(`${BATCH}?999=x`, /AI 999 in the query string is not a data attribute this ledger accepts/);
  });

  it("refuses AIs GS1 allocated after the toolkit's table, as unknown", function () {
    for (const ai of ["3950", "4321", "7011", "7250", "8030"]) {
      refuses(`${BATCH}?${ai}=1`, new RegExp(`AI ${ai} in the query string is not a data attribute this ledger accepts`));
    }
  });

  it("accepts the product URL (8200) as a data attribute, as the toolkit types it, where GS1 does not permit it", function () {
    expect(other("8200=https%3A%2F%2Fexample.com")["8200"]).to.equal("https://example.com");
  });

  it("accepts data attributes that are valid but say nothing about a batch, and passes them on", function () {
    const link = parseDigitalLink(`${BATCH}?7002=SIRLOIN&8001=01000050001911`);
    expect(link.attributes.other).to.deep.equal({ "7002": "SIRLOIN", "8001": "01000050001911" });
    expect(link.keys).to.deep.equal({ gtin: GTIN, lot: "L1" });
  });

  it("refuses the North American coupon AIs 8110 and 8112 rather than pass data it cannot check", function () {
    refuses(`${BATCH}?8110=106141412345`, /\(AI 8110\) "106141412345" is North American coupon data/);
    refuses(`${BATCH}?8112=0614141`, /\(AI 8112\) .* is North American coupon data/);
  });

  it("checks fish species, fishing gear and catch area for format only: no kept package holds those code lists", function () {
    expect(other("7005=27&7008=COD&7009=TX-1")).to.deep.equal({ "7005": "27", "7008": "COD", "7009": "TX-1" });
  });
});
