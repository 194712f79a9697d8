import { expect } from "chai";
import { startLiveLedger, launchChromium, type LiveLedger } from "./harness.ts";
describe("a live ledger over HTTP, for the browser tests", function () {
  this.timeout(120_000);
  let live: LiveLedger;
  before(async function () { live = await startLiveLedger(); });
  after(async function () { await live?.close(); });
  it("serves the demo over HTTP with everything relayed and anchored", async function () {
    const cp = await (await fetch(`${live.baseUrl}/v1/log/checkpoint`)).json() as { size: number; latestAnchor: { size: number } };
    expect(cp.size).to.equal(20);
    expect(cp.latestAnchor.size).to.equal(20);
    const receipts = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => (await (await fetch(`${live.baseUrl}/v1/events/${i}`)).json()) as { relay: { status: string } | null }),
    );
    expect(receipts.filter((r) => r.relay !== null).map((r) => r.relay?.status)).to.deep.equal(Array(17).fill("confirmed"));
    const browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`${live.baseUrl}/healthz`);
    expect(await page.textContent("body")).to.include('"status":"ok"');
    await browser.close();
  });
});
