/**
 * The shopper page on a cheap phone on a market's mobile signal: Debian's Chromium emulating a mid-range Android
 * phone with its CPU slowed 4x and Lighthouse's "slow 4G" network (150 ms RTT, 1.6 Mbps down, 750 kbps up). For a
 * first visit (empty cache) and a repeat visit of a page URL it reports the median over the runs of: first
 * contentful paint (the facts are readable), the verdict (the page's own `ledger:verdict` mark: every fact checked
 * against the chain), bytes transferred, and HTTP requests to /rpc. Used by scripts/bench-page.ts and the answers
 * benchmark (bench/modules/answers.ts).
 */
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";

/** Lighthouse's mobile throttling ("slow 4G", 4x CPU). */
const NETWORK = { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 };
export const CPU_SLOWDOWN = 4;

export interface Visit {
  fcpMs: number;
  verdictMs: number;
  verdict: string;
  bytes: number;
  rpcRequests: number;
}

export interface PhoneFigures {
  readonly first: Visit;
  readonly repeat: Visit;
  /** Every verdict the runs reached. */
  readonly verdicts: readonly string[];
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

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function medianVisit(visits: readonly Visit[]): Visit {
  return {
    fcpMs: median(visits.map((v) => v.fcpMs)),
    verdictMs: median(visits.map((v) => v.verdictMs)),
    verdict: [...new Set(visits.map((v) => v.verdict))].join(","),
    bytes: median(visits.map((v) => v.bytes)),
    rpcRequests: median(visits.map((v) => v.rpcRequests)),
  };
}

/** Opens `url` `runs` times on the emulated phone (Korean locale), a first and a repeat visit each; medians. */
export async function measurePhone(browser: Browser, url: string, runs: number): Promise<PhoneFigures> {
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
  return { first: medianVisit(first), repeat: medianVisit(repeat), verdicts: [...new Set([...first, ...repeat].map((v) => v.verdict))] };
}
