/**
 * The market's screens in a real browser (Debian's Chromium, playwright-core) against a live ledger (anvil, the API,
 * the demo story and the demo market; test/browser/harness.ts):
 * - the demo market as `npm start` loads it: twelve stalls, a recall reaching three of them, one acknowledged;
 * - a stall's display at 1920x1080 in Korean, Chinese and English, every lot verified in the browser;
 * - a hand-off to the stall appearing on its display without a reload (server-sent events);
 * - a recall turning the display into the red alert within 5 s of being recorded;
 * - the safety centre's uPlot charts holding exactly the series GET /v1/market gives.
 * Screenshots go to test-artifacts/browser/.
 */
import { mkdir } from "node:fs/promises";
import { expect } from "chai";
import type { Browser, Page } from "playwright-core";
import { LedgerClient, signEvent } from "../../ledger-api/src/client/client.ts";
import { demoActors, demoBatches, type DemoActorName } from "../../ledger-api/src/demo/story.ts";
import { demoWallet } from "../../ledger-api/src/demo/load.ts";
import { acknowledgedLot, marketBatches } from "../../ledger-api/src/demo/market-story.ts";
import type { EventDoc } from "../../ledger-api/src/protocol/documents.ts";
import type { MarketOverview } from "../../ledger-api/src/market/overview.ts";
import { buildWebBundle } from "../../ledger-api/src/web/bundle.ts";
import { launchChromium, startLiveLedger, type LiveLedger } from "./harness.ts";

const SHOTS = "test-artifacts/browser";
const STALL_GLN = demoActors.stall.profile.gln;

const LANGUAGES = [
  { lang: "ko", acceptLanguage: "ko-KR,ko;q=0.9", words: ["원산지", "검사"] },
  { lang: "zh", acceptLanguage: "zh-CN,zh;q=0.9", words: ["产地", "检测"] },
  { lang: "en", acceptLanguage: "en-US,en;q=0.9", words: ["Origin", "Lab test"] },
] as const;

describe("the market's screens in a browser", function () {
  this.timeout(240_000);
  let live: LiveLedger;
  let browser: Browser;
  let client: LedgerClient;

  before(async function () {
    await buildWebBundle();
    live = await startLiveLedger({ market: true });
    browser = await launchChromium();
    client = new LedgerClient(live.baseUrl);
    await mkdir(SHOTS, { recursive: true });
  });
  after(async function () {
    await browser?.close();
    await live?.close();
  });

  async function submit(actor: DemoActorName, doc: EventDoc): Promise<void> {
    const signed = await signEvent(demoWallet(demoActors[actor].keyIndex), await client.domain(), doc);
    await client.submit([signed]);
  }

  /** Relays, mines and indexes everything logged: what the background workers would do within a second or two. */
  async function settle(): Promise<void> {
    const { store } = live.services;
    for (let pass = 0; pass < 20; pass++) {
      await live.services.syncOnce();
      const busy = (await store.relayCursor()) < (await store.size()) || (await store.relayRows("pending")).length > 0 || (await store.relayRows("sent")).length > 0;
      if (!busy) break;
    }
    await live.services.indexer.syncOnce();
  }

  async function openDisplay(acceptLanguage: string, query = ""): Promise<Page> {
    const context = await browser.newContext({
      locale: acceptLanguage.split(",")[0],
      extraHTTPHeaders: { "Accept-Language": acceptLanguage },
      viewport: { width: 1920, height: 1080 },
    });
    const page = await context.newPage();
    await page.goto(`${live.baseUrl}/stalls/${STALL_GLN}/display${query}`);
    return page;
  }

  /** Every card on screen has its verifier's verdict. */
  async function allVerified(page: Page): Promise<string[]> {
    await page.locator("article.lot").first().waitFor();
    const count = await page.locator("article.lot").count();
    await page.locator("article.lot[data-verification]").nth(count - 1).waitFor({ timeout: 90_000 });
    return page.$$eval("article.lot", (els) => els.map((e) => e.getAttribute("data-verification") ?? ""));
  }

  it("loads the demo market: twelve stalls, supply from four countries, a recall reaching three stalls, one acknowledged", async function () {
    const overview = (await (await fetch(`${live.baseUrl}/v1/market`)).json()) as MarketOverview;
    expect(overview.stalls).to.have.length(12);
    expect(overview.stalls.every((s) => s.lots > 0), "every stall holds lots").to.equal(true);
    expect(overview.supply.countries.map((c) => c.country)).to.include.members(["KR", "AU", "PH", "CN"]);
    expect(overview.imports.pending, "the mangoes still at customs").to.be.at.least(1);
    expect(overview.tests.totals.failed).to.be.at.least(2);
    expect(overview.tests.totals.phiViolations).to.be.at.least(1);
    const chili = overview.recalls.find((r) => r.recall.lot === marketBatches.chili.lot);
    const stalls = new Set(chili?.lots.filter((l) => l.mustAcknowledge && l.custodian.retail).map((l) => l.custodian.address));
    expect(stalls.size).to.equal(3);
    expect(chili?.summary).to.deep.include({ atRetail: 3, acknowledged: 1, awaiting: 2 });
    expect(chili?.lots.find((l) => l.lot === acknowledgedLot.lot)?.acknowledged).to.equal(true);
  });

  for (const { lang, acceptLanguage, words } of LANGUAGES) {
    it(`shows the stall's lots at 1920x1080 in ${lang}, each verified in the browser`, async function () {
      const page = await openDisplay(acceptLanguage);
      try {
        expect(await page.getAttribute("html", "lang")).to.match(new RegExp(`^${lang}`));
        expect(await page.getByTestId("stall-name").innerText()).to.equal(demoActors.stall.profile.name);
        const text = (await page.locator("main").textContent()) ?? "";
        for (const word of words) expect(text, word).to.include(word);
        expect(text).to.include("Jeju Hallabong tangerines").and.include("Australian grass-fed beef");
        // The imported beef shows its customs clearance, each lot its QR code to its shopper page.
        const beef = page.getByTestId(`lot-${demoBatches.beef.lot}`);
        expect(await beef.getByTestId("fact-customs").getAttribute("data-cleared")).to.equal("true");
        expect(await beef.locator("a.qr").getAttribute("href")).to.equal(`/01/${demoBatches.beef.gtin}/10/${demoBatches.beef.lot}?lang=${lang}`);
        expect(new Set(await allVerified(page))).to.deep.equal(new Set(["verified"]));
        const badges = await page.$$eval(".badge", (els) => els.map((e) => e.getAttribute("data-state")));
        expect(badges.length).to.be.greaterThan(3);
        expect(new Set(badges)).to.deep.equal(new Set(["verified"]));
        // Large type: the product name is readable from two metres.
        const size = await page.locator(".product").first().evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
        expect(size).to.be.at.least(36);
        await page.screenshot({ path: `${SHOTS}/stall-display-${lang}.png` });
      } finally {
        await page.context().close();
      }
    });
  }

  it("shows a lot handed to the stall without a reload, and turns red within 5 s of a recall of a lot on display", async function () {
    const page = await openDisplay("en-US,en;q=0.9");
    try {
      await page.getByTestId("live").and(page.locator("[data-state=live]")).waitFor({ timeout: 30_000 });
      const versionBefore = await page.evaluate(() => document.body.dataset.version);
      // Marks the document: a reload would lose it.
      await page.evaluate(() => document.documentElement.setAttribute("data-test-session", "kept"));

      const lot = { gtin: demoBatches.spinach.gtin, lot: "NY-2611-09" };
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
      await submit("greensFarm", {
        kind: "Registered",
        batch: lot,
        occurredAt: now,
        product: "Spinach (Namyangju), second cut",
        origin: { country: "KR", region: "Gyeonggi-do, Namyangju-si", farm: { name: "Namyangju Greens Farm" } },
        harvestDate: now.slice(0, 10),
        quantity: { value: 40, unit: "kg" },
        imported: false,
      });
      await settle();
      await submit("greensFarm", { kind: "HandOffOffered", batch: lot, occurredAt: now, to: demoWallet(demoActors.stall.keyIndex).address });
      await settle();
      await submit("stall", { kind: "HandOffAccepted", batch: lot, occurredAt: now, from: demoWallet(demoActors.greensFarm.keyIndex).address });
      await settle();
      await page.getByTestId(`lot-${lot.lot}`).waitFor({ timeout: 30_000 });
      expect(await page.evaluate(() => document.documentElement.getAttribute("data-test-session"))).to.equal("kept");
      expect(await page.evaluate(() => document.body.dataset.version)).to.not.equal(versionBefore);
      expect(await page.getByTestId("recall-alert").count()).to.equal(0);
      await page.screenshot({ path: `${SHOTS}/stall-display-handoff.png` });

      // The regulator recalls the farm lot the stall's tangerines were cut from.
      await submit("regulator", {
        kind: "Recalled",
        batch: demoBatches.tangerines,
        occurredAt: now,
        reason: "Imidacloprid residue over its limit in a follow-up sample (SG-26-12077).",
        reference: "RECALL-26-0415",
      });
      await settle();
      const alert = page.getByTestId("recall-alert");
      await alert.waitFor({ timeout: 5_000 });
      expect(await page.evaluate(() => document.documentElement.getAttribute("data-test-session"))).to.equal("kept");
      const box = await alert.boundingBox();
      expect(box?.width).to.equal(1920);
      const background = await alert.evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(background).to.equal("rgb(196, 0, 26)");
      const text = await alert.innerText();
      expect(text).to.include("STOP SELLING").and.include(demoBatches.tangerineStallLots[0].lot).and.include("Acknowledge");
      expect(await alert.getByTestId(`recall-lot-${demoBatches.tangerineStallLots[0].lot}`).getAttribute("data-acknowledged")).to.equal("false");
      await page.screenshot({ path: `${SHOTS}/stall-display-recall.png` });
    } finally {
      await page.context().close();
    }
  });

  it("draws the safety centre's charts with exactly the series GET /v1/market gives", async function () {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1400 }, extraHTTPHeaders: { "Accept-Language": "ko-KR,ko;q=0.9" } });
    const page = await context.newPage();
    try {
      await page.goto(`${live.baseUrl}/market`);
      await page.locator("body[data-charts=ready]").waitFor({ timeout: 30_000 });
      const overview = (await (await fetch(`${live.baseUrl}/v1/market`)).json()) as MarketOverview;
      const seconds = (days: readonly string[]) => days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
      const supply = JSON.parse((await page.getByTestId("supply-chart").getAttribute("data-chart-data")) ?? "null") as unknown[];
      expect(supply).to.deep.equal([seconds(overview.supply.days), ...overview.supply.countries.map((c) => c.lots)]);
      const tests = JSON.parse((await page.getByTestId("tests-chart").getAttribute("data-chart-data")) ?? "null") as unknown[];
      expect(tests).to.deep.equal([seconds(overview.tests.days), overview.tests.tests, overview.tests.failed, overview.tests.phiViolations, overview.tests.passRate]);
      expect(overview.tests.totals.tests).to.be.greaterThan(0);
      // uPlot drew them: a canvas per chart, and the legend names each series.
      expect(await page.locator("[data-chart] canvas").count()).to.equal(2);
      expect(await page.getByTestId("supply-chart").innerText()).to.include("(KR)").and.include("(AU)");
      // The recall of the test above is listed with its reach: the stall's lot, not acknowledged.
      const reachRow = page.getByTestId(`reach-${demoBatches.tangerineStallLots[0].lot}`);
      expect(await reachRow.getAttribute("data-acknowledged")).to.equal("false");
      await page.screenshot({ path: `${SHOTS}/market-centre-ko.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });
});
