/**
 * How the shopper page fares on a cheap phone on a market's mobile signal: Debian's Chromium emulating a mid-range
 * Android phone with its CPU slowed 4x and Lighthouse's "slow 4G" network (150 ms RTT, 1.6 Mbps down, 750 kbps up),
 * opening a demo batch's page on a live ledger (anvil + the API over HTTP, chain reads through the API's /rpc, as
 * `npm start` serves them). For a first visit (empty cache) and a repeat visit it reports the median over the runs of:
 * first contentful paint (the facts are readable), the verdict (the page's own `ledger:verdict` mark: every fact
 * checked against the chain), bytes transferred, and HTTP requests to /rpc.
 *
 *   node scripts/bench-page.ts [--runs 5] [--lot JJ-2611-A1]
 *
 * It reuses the browser tests' live ledger (test/browser/harness.ts).
 */
import { parseArgs } from "node:util";
import type { BrowserContext, CDPSession, Page } from "playwright-core";
import { demoBatches } from "../ledger-api/src/demo/story.ts";
import { formatDigitalLink } from "../ledger-api/src/gs1/digital-link.ts";
import { buildWebBundle } from "../ledger-api/src/web/bundle.ts";
import { launchChromium, startLiveLedger } from "../test/browser/harness.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "5" }, lot: { type: "string", default: demoBatches.tangerineStallLots[0]!.lot } },
});
const runs = Number(values.runs);
const keys = [demoBatches.tangerines, ...demoBatches.tangerineStallLots, demoBatches.beef, demoBatches.spinach].find((k) => k.lot === values.lot);
if (!keys) throw new Error(`no demo batch with lot ${values.lot}`);

/** Lighthouse's mobile throttling ("slow 4G", 4x CPU). */
const NETWORK = { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 };
const CPU_SLOWDOWN = 4;

interface Visit {
  fcpMs: number;
  verdictMs: number;
  verdict: string;
  bytes: number;
  rpcRequests: number;
}

async function throttle(context: BrowserContext, page: Page): Promise<CDPSession> {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", NETWORK);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
  return cdp;
}

async function visit(page: Page, cdp: CDPSession, load: (page: Page) => Promise<unknown>): Promise<Visit> {
  let bytes = 0;
  let rpcRequests = 0;
  const onFinished = (e: { encodedDataLength: number }) => (bytes += e.encodedDataLength);
  const onRequest = (e: { request: { url: string; method: string } }) => {
    if (e.request.method === "POST" && new URL(e.request.url).pathname === "/rpc") rpcRequests++;
  };
  cdp.on("Network.loadingFinished", onFinished);
  cdp.on("Network.requestWillBeSent", onRequest);
  await load(page);
  await page.locator('[data-testid="summary"]:not([data-state="checking"])').waitFor({ timeout: 120_000 });
  cdp.off("Network.loadingFinished", onFinished);
  cdp.off("Network.requestWillBeSent", onRequest);
  const timing = await page.evaluate(() => {
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const verdict = performance.getEntriesByName("ledger:verdict")[0] as PerformanceMark | undefined;
    return { fcp: fcp?.startTime ?? NaN, verdict: verdict?.startTime ?? NaN, state: String(verdict?.detail ?? "none") };
  });
  return { fcpMs: timing.fcp, verdictMs: timing.verdict, verdict: timing.state, bytes, rpcRequests };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

await buildWebBundle();
const live = await startLiveLedger({ publicRpc: "api" });
const browser = await launchChromium();
try {
  const url = formatDigitalLink(live.baseUrl, keys);
  const first: Visit[] = [];
  const repeat: Visit[] = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({
      locale: "ko-KR",
      viewport: { width: 412, height: 915 },
      deviceScaleFactor: 2.625,
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    const cdp = await throttle(context, page);
    first.push(await visit(page, cdp, (p) => p.goto(url)));
    repeat.push(await visit(page, cdp, (p) => p.goto(url)));
    await context.close();
  }
  const row = (name: string, visits: readonly Visit[]) =>
    `${name.padEnd(13)} ${median(visits.map((v) => v.fcpMs)).toFixed(0).padStart(7)} ms ${median(visits.map((v) => v.verdictMs)).toFixed(0).padStart(8)} ms ` +
    `${(median(visits.map((v) => v.bytes)) / 1024).toFixed(1).padStart(8)} KiB ${String(median(visits.map((v) => v.rpcRequests))).padStart(6)}   ${[...new Set(visits.map((v) => v.verdict))].join(",")}`;
  console.log(`lot ${keys.lot}, ${runs} runs, slow 4G (150 ms RTT, 1.6 Mbps), CPU ${CPU_SLOWDOWN}x slower; medians:`);
  console.log(`${"visit".padEnd(13)} ${"FCP".padStart(10)} ${"verdict".padStart(11)} ${"transfer".padStart(12)} ${"/rpc".padStart(6)}   verdict`);
  console.log(row("first", first));
  console.log(row("repeat", repeat));
} finally {
  await browser.close();
  await live.close();
}
