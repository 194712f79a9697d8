/**
 * The resolver reads compressed GS1 Digital Links (GS1's resolver standard requires it) and every data attribute
 * GS1's dictionary permits, on the real app over the demo story (test/api/harness.ts).
 */
import { expect } from "chai";
import { demoBatches } from "../../../ledger-api/src/demo/story.ts";
import { compressDigitalLink } from "../../../ledger-api/src/gs1/digital-link.ts";
import { compress } from "../../../ledger-api/src/gs1/compression.ts";
import { startLedger, type Ledger } from "../harness.ts";

const { tangerines } = demoBatches;
const PATH = `/01/${tangerines.gtin}/10/${tangerines.lot}`;

describe("GS1 Digital Link resolver: compressed links and data attributes", function () {
  let ledger: Ledger;

  before(async function () {
    ledger = await startLedger();
    await ledger.playDemoStory();
  });
  after(async function () {
    await ledger?.close();
  });

  const get = (url: string, accept = "application/json") => ledger.app.inject({ method: "GET", url, headers: { accept } });

  it("redirects a compressed link (301) to its uncompressed canonical URI, which answers for the same batch", async function () {
    const compressed = compressDigitalLink(`${PATH}?3103=000950&3922=0299&lang=ko`);
    const res = await get(compressed);
    expect(res.statusCode, res.body).to.equal(301);
    expect(res.headers.location).to.equal(`${PATH}?3103=000950&3922=0299&lang=ko`);
    const plain = await get(res.headers.location as string);
    expect(plain.statusCode, plain.body).to.equal(200);
    expect((JSON.parse(plain.body) as { batch: { lot: string } }).batch.lot).to.equal(tangerines.lot);
  });

  it("redirects a partially compressed link (/01/{gtin}/{compressed}) the same way", async function () {
    const segment = compress({ ais: [["10", tangerines.lot], ["17", "261231"]], other: [] });
    const res = await get(`/01/${tangerines.gtin}/${segment}`);
    expect(res.statusCode, res.body).to.equal(301);
    expect(res.headers.location).to.equal(`${PATH}?17=261231`);
  });

  it("answers a compressed link that breaks a GS1 rule with 400 INVALID_IDENTIFIER, and other root paths with 404", async function () {
    const bad = compress({ ais: [["01", tangerines.gtin], ["10", tangerines.lot], ["422", "999"]], other: [] });
    const res = await get(`/${bad}`);
    expect(res.statusCode).to.equal(400);
    expect((JSON.parse(res.body) as { message: string }).message).to.match(/ORIGIN \(AI 422\) "999" is not an ISO 3166/);
    const partial = await get(`/01/${tangerines.gtin}/${compress({ ais: [["422", "999"]], other: [] })}`);
    expect(partial.statusCode).to.equal(400);
    expect(JSON.parse(partial.body)).to.include({ code: "INVALID_IDENTIFIER" });
    expect((JSON.parse(partial.body) as { message: string }).message).to.match(/"999" is not an ISO 3166/);
    expect((await get("/no-such-page")).statusCode).to.equal(404);
    expect((await get("/01")).statusCode).to.equal(404);
  });

  it("serves a batch URI with fresh-food data attributes, and refuses an invalid country of origin with 400", async function () {
    const ok = await get(`${PATH}?3103=000950&3922=0299&422=410`);
    expect(ok.statusCode, ok.body).to.equal(200);
    const bad = await get(`${PATH}?422=999`);
    expect(bad.statusCode).to.equal(400);
    expect(JSON.parse(bad.body)).to.include({ code: "INVALID_IDENTIFIER" });
  });
});
