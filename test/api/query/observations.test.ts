/**
 * Observations at any volume: a lot's answer carries the store's summary, the newest few observations and a cursor;
 * the pages reach every older observation exactly once, each verifiable on its own; the pages fill the answer's
 * history and recount its summary; and a lot with 200,000 observations is answered within the same bounds as a
 * small one. Real services on Hardhat's in-process chain (test/api/harness.ts); the big runs of observations are
 * signed and logged through the store's append (observation-log.ts), the demo story through the API.
 */
import { expect } from "chai";
import { demoBatches } from "../../../ledger-api/src/demo/story.ts";
import { ANSWER_LIMITS, type ObservationPage, type Provenance } from "../../../ledger-api/src/protocol/answer.ts";
import type { ObservedDoc } from "../../../ledger-api/src/protocol/documents.ts";
import { Kind } from "../../../ledger-api/src/protocol/typed-data.ts";
import { providerReader, verifyObservationPages, verifyProvenance } from "../../../ledger-api/src/verify/verify.ts";
import { ethers, startLedger, type Ledger } from "../harness.ts";
import { logObservations } from "./observation-log.ts";

type Keys = { readonly gtin: string; readonly lot: string };
const { tangerineStallLots, beef } = demoBatches;
const [stallLot] = tangerineStallLots as [Keys, Keys];

const pathOf = (keys: Keys) => encodeURIComponent(`/01/${keys.gtin}/10/${keys.lot}`);

describe("observations at any volume", function () {
  let ledger: Ledger;
  const reader = providerReader(ethers.provider);
  const trust = () => ({
    chainId: ledger.chain.deployments.chainId,
    ledger: ledger.chain.deployments.ledger,
    anchor: ledger.chain.deployments.anchor,
  });

  async function answerOf(keys: Keys): Promise<{ answer: Provenance; bytes: number }> {
    const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${pathOf(keys)}/provenance` });
    expect(res.statusCode, res.body.slice(0, 300)).to.equal(200);
    return { answer: res.json() as Provenance, bytes: Buffer.byteLength(res.body) };
  }

  async function pagesFrom(keys: Keys, cursor: string | null, limit: number, between?: () => Promise<void>): Promise<ObservationPage[]> {
    const pages: ObservationPage[] = [];
    let next = cursor;
    while (next !== null) {
      const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${pathOf(keys)}/observations?cursor=${next}&limit=${limit}` });
      expect(res.statusCode, res.body.slice(0, 300)).to.equal(200);
      const page = res.json() as ObservationPage;
      pages.push(page);
      next = page.next;
      if (between && pages.length === 1) await between();
    }
    return pages;
  }

  /** The lot's Observed entries as the store has them: the recount a summary must equal. */
  async function recount(keys: Keys): Promise<{ indices: number[]; byType: Map<string, { count: number; min: number; max: number }> }> {
    const { batchIdOf } = await import("../../../ledger-api/src/protocol/typed-data.ts");
    const entries = (await ledger.services.store.entriesOfBatch(batchIdOf(keys.gtin, keys.lot))).filter((e) => e.kind === Kind.Observed);
    const byType = new Map<string, { count: number; min: number; max: number }>();
    for (const e of entries) {
      for (const r of (JSON.parse(e.body).doc as ObservedDoc).readings ?? []) {
        const t = byType.get(`${r.type}/${r.unit}`);
        if (t === undefined) byType.set(`${r.type}/${r.unit}`, { count: 1, min: r.value, max: r.value });
        else byType.set(`${r.type}/${r.unit}`, { count: t.count + 1, min: Math.min(t.min, r.value), max: Math.max(t.max, r.value) });
      }
    }
    return { indices: entries.map((e) => e.index), byType };
  }

  before(async function () {
    this.timeout(600_000);
    ledger = await startLedger({ env: { OBSERVATIONS_PER_LOT_PER_DAY: "0" } });
    await ledger.playDemoStory();
  });

  after(async function () {
    await ledger?.close();
  });

  describe("a stall lot with 1,000 observations around a hand-off offered and cancelled", function () {
    let answer: Provenance;
    const start = new Date(Date.now() - 3 * 86_400_000);

    before(async function () {
      this.timeout(300_000);
      const stall = ledger.chain.actors.stall;
      const run = (count: number, nonceBase: bigint, from: Date) => ({
        lot: stallLot,
        count,
        start: from,
        stepSeconds: 60,
        // Temperature every minute, a sale every tenth: two reading types, two units.
        readings: (i: number) => [
          { type: "Temperature", value: Math.round((2 + Math.sin(i / 50) * 3) * 10) / 10, unit: "Cel" },
          ...(i % 10 === 0 ? [{ type: "Sale", value: 1 + (i % 7), unit: "kg" }] : []),
        ],
        nonceBase,
      });
      await logObservations(ledger.services.store, stall, ledger.chain.domain, run(500, 10n ** 12n, start));
      const offer = await ledger.post(
        await ledger.sign("stall", { kind: "HandOffOffered", batch: stallLot, occurredAt: new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z"), to: ledger.chain.actors.wholesaler.address }),
      );
      expect(offer.statusCode, JSON.stringify(offer.json)).to.equal(202);
      await ledger.sync();
      const cancel = await ledger.post(
        await ledger.sign("stall", { kind: "HandOffCancelled", batch: stallLot, occurredAt: new Date(Date.now() - 86_000_000).toISOString().replace(/\.\d{3}Z$/, "Z"), to: ledger.chain.actors.wholesaler.address }),
      );
      expect(cancel.statusCode, JSON.stringify(cancel.json)).to.equal(202);
      await ledger.sync();
      await logObservations(ledger.services.store, stall, ledger.chain.domain, run(500, 2n * 10n ** 12n, new Date(start.getTime() + 500 * 60_000)));
      await ledger.services.anchorer.anchorNow();
      await ledger.sync();
      answer = (await answerOf(stallLot)).answer;
    });

    it("shows every lifecycle entry and only the newest observations in full, with a cursor to the rest", function () {
      const observed = answer.timeline.filter((t) => t.kind === "Observed");
      expect(answer.observations.total).to.equal(1000 + 1); // the demo's own sale reading, plus the run
      expect(observed.length).to.equal(ANSWER_LIMITS.newestObservations);
      expect(answer.observations.shown).to.equal(observed.length);
      expect(answer.timeline.map((t) => t.kind)).to.include.members(["HandOffOffered", "HandOffCancelled", "HandOffAccepted"]);
      expect(answer.observations.next).to.be.a("string");
      // The chain passes through older observations twice: before the offer, and between the cancel and the newest five.
      expect(answer.observations.runs.length).to.equal(2);
      expect(answer.completeness.prevIndexChainUnbroken).to.equal(true);
    });

    it("summarises each reading type exactly as a recount of the log does, and never calls a sale a temperature", async function () {
      const counted = await recount(stallLot);
      expect(answer.observations.types).to.equal(counted.byType.size);
      for (const r of answer.observations.readings) {
        const c = counted.byType.get(`${r.type}/${r.unit}`);
        expect(c, r.type).to.not.equal(undefined);
        expect({ count: r.count, min: r.min, max: r.max }, r.type).to.deep.equal(c);
      }
      const sale = answer.observations.readings.find((r) => r.type === "Sale");
      expect(sale?.unit).to.equal("kg");
      const temperature = answer.observations.readings.find((r) => r.type === "Temperature");
      expect(temperature?.series.length).to.be.within(1, ANSWER_LIMITS.chartPoints);
      expect(temperature?.series.reduce((n, p) => n + p.n, 0)).to.equal(temperature?.count);
      const res = await ledger.app.inject({ method: "GET", url: `/01/${stallLot.gtin}/10/${stallLot.lot}?lang=ko`, headers: { accept: "text/html" } });
      const summary = res.body.slice(res.body.indexOf('data-testid="readings-summary"'), res.body.indexOf("</table>", res.body.indexOf('data-testid="readings-summary"')));
      expect(summary).to.include('data-reading="Sale"').and.include("판매").and.include("온도");
      expect(summary.slice(summary.indexOf('data-reading="Sale"'))).to.not.match(/^[^<]*<td>온도/);
    });

    it("pages every older observation exactly once, newest first, even while new ones are logged", async function () {
      const pages = await pagesFrom(stallLot, answer.observations.next, 97, async () => {
        await logObservations(ledger.services.store, ledger.chain.actors.stall, ledger.chain.domain, {
          lot: stallLot,
          count: 3,
          start: new Date(),
          stepSeconds: 1,
          readings: () => [{ type: "Temperature", value: 9, unit: "Cel" }],
          nonceBase: 3n * 10n ** 12n,
        });
      });
      const paged = pages.flatMap((p) => p.entries.map((e) => e.index));
      const shown = answer.timeline.filter((t) => t.kind === "Observed").map((t) => t.index);
      const before = (await recount(stallLot)).indices.filter((i) => i <= Math.max(...shown));
      expect(new Set(paged).size).to.equal(paged.length);
      expect([...paged, ...shown].sort((a, b) => a - b)).to.deep.equal(before);
      for (const page of pages) expect(page.entries.map((e) => e.index)).to.deep.equal([...page.entries.map((e) => e.index)].sort((a, b) => b - a));
    });

    it("verifies the answer, each paged observation on its own, and the pages against the answer's history and summary", async function () {
      this.timeout(300_000);
      const v = await verifyProvenance(answer, reader, { trust: trust() });
      expect(v.batch.filter((c) => c.status !== "verified").map((c) => `${c.name}: ${c.detail}`)).to.deep.equal([]);
      expect(v.batch.find((c) => c.name === "history")?.detail).to.match(/passing through 2 runs/);
      const pages = await pagesFrom(stallLot, answer.observations.next, 200);
      const all = await verifyObservationPages(answer, pages, reader, { trust: trust(), complete: true });
      expect(all.entries.length).to.equal(1000 + 1 - ANSWER_LIMITS.newestObservations);
      expect(all.entries.filter((e) => e.status !== "verified").map((e) => e.index)).to.deep.equal([]);
      expect(all.observations?.status, all.observations?.detail).to.equal("verified");
    });

    it("fails the pages that leave out an observation, a summary and a chart the observations do not recount", async function () {
      this.timeout(300_000);
      const pages = await pagesFrom(stallLot, answer.observations.next, 200);
      const short = structuredClone(pages);
      short[1]!.entries.splice(3, 1);
      const left = await verifyObservationPages(answer, short, reader, { trust: trust(), complete: true });
      expect(left.observations?.status).to.equal("failed");
      expect(left.observations?.detail).to.match(/in no page/);
      const inflated = structuredClone(answer);
      inflated.observations.readings[0]!.max += 10;
      const wrong = await verifyObservationPages(inflated, pages, reader, { trust: trust(), complete: true });
      expect(wrong.observations?.status).to.equal("failed");
      // A chart that draws other temperatures than the observations hold.
      const redrawn = structuredClone(answer);
      const series = redrawn.observations.readings.find((r) => r.type === "Temperature")!.series;
      series[0]!.mean += 0.25;
      const chart = await verifyObservationPages(redrawn, pages, reader, { trust: trust(), complete: true });
      expect(chart.observations?.detail).to.match(/the chart is not what the observations draw/);
    });

    it("fails an answer whose history skips entries where it declares no run", async function () {
      const tampered = structuredClone(answer);
      tampered.observations.runs.pop();
      const v = await verifyProvenance(tampered, reader, { trust: trust() });
      expect(v.batch.find((c) => c.name === "history")?.status).to.equal("failed");
    });
  });

  describe("a lot with 200,000 observations", function () {
    it("is answered within the bounds of a small lot: answer <= 100 KB, page <= 150 KB, verifiable", async function () {
      this.timeout(1_800_000);
      const before = (await answerOf(beef)).answer.observations.total;
      await logObservations(ledger.services.store, ledger.chain.actors.stall, ledger.chain.domain, {
        lot: beef,
        count: 200_000,
        start: new Date(Date.now() - 200_000 * 60_000),
        stepSeconds: 60,
        readings: (i) => [
          { type: "Temperature", value: Math.round((-1 + Math.cos(i / 300) * 1.5) * 10) / 10, unit: "Cel" },
          ...(i % 3 === 0 ? [{ type: "Humidity", value: 80 + (i % 15), unit: "%" }] : []),
        ],
        nonceBase: 5n * 10n ** 12n,
      });
      await ledger.services.anchorer.anchorNow();
      await ledger.sync();
      const { answer, bytes } = await answerOf(beef);
      expect(answer.observations.total).to.equal(before + 200_000);
      expect(bytes).to.be.at.most(100 * 1024);
      expect(answer.timeline.filter((t) => t.kind === "Observed").length).to.equal(ANSWER_LIMITS.newestObservations);
      const page = await ledger.app.inject({ method: "GET", url: `/01/${beef.gtin}/10/${beef.lot}`, headers: { accept: "text/html" } });
      expect(page.statusCode).to.equal(200);
      expect(Buffer.byteLength(page.body)).to.be.at.most(150 * 1024);
      const v = await verifyProvenance(answer, reader, { trust: trust() });
      expect(v.status, JSON.stringify(v.batch.filter((c) => c.status !== "verified"))).to.equal("verified");
      const [first] = await (async () => {
        const res = await ledger.app.inject({ method: "GET", url: `/v1/batches/${pathOf(beef)}/observations?cursor=${answer.observations.next}` });
        return [res.json() as ObservationPage];
      })();
      expect(first?.entries.length).to.equal(ANSWER_LIMITS.pageDefault);
      const checked = await verifyObservationPages(answer, [first], reader, { trust: trust() });
      expect(checked.status).to.equal("verified");
    });
  });
});
