/**
 * How the shopper page fares on a cheap phone on a market's mobile signal (bench/lib/phone.ts: Chromium emulating a
 * mid-range Android phone, CPU 4x slower, "slow 4G"), opening a demo batch's page on a live ledger (anvil + the API
 * over HTTP, chain reads through the API's /rpc, as `npm start` serves them). Medians of first contentful paint, the
 * verdict, bytes transferred and /rpc requests, for a first and a repeat visit.
 *
 *   node scripts/bench-page.ts [--runs 5] [--lot JJ-2611-A1]
 *
 * It reuses the browser tests' live ledger (test/browser/harness.ts). The answers benchmark (bench/modules/answers.ts)
 * runs the same measurement on a lot with 100,000 observations.
 */
import { parseArgs } from "node:util";
import { demoBatches } from "../ledger-api/src/demo/story.ts";
import { formatDigitalLink } from "../ledger-api/src/gs1/digital-link.ts";
import { buildWebBundle } from "../ledger-api/src/web/bundle.ts";
import { launchChromium, startLiveLedger } from "../test/browser/harness.ts";
import { CPU_SLOWDOWN, measurePhone, type Visit } from "../bench/lib/phone.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "5" }, lot: { type: "string", default: demoBatches.tangerineStallLots[0]!.lot } },
});
const runs = Number(values.runs);
const keys = [demoBatches.tangerines, ...demoBatches.tangerineStallLots, demoBatches.beef, demoBatches.spinach].find((k) => k.lot === values.lot);
if (!keys) throw new Error(`no demo batch with lot ${values.lot}`);

await buildWebBundle();
const live = await startLiveLedger({ publicRpc: "api" });
const browser = await launchChromium();
try {
  const figures = await measurePhone(browser, formatDigitalLink(live.baseUrl, keys), runs);
  const row = (name: string, v: Visit) =>
    `${name.padEnd(13)} ${v.fcpMs.toFixed(0).padStart(7)} ms ${v.verdictMs.toFixed(0).padStart(8)} ms ` +
    `${(v.bytes / 1024).toFixed(1).padStart(8)} KiB ${String(v.rpcRequests).padStart(6)}   ${v.verdict}`;
  console.log(`lot ${keys.lot}, ${runs} runs, slow 4G (150 ms RTT, 1.6 Mbps), CPU ${CPU_SLOWDOWN}x slower; medians:`);
  console.log(`${"visit".padEnd(13)} ${"FCP".padStart(10)} ${"verdict".padStart(11)} ${"transfer".padStart(12)} ${"/rpc".padStart(6)}   verdict`);
  console.log(row("first", figures.first));
  console.log(row("repeat", figures.repeat));
} finally {
  await browser.close();
  await live.close();
}
