/**
 * A lot with tens of thousands of observations on a phone, in a real browser: Debian's Chromium opens the imported
 * beef's page after 30,000 cold-room readings were logged for it (signed, through the store's append); the page shows
 * the summary per reading type, a uPlot chart of the temperatures whose data can be read off the page and equals the
 * answer's series, the newest observations with their badges, and verifies. Screenshot in test-artifacts/browser/.
 */
import { mkdir } from "node:fs/promises";
import { expect } from "chai";
import type { Browser } from "playwright-core";
import { demoActors, demoBatches } from "../../ledger-api/src/demo/story.ts";
import { demoWallet } from "../../ledger-api/src/demo/load.ts";
import { formatDigitalLink } from "../../ledger-api/src/gs1/digital-link.ts";
import type { Provenance } from "../../ledger-api/src/protocol/answer.ts";
import { ledgerDomain } from "../../ledger-api/src/protocol/typed-data.ts";
import { buildWebBundle } from "../../ledger-api/src/web/bundle.ts";
import { logObservations } from "../api/query/observation-log.ts";
import { launchChromium, startLiveLedger, type LiveLedger } from "./harness.ts";

const SHOTS = "test-artifacts/browser";
const READINGS = 30_000;

describe("a lot with many observations, on a phone", function () {
  this.timeout(600_000);
  let live: LiveLedger;
  let browser: Browser;
  const { beef } = demoBatches;

  before(async function () {
    await buildWebBundle();
    live = await startLiveLedger();
    const { deployments } = live.services;
    await logObservations(live.services.store, demoWallet(demoActors.stall.keyIndex), ledgerDomain(BigInt(deployments.chainId), deployments.ledger), {
      lot: beef,
      count: READINGS,
      start: new Date(Date.now() - READINGS * 60_000),
      stepSeconds: 60,
      readings: (i) => [
        { type: "Temperature", value: Math.round((-1 + Math.sin(i / 400) * 1.2) * 10) / 10, unit: "Cel" },
        ...(i % 500 === 0 ? [{ type: "Sale", value: 2 + (i % 3), unit: "kg" }] : []),
      ],
      nonceBase: 7n * 10n ** 12n,
    });
    await live.services.anchorer.anchorNow();
    await live.services.indexer.syncOnce();
    browser = await launchChromium();
    await mkdir(SHOTS, { recursive: true });
  });
  after(async function () {
    await browser?.close();
    await live?.close();
  });

  it("shows the summary and a chart of the readings, verified, with the chart's data readable from the page", async function () {
    const answer = (await (await fetch(`${live.baseUrl}/v1/batches/${encodeURIComponent(`/01/${beef.gtin}/10/${beef.lot}`)}/provenance`)).json()) as Provenance;
    expect(answer.observations.total).to.be.at.least(READINGS);
    const context = await browser.newContext({
      locale: "ko-KR",
      extraHTTPHeaders: { "Accept-Language": "ko-KR,ko;q=0.9" },
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(formatDigitalLink(live.baseUrl, beef));
      expect((await response?.body())?.length).to.be.at.most(150 * 1024);
      await page.locator('[data-testid="summary"]:not([data-state="checking"])').waitFor({ timeout: 120_000 });
      expect(await page.getByTestId("summary").getAttribute("data-state"), await page.getByTestId("summary").innerText()).to.equal("verified");

      const rows = await page.$$eval('[data-testid="readings-summary"] tbody tr', (trs) =>
        trs.map((tr) => ({ type: tr.getAttribute("data-reading"), count: Number(tr.getAttribute("data-count")), label: tr.querySelector("td")?.textContent })),
      );
      const temperature = rows.find((r) => r.type === "Temperature");
      expect(temperature?.label).to.equal("온도");
      expect(temperature?.count).to.equal(answer.observations.readings.find((r) => r.type === "Temperature")?.count);
      expect(rows.find((r) => r.type === "Sale")?.label).to.equal("판매");

      const chart = page.locator('[data-chart="reading-0"]');
      await chart.locator("canvas").waitFor();
      const drawn = JSON.parse((await chart.getAttribute("data-chart-data")) ?? "[]") as number[][];
      const series = answer.observations.readings[0]!.series;
      expect(drawn[0]).to.deep.equal(series.map((p) => p.t));
      expect(drawn[1]).to.deep.equal(series.map((p) => p.mean));
      expect(drawn[2]).to.deep.equal(series.map((p) => p.min));
      expect(drawn[3]).to.deep.equal(series.map((p) => p.max));

      const newest = await page.$$eval('[data-testid="observations"] .badge[data-index]', (els) => els.map((e) => e.getAttribute("data-state")));
      expect(newest.length).to.be.greaterThan(0);
      expect(new Set(newest)).to.deep.equal(new Set(["verified"]));
      await page.screenshot({ path: `${SHOTS}/observations-ko.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });
});
