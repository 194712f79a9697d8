/**
 * The market safety centre (/market), for the market authority's staff: the overview of GET /v1/market
 * (market/overview.ts) as a page. Tables are server-rendered, every figure a link to the records behind it (the JSON
 * list of its lots, each lot's shopper page and provenance answer, the log entry of a test or an interval
 * violation). The two time series are uPlot charts drawn by the page's script (market-client.ts, /assets/market.js)
 * from the same overview (its `supply` and `tests`), embedded as JSON; each chart's container carries the data its uPlot instance holds in
 * `data-chart-data` (and `window.marketCharts` holds the instances), so a test can compare a chart with the API.
 *
 * Stable test ids: `market-name`, `stalls`, `stall-{key}`, `supply-chart`, `supply-table`, `regions-table`,
 * `tests-chart`, `failed-analytes`, `latest-failed`, `latest-violations`, `imports`, `recalls`, `recall-{lot}`,
 * `reach-{lot}` (a row of a recall's reach).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { MarketOverview } from "../market/overview.ts";
import type { ReachSummary } from "../market/reach.ts";
import { parseDigitalLink } from "../gs1/digital-link.ts";
import { html, jsonForScript, SafeHtml } from "./html.ts";
import { countryName, formatDate, formatDateTime, HTML_LANG, LANGS, MESSAGES, type Lang } from "./i18n.ts";
import { CENTRE, type CentreMessages } from "./market-i18n.ts";

/** uPlot's own style sheet, inlined into the page's nonce'd style (the CSP allows no other). */
export const UPLOT_CSS = readFileSync(createRequire(import.meta.url).resolve("uplot/dist/uPlot.min.css"), "utf8");

export interface MarketPageOptions {
  readonly lang: Lang;
  readonly nonce: string;
  readonly clientUrl: string;
  readonly langHref: (lang: Lang) => string;
}

/** What the page hands its script. */
export interface MarketPageConfig {
  readonly lang: Lang;
  readonly labels: {
    readonly tests: string;
    readonly failed: string;
    readonly phiViolations: string;
    readonly passRate: string;
    readonly other: string;
  };
  /** Country display names by code, in the page's language (the browser's Intl may lack some). */
  readonly countries: Readonly<Record<string, string>>;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,"Noto Sans KR","Noto Sans CJK KR","Noto Sans SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;font-size:15px;line-height:1.45;color:#1a1a1a;background:#f3f4f1}
header.top{display:flex;justify-content:space-between;align-items:center;padding:.7rem 1.2rem;background:#1f3d2b;color:#fff}
header.top h1{margin:0;font-size:1.35rem}
header.top a{color:#fff;margin-left:.7rem}
header.top a[aria-current]{font-weight:700;text-decoration:none;border-bottom:2px solid #fff}
main{padding:1rem 1.2rem;display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:1rem}
section.card{background:#fff;border-radius:.4rem;padding:.8rem 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:1.1rem;margin:0 0 .4rem}
p.note{color:#555;font-size:.85rem;margin:.1rem 0 .5rem}
.tiles{display:flex;flex-wrap:wrap;gap:.8rem}
.tile{background:#f3f4f1;border-radius:.4rem;padding:.5rem .8rem;min-width:9rem}
.tile strong{display:block;font-size:1.6rem}
.tile.bad strong{color:#b00020}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #eee;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00020;font-weight:700}
.ok{color:#1b7f3b;font-weight:600}
.recall{border-left:6px solid #b00020;padding-left:.8rem;margin:.6rem 0}
.scroll{max-height:28rem;overflow:auto}
.chart{min-height:320px}
`;

function pagePath(link: string | null, lang: Lang): string | null {
  if (link === null) return null;
  try {
    return `${parseDigitalLink(link).path}?lang=${lang}`;
  } catch {
    return null;
  }
}

function a(href: string | null, text: SafeHtml | string | number): SafeHtml {
  return href === null ? html`${text}` : html`<a href="${href}">${text}</a>`;
}

function tile(label: string, value: SafeHtml | string | number, bad = false): SafeHtml {
  return html`<div class="tile${bad ? " bad" : ""}"><strong>${value}</strong>${label}</div>`;
}

function reachRow(t: CentreMessages, lang: Lang, lot: ReachSummary["lots"][number]): SafeHtml {
  const name = lot.lot ?? lot.batchId;
  return html`<tr data-testid="reach-${name}" data-acknowledged="${lot.acknowledged ? "true" : "false"}" data-status="${lot.status}">
<td>${a(pagePath(lot.link, lang), name)} <span class="note">${lot.product ?? ""}</span><br><a href="/v1/batches/${lot.batchId}/provenance">JSON</a></td>
<td>${lot.custodian.name ?? lot.custodian.address}${lot.custodian.retail ? html` <span class="note">(${t.retail})</span>` : ""}</td>
<td>${lot.since === null ? "" : html`<time datetime="${lot.since.at}">${formatDateTime(lot.since.at, lang)}</time>`}</td>
<td>${!lot.mustAcknowledge ? html`<span class="note">${lot.status}</span>` : lot.acknowledged ? html`<span class="ok">✓</span>` : html`<span class="bad">✗</span>`}</td>
</tr>`;
}

function recallSection(t: CentreMessages, lang: Lang, reach: ReachSummary): SafeHtml {
  const source = reach.lots[0];
  const name = reach.recall.lot ?? reach.recall.batchId;
  return html`<div class="recall" data-testid="recall-${name}">
<h3>${source?.product ?? ""} · ${a(pagePath(source?.link ?? null, lang), name)}</h3>
<p>${reach.recall.reason ?? ""}${reach.recall.reference === null ? "" : html` · ${reach.recall.reference}`}${reach.recall.recalledAt === null ? "" : html` · <time datetime="${reach.recall.recalledAt}">${formatDateTime(reach.recall.recalledAt, lang)}</time>`}</p>
<p class="note">${t.lots}: ${reach.summary.lots} · ${t.retail}: ${reach.summary.atRetail} · ${t.ack}: ${reach.summary.acknowledged} · ${t.awaiting}: <span class="${reach.summary.awaiting > 0 ? "bad" : "ok"}">${reach.summary.awaiting}</span> · <a href="${reach.link}">JSON</a></p>
<table><thead><tr><th>${t.lot}</th><th>${t.holder}</th><th>${t.since}</th><th>${t.ack}</th></tr></thead>
<tbody>${reach.lots.map((l) => reachRow(t, lang, l))}</tbody></table>
</div>`;
}

export function marketPage(overview: MarketOverview, opts: MarketPageOptions): string {
  const { lang } = opts;
  const t = CENTRE[lang];
  const { market, stalls, supply, tests, imports, recalls } = overview;
  const passRate = tests.totals.tests === 0 ? "–" : `${Math.round((tests.totals.passed / tests.totals.tests) * 1000) / 10} %`;
  const countries = Object.fromEntries(supply.countries.map((c) => [c.country, c.country === "other" ? "…" : countryName(c.country, lang)]));
  const config: MarketPageConfig & { clientUrl: string } = {
    lang,
    labels: { tests: t.testsCount, failed: t.failed, phiViolations: t.phiViolations, passRate: t.passRate, other: "…" },
    countries,
    clientUrl: opts.clientUrl,
  };
  const body = html`
<section class="card wide"><div class="tiles">
${tile(t.stalls, market.stalls)}
${tile(t.lotsHeld, market.lots)}
${tile(t.testsCount, tests.totals.tests)}
${tile(t.passRate, passRate)}
${tile(t.phiViolations, tests.totals.phiViolations, tests.totals.phiViolations > 0)}
${tile(t.pending, imports.pendingInMarket, imports.pendingInMarket > 0)}
${tile(t.recalls, recalls.length, recalls.length > 0)}
</div></section>

<section class="card" data-testid="supply"><h2>${t.supply}</h2><p class="note">${t.supplyNote}</p>
<div class="chart" data-testid="supply-chart" data-chart="supply"></div>
<table data-testid="supply-table"><thead><tr><th>${t.country}</th><th class="n">${t.lots}</th></tr></thead><tbody>
${supply.countries.map((c) => html`<tr data-country-code="${c.country}"><td>${c.country === "other" ? "…" : html`${countryName(c.country, lang)} (${c.country})`}</td><td class="n">${a(c.link, c.total)}</td></tr>`)}
</tbody></table>
<h3>${t.regions}</h3><div class="scroll"><table data-testid="regions-table"><thead><tr><th>${t.country}</th><th>${t.region}</th><th class="n">${t.lots}</th></tr></thead><tbody>
${supply.regions.map((r) => html`<tr><td>${r.country}</td><td>${r.region}</td><td class="n">${a(r.link, r.total)}</td></tr>`)}
</tbody></table></div></section>

<section class="card" data-testid="tests"><h2>${t.tests}</h2><p class="note">${t.testsNote}</p>
<div class="chart" data-testid="tests-chart" data-chart="tests"></div>
<h3>${t.failedAnalytes}</h3>
<table data-testid="failed-analytes"><tbody>${tests.failedAnalytes.length === 0 ? html`<tr><td>${t.none}</td></tr>` : tests.failedAnalytes.map((f) => html`<tr><td>${f.name}</td><td class="n">${f.tests}</td></tr>`)}</tbody></table>
<h3>${t.latestFailed}</h3>
<div class="scroll"><table data-testid="latest-failed"><tbody>${tests.latestFailed.map(
    (f) => html`<tr><td><time datetime="${f.date}">${formatDate(f.date, lang)}</time></td><td>${f.lab}</td><td class="bad">${f.failed.map((x) => `${x.name} ${x.value}/${x.limit} ${x.unit}`).join(", ")}</td><td><a href="${f.links.provenance}">${t.records}</a> · <a href="${f.links.entry}">#${f.logIndex}</a></td></tr>`,
  )}</tbody></table></div>
<h3>${t.latestViolations}</h3>
<div class="scroll"><table data-testid="latest-violations"><tbody>${tests.latestViolations.map(
    (v) => html`<tr><td><time datetime="${v.date}">${formatDate(v.date, lang)}</time></td><td>${v.substance}</td><td class="bad">${v.daysBeforeHarvest ?? "?"} / ${v.preHarvestIntervalDays}</td><td><a href="${v.links.provenance}">${t.records}</a> · <a href="${v.links.entry}">#${v.logIndex}</a></td></tr>`,
  )}</tbody></table></div>
</section>

<section class="card" data-testid="imports"><h2>${t.imports}</h2>
<table><thead><tr><th></th><th class="n">${t.cleared}</th><th class="n">${t.pending}</th></tr></thead><tbody>
<tr><td>${t.inMarket}</td><td class="n">${a(imports.links.clearedInMarket, imports.clearedInMarket)}</td><td class="n${imports.pendingInMarket > 0 ? " bad" : ""}">${a(imports.links.pendingInMarket, imports.pendingInMarket)}</td></tr>
<tr><td>${t.ledgerWide}</td><td class="n">${a(imports.links.cleared, imports.cleared)}</td><td class="n">${a(imports.links.pending, imports.pending)}</td></tr>
</tbody></table></section>

<section class="card" data-testid="recalls"><h2>${t.recalls}</h2>
${recalls.length === 0 ? html`<p>${t.noRecalls}</p>` : recalls.map((r) => recallSection(t, lang, r))}
</section>

<section class="card wide" data-testid="stalls"><h2>${t.stalls}</h2><div class="scroll">
<table><thead><tr><th>${t.stall}</th><th>GLN</th><th class="n">${t.lotsHeld}</th><th class="n">${t.imported}</th><th class="n">${t.recalled}</th><th class="n">${t.awaiting}</th><th>${t.display}</th></tr></thead><tbody>
${stalls.map(
    (s) => html`<tr data-testid="stall-${s.key}"><td>${s.name}</td><td>${s.gln ?? ""}</td><td class="n">${a(s.links.lots, s.lots)}</td><td class="n">${s.imported}</td><td class="n${s.recalledLots > 0 ? " bad" : ""}">${s.recalledLots}</td><td class="n${s.awaitingAcknowledgement > 0 ? " bad" : ""}">${s.awaitingAcknowledgement}</td><td><a href="${s.links.display}?lang=${lang}">${t.display}</a></td></tr>`,
  )}
</tbody></table></div></section>`;

  return html`<!DOCTYPE html>
<html lang="${HTML_LANG[lang]}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.title} · ${market.name}</title>
<style nonce="${opts.nonce}">${new SafeHtml(UPLOT_CSS)}${new SafeHtml(CSS)}</style>
</head>
<body>
<header class="top"><h1 data-testid="market-name">${t.title} · ${market.name}</h1><nav>${LANGS.map(
    (l) => html`<a href="${opts.langHref(l)}" hreflang="${HTML_LANG[l]}"${l === lang ? html` aria-current="true"` : ""}>${MESSAGES[l].languageName}</a>`,
  )}</nav></header>
<main>${body}</main>
<script type="application/json" id="market-config">${jsonForScript(config)}</script>
<script type="application/json" id="market-data">${jsonForScript({ supply: overview.supply, tests: overview.tests })}</script>
<script nonce="${opts.nonce}">${new SafeHtml(`(function(){var s=document.createElement("script");s.src=JSON.parse(document.getElementById("market-config").textContent).clientUrl;document.head.appendChild(s);})();`)}</script>
</body>
</html>
`.value;
}
