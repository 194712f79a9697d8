/**
 * The shopper page: what a phone shows after scanning a batch's QR code. Server-rendered HTML in one response, one
 * small inline style sheet, system fonts (with Korean and simplified Chinese fallbacks), no framework: readable on
 * a cheap phone on a market's mobile signal, and every fact is in the HTML, so it reads without JavaScript.
 *
 * Trust: the page never says a fact is verified. Each fact carries a badge that starts as "checking…"; a small inline
 * script loads the verifier bundle (/assets/verify.js, built from verify/browser.ts: `LedgerVerify.verifyProvenance(answer,
 * LedgerVerify.rpcReader(LedgerVerify.httpRpc(rpcUrl)), { batchId })`), fetches the provenance answer as JSON from the same URL,
 * checks it against the chain's JSON-RPC endpoint from the phone itself, and sets each badge from the verifier's
 * result for that fact's log entry (matched by log index and event hash). If the bundle fails to load, throws, or
 * the chain cannot be reached, badges say "could not verify" and the summary says so; nothing turns green unless the
 * verifier said so.
 *
 * Known limit (see the closing note of the web branch): the script ties each badge to the event the fact was drawn
 * from (index + eventHash), but does not re-derive the fact's displayed text from the verified document; a server
 * that rendered text different from the document it serves would not be caught by this page.
 *
 * Stable test ids (for browser tests): `summary`, `recall-banner`, `lang-switch`, `fact-<logIndex>` and
 * `badge-<logIndex>` for facts drawn from a timeline entry, `fact-origin-<n>` / `badge-origin-<n>` for the origin of a
 * lot whose Registered entry belongs to an ancestor (verified with the batch's checks), `custody`, `parents`,
 * `children`, `pesticides`, `lab-results`, `customs`, `cold-chain`.
 */
import type { CustomsClearedDoc, InspectedDoc, ObservedDoc, PesticideAppliedDoc } from "../ingest/documents.ts";
import type { LineageLink, OriginView, Provenance, TimelineEntry } from "../query/provenance.ts";
import type { RecallView } from "../query/batch-state.ts";
import { parseDigitalLink } from "../gs1/digital-link.ts";
import { html, jsonForScript, SafeHtml, type HtmlValue } from "./html.ts";
import {
  countryName,
  formatDate,
  formatDateTime,
  HTML_LANG,
  LANGS,
  MESSAGES,
  unitLabel,
  type Lang,
  type Messages,
} from "./i18n.ts";

type Actor = TimelineEntry["signer"];

/** What every page needs besides its content. */
export interface PageFrame {
  readonly lang: Lang;
  /** The page's URL for each language (the switcher's links), relative. */
  readonly langHref: (lang: Lang) => string;
  /** CSP nonce for the inline style and script. */
  readonly nonce: string;
}

export interface ShopperPageOptions extends PageFrame {
  /** Where the browser fetches the answer as JSON (same URL, Accept: application/json). */
  readonly answerUrl: string;
  /** The verifier bundle. */
  readonly verifierUrl: string;
  /** The chain's JSON-RPC endpoint, as the shopper's phone reaches it. */
  readonly rpcUrl: string;
  /**
   * The contracts the verifier pins (its trust root): this server's configured deployment, delivered in the page
   * rather than taken from the JSON answer. Without a pin the verifier can at best say "pending".
   */
  readonly trust: { readonly chainId: number; readonly ledger: string; readonly anchor: string };
}

// ---------------------------------------------------------------------------------------------------------------
// Style: mobile first, one column; wider screens only get a max width.

const CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Apple SD Gothic Neo","Noto Sans KR","Malgun Gothic","PingFang SC","Noto Sans SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a;background:#f4f4f1}
:lang(zh) body,body:lang(zh-Hans){font-family:system-ui,-apple-system,"PingFang SC","Noto Sans SC","Microsoft YaHei","Noto Sans CJK SC","Apple SD Gothic Neo","Noto Sans KR",sans-serif}
main{max-width:40rem;margin:0 auto;padding:0 .75rem 2rem}
header.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;padding:.6rem .75rem;background:#1f3d2b;color:#fff}
header.top h1{font-size:1rem;margin:0;font-weight:600}
nav.lang a{color:#fff;margin-left:.6rem;text-decoration:underline}
nav.lang a[aria-current]{font-weight:700;text-decoration:none;border-bottom:2px solid #fff}
.recall{background:#b00020;color:#fff;padding:1rem;margin:.75rem 0;border-radius:.4rem;border:3px solid #7a0016}
.recall h2{margin:0 0 .3rem;font-size:1.6rem;letter-spacing:.02em}
.recall p{margin:.2rem 0}
.recall a{color:#fff}
.summary{margin:.75rem 0;padding:.9rem 1rem;border-radius:.4rem;border:3px solid #888;background:#fff}
.summary strong{display:block;font-size:1.35rem}
.summary p{margin:.2rem 0 0;font-size:.9rem}
.summary[data-state=verified]{border-color:#1b7f3b;background:#e8f6ec}
.summary[data-state=pending]{border-color:#b26a00;background:#fff5e0}
.summary[data-state=failed],.summary[data-state=error]{border-color:#b00020;background:#fdecee}
.product h2{font-size:1.4rem;margin:.5rem 0 0}
.product p{margin:0;color:#555}
section.card{background:#fff;border-radius:.4rem;padding:.75rem;margin:.75rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section.card h3{font-size:1.05rem;margin:0 0 .4rem}
.fact{border-top:1px solid #e3e3de;padding:.5rem 0}
.fact:first-of-type{border-top:0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .75rem;margin:.2rem 0}
dt{color:#555}
dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;font-size:.92rem}
th,td{text-align:left;padding:.25rem .3rem;border-bottom:1px solid #eee;vertical-align:top}
.ok{color:#1b7f3b;font-weight:600}
.bad{color:#b00020;font-weight:700}
.badge{display:inline-block;font-size:.8rem;padding:.05rem .5rem;border-radius:1rem;border:1px solid #999;color:#444;background:#f2f2f2;margin-top:.25rem}
.badge[data-state=verified]{border-color:#1b7f3b;color:#fff;background:#1b7f3b}
.badge[data-state=pending]{border-color:#b26a00;color:#6b4000;background:#fff0cc}
.badge[data-state=failed]{border-color:#b00020;color:#fff;background:#b00020}
.badge[data-state=error]{border-color:#b00020;color:#b00020;background:#fff}
.badge .reason:not(:empty)::before{content:": "}
.who{font-size:.85rem;color:#555}
.note{font-size:.85rem;color:#555}
footer{font-size:.8rem;color:#555;margin-top:1.5rem}
code{font-size:.85rem;overflow-wrap:anywhere}
`;

// ---------------------------------------------------------------------------------------------------------------
// Browser part: loads the verifier, fetches the answer, sets badges. Plain JS (runs as is in the browser).

const CLIENT_SCRIPT = `(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("ledger-config").textContent);
  var m = cfg.messages;
  var settled = false;
  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }
  function setBadge(el, state, reason) {
    el.setAttribute("data-state", state);
    el.querySelector(".label").textContent = m[state];
    el.querySelector(".reason").textContent = reason || "";
  }
  function setSummary(state) {
    var el = document.querySelector('[data-testid="summary"]');
    var key = state.charAt(0).toUpperCase() + state.slice(1);
    el.setAttribute("data-state", state);
    el.querySelector("strong").textContent = m["summary" + key];
    el.querySelector("p").textContent = m["summaryDetail" + key];
  }
  function couldNotVerify(err) {
    if (settled) return;
    settled = true;
    all(".badge").forEach(function (b) { setBadge(b, "error", ""); });
    setSummary("error");
    if (window.console) console.error("verification could not run:", err);
  }
  function isFailed(s) { return s === "failed"; }
  function reasonOf(checks) {
    var bad = (checks || []).filter(function (c) { return c && isFailed(c.status); });
    return bad.map(function (c) { return c.detail ? c.name + " (" + c.detail + ")" : c.name; }).join("; ");
  }
  function stateOf(status) { return status === "verified" ? "verified" : status === "pending" ? "pending" : "failed"; }
  function apply(answer, result) {
    if (settled) return;
    if (!result || typeof result.status !== "string") throw new Error("verifier returned no status");
    settled = true;
    var timeline = answer.timeline || [];
    var byIndex = {};
    // verify.ts: one result per timeline entry, each with its log index and eventHash.
    var events = result.entries || [];
    events.forEach(function (e, pos) {
      // e.index is the entry's log index; fall back to its position in the timeline if it is not one.
      var entry = timeline.filter(function (t) { return t.index === e.index; })[0] || timeline[pos];
      if (entry) byIndex[entry.index] = { event: e, hash: e.eventHash || entry.eventHash };
    });
    all(".badge[data-index]").forEach(function (b) {
      var hit = byIndex[b.getAttribute("data-index")];
      if (!hit) return setBadge(b, "failed", m.notInAnswer);
      if (hit.hash !== b.getAttribute("data-event-hash")) return setBadge(b, "failed", m.hashMismatch);
      var st = stateOf(hit.event.status);
      setBadge(b, st, st === "failed" ? reasonOf(hit.event.checks) : "");
    });
    var batchChecks = Array.isArray(result.batch) ? result.batch : [];
    var batchState = batchChecks.some(function (c) { return isFailed(c.status); }) ? "failed"
      : batchChecks.some(function (c) { return c.status === "pending"; }) ? "pending"
      : batchChecks.length > 0 ? "verified" : stateOf(result.status);
    all(".badge[data-scope=batch]").forEach(function (b) {
      setBadge(b, batchState, batchState === "failed" ? reasonOf(batchChecks) : "");
    });
    setSummary(stateOf(result.status));
  }
  function readerFor(LV) {
    if (typeof LV.rpcReader !== "function" || typeof LV.httpRpc !== "function") throw new Error("the verifier bundle offers no chain reader");
    return LV.rpcReader(LV.httpRpc(cfg.rpcUrl));
  }
  function run() {
    var LV = globalThis.LedgerVerify;
    if (!LV || typeof LV.verifyProvenance !== "function") throw new Error("the verifier bundle defines no LedgerVerify.verifyProvenance");
    var reader = readerFor(LV);
    return fetch(cfg.answerUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("answer: HTTP " + r.status); return r.json(); })
      .then(function (answer) {
        // The answer must be about the batch this page shows (the verifier checks it names cfg.batchId).
        return Promise.resolve(LV.verifyProvenance(answer, reader, { batchId: cfg.batchId, trust: cfg.trust })).then(function (result) { apply(answer, result); });
      });
  }
  all(".badge").forEach(function (b) { setBadge(b, "checking", ""); });
  setTimeout(function () { couldNotVerify(new Error("timed out")); }, cfg.timeoutMs);
  var s = document.createElement("script");
  s.src = cfg.verifierUrl;
  s.async = true;
  s.onload = function () { try { run().catch(couldNotVerify); } catch (e) { couldNotVerify(e); } };
  s.onerror = function () { couldNotVerify(new Error("could not load " + cfg.verifierUrl)); };
  document.head.appendChild(s);
})();`;

/** How long the phone waits for the verifier before saying it could not verify. */
const VERIFY_TIMEOUT_MS = 45_000;

// ---------------------------------------------------------------------------------------------------------------
// Pieces

function badge(t: Messages, index: number, eventHash: string, primary: boolean): SafeHtml {
  return html`<span class="badge" data-state="checking" data-index="${index}" data-event-hash="${eventHash}"${
    primary ? html` data-testid="badge-${index}"` : ""
  }><span class="label">${t.client.checking}</span><span class="reason"></span></span>`;
}

function batchBadge(t: Messages, testid: string): SafeHtml {
  return html`<span class="badge" data-state="checking" data-scope="batch" data-testid="${testid}"><span class="label">${t.client.checking}</span><span class="reason"></span></span>`;
}

function actorName(t: Messages, actor: Actor | null | undefined): string {
  if (!actor) return t.unknownActor;
  return actor.name ?? `${t.unknownActor} (${actor.address.slice(0, 8)}…${actor.address.slice(-4)})`;
}

function signedBy(t: Messages, actor: Actor): SafeHtml {
  return html`<div class="who">${t.signedBy}: ${actorName(t, actor)}</div>`;
}

function rows(pairs: readonly (readonly [string, HtmlValue] | false | undefined)[]): SafeHtml {
  return html`<dl>${pairs.map((p) => (p ? html`<dt>${p[0]}</dt><dd>${p[1]}</dd>` : ""))}</dl>`;
}

function time(iso: string, lang: Lang): SafeHtml {
  return html`<time datetime="${iso}">${formatDateTime(iso, lang)}</time>`;
}

function date(day: string, lang: Lang): SafeHtml {
  return html`<time datetime="${day}">${formatDate(day, lang)}</time>`;
}

/** A relative link to a batch's page (its Digital Link path), so it works from whichever host served this page. */
function pageHref(link: string | null, lang: Lang): string | null {
  if (link === null) return null;
  try {
    return `${parseDigitalLink(link).path}?lang=${lang}`;
  } catch {
    return null;
  }
}

/** Whole days from an application's date to the harvest date (calendar dates, UTC). */
export function daysBetween(fromIso: string, toDate: string): number | null {
  const from = Date.parse(fromIso.slice(0, 10));
  const to = Date.parse(toDate.slice(0, 10));
  if (Number.isNaN(from) || Number.isNaN(to)) return null;
  return Math.round((to - from) / 86_400_000);
}

function quantityText(q: { value: string; unit: string }): string {
  return `${q.value} ${unitLabel(q.unit)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Sections

function recallBanner(t: Messages, lang: Lang, recall: RecallView, timeline: readonly TimelineEntry[]): SafeHtml {
  const own = recall.eventHash === null ? undefined : timeline.find((e) => e.eventHash === recall.eventHash);
  const b = own ? badge(t, own.index, own.eventHash, true) : batchBadge(t, "badge-recall");
  const from = recall.inherited ? (recall.lot ?? recall.batchId) : null;
  return html`<section class="recall" role="alert" data-testid="recall-banner"${own ? html` data-fact-index="${own.index}"` : ""}>
<h2>⚠ ${t.recallTitle}</h2>
<p><strong>${t.recallAdvice}</strong></p>
${recall.reason === null ? "" : html`<p>${t.recallReason}: ${recall.reason}</p>`}
${recall.recalledAt === null ? "" : html`<p>${t.recalledOn}: ${time(recall.recalledAt, lang)}</p>`}
${recall.reference === null ? "" : html`<p>${t.recallReference}: ${recall.reference}</p>`}
${recall.by === null ? "" : html`<p>${t.recalledBy}: ${actorName(t, recall.by)}</p>`}
${from === null ? "" : html`<p>${t.recallInherited(from)}</p>`}
${b}
</section>`;
}

function summary(t: Messages): SafeHtml {
  return html`<section class="summary" data-testid="summary" data-state="checking" aria-live="polite">
<strong>${t.client.checking}</strong><p>${t.verifyExplain}</p>
<noscript><p>${t.noscript}</p></noscript>
</section>`;
}

function originFact(t: Messages, lang: Lang, origin: OriginView, timeline: readonly TimelineEntry[], n: number, batchId: string): SafeHtml {
  const entry = timeline.find((e) => e.eventHash === origin.eventHash);
  const testid = entry ? `fact-${entry.index}` : `fact-origin-${n}`;
  return html`<div class="fact" data-testid="${testid}">
${rows([
  [t.country, html`${countryName(origin.country, lang)} <span class="note">(${origin.country})</span>`],
  [t.region, origin.region],
  [t.farm, origin.farm.name],
  [t.harvestDate, date(origin.harvestDate, lang)],
  origin.imported && [t.imported, "✓"],
  // An ancestor's origin (a split or merged lot) names the lot it was registered as.
  origin.batchId !== batchId && [t.lot, origin.lot],
])}
${signedBy(t, origin.registrant)}
${entry ? badge(t, entry.index, entry.eventHash, true) : batchBadge(t, `badge-origin-${n}`)}
</div>`;
}

function pesticideFact(t: Messages, lang: Lang, entry: TimelineEntry, harvest: string | null): SafeHtml {
  const d = entry.document as PesticideAppliedDoc;
  const gap = harvest === null ? null : daysBetween(d.occurredAt, harvest);
  const phi = d.preHarvestIntervalDays;
  const verdict =
    gap === null
      ? html`<span class="note">${t.phiUnknown}</span>`
      : gap >= phi
        ? html`<span class="ok" data-phi="respected">✓ ${t.phiRespected(gap, phi)}</span>`
        : html`<span class="bad" data-phi="violated">✗ ${t.phiViolated(gap, phi)}</span>`;
  return html`<div class="fact" data-testid="fact-${entry.index}">
${rows([
  [t.substance, html`${d.substance.name} <span class="note">(CAS ${d.substance.casNumber})</span>`],
  [t.dose, `${d.dose.value} ${d.dose.unit}`],
  [t.appliedOn, time(d.occurredAt, lang)],
  [t.phi, html`${t.phiDays(phi)}<br>${verdict}`],
])}
${signedBy(t, entry.signer)}
${badge(t, entry.index, entry.eventHash, true)}
</div>`;
}

function labFact(t: Messages, lang: Lang, entry: TimelineEntry): SafeHtml {
  const d = entry.document as InspectedDoc;
  return html`<div class="fact" data-testid="fact-${entry.index}">
${rows([
  [t.lab, d.lab.name],
  [t.method, d.method],
  d.sampleId !== undefined && [t.sample, d.sampleId],
  [t.testedOn, time(d.occurredAt, lang)],
])}
<table><thead><tr><th>${t.analyte}</th><th>${t.measured}</th><th>${t.limit}</th><th>${t.result}</th></tr></thead><tbody>
${d.analytes.map((a) => {
  const ok = a.value <= a.limit;
  return html`<tr data-analyte="${a.name}" data-result="${ok ? "pass" : "fail"}"><td>${a.name}</td><td>${a.value} ${unitLabel(a.unit)}</td><td>${a.limit} ${unitLabel(a.unit)}</td><td class="${ok ? "ok" : "bad"}">${ok ? `✓ ${t.pass}` : `✗ ${t.fail}`}</td></tr>`;
})}
</tbody></table>
<p class="${d.passed ? "ok" : "bad"}">${d.passed ? t.overallPass : t.overallFail}</p>
${signedBy(t, entry.signer)}
${badge(t, entry.index, entry.eventHash, true)}
</div>`;
}

function customsFact(t: Messages, lang: Lang, entry: TimelineEntry): SafeHtml {
  const d = entry.document as CustomsClearedDoc;
  return html`<div class="fact" data-testid="fact-${entry.index}">
${rows([
  [t.declaration, d.declarationNumber],
  [t.originCountry, html`${countryName(d.originCountry, lang)} <span class="note">(${d.originCountry})</span>`],
  [t.portOfEntry, html`${d.portOfEntry} <span class="note">(${countryName(d.portOfEntry.slice(0, 2), lang)})</span>`],
  [t.clearedOn, time(d.occurredAt, lang)],
  [t.hsCode, d.hsCode],
])}
${signedBy(t, entry.signer)}
${badge(t, entry.index, entry.eventHash, true)}
</div>`;
}

function observedFact(t: Messages, lang: Lang, entry: TimelineEntry): SafeHtml {
  const d = entry.document as ObservedDoc;
  const readings = d.readings ?? [];
  return html`<div class="fact" data-testid="fact-${entry.index}">
${rows([
  [t.readingAt, time(d.occurredAt, lang)],
  d.location !== undefined && [t.location, d.location.name],
  ...readings.map(
    (r) => [r.type === "Temperature" ? t.temperature : r.type, `${r.value} ${unitLabel(r.unit)}`] as const,
  ),
  d.note !== undefined && ["", d.note],
])}
${signedBy(t, entry.signer)}
${badge(t, entry.index, entry.eventHash, true)}
</div>`;
}

interface CustodyRow {
  readonly holder: Actor;
  readonly since: string;
  readonly entry: TimelineEntry;
}

/**
 * Who held the lot, from when: its registrant (or whoever split or merged it into being), then each receiver that
 * accepted a hand-off, in log order.
 */
function custodyRows(answer: Provenance): CustodyRow[] {
  const out: CustodyRow[] = [];
  for (const entry of answer.timeline) {
    const starts =
      (entry.relation === "own" && (entry.kind === "Registered" || entry.kind === "Merged")) ||
      (entry.relation === "created" && entry.kind === "Split");
    if (starts || (entry.relation === "own" && entry.kind === "HandOffAccepted")) {
      out.push({ holder: entry.signer, since: entry.occurredAt, entry });
    }
  }
  return out;
}

function custodySection(t: Messages, lang: Lang, answer: Provenance): SafeHtml {
  const custodyList = custodyRows(answer);
  const current = answer.batch.custodian.address;
  const last = custodyList.at(-1);
  return html`<section class="card" data-testid="custody"><h3>${t.custody}</h3>
<table><thead><tr><th>${t.holder}</th><th>${t.since}</th></tr></thead><tbody>
${custodyList.map(
  (r, i) => html`<tr${r.entry.kind === "HandOffAccepted" ? html` data-testid="fact-${r.entry.index}"` : ""} data-custody="${i}">
<td><strong>${actorName(t, r.holder)}</strong>${r === last && r.holder.address === current ? html` <span class="ok">· ${t.currentHolder}</span>` : ""}<br>${badge(t, r.entry.index, r.entry.eventHash, r.entry.kind === "HandOffAccepted")}</td>
<td>${time(r.since, lang)}</td></tr>`,
)}
${last === undefined || last.holder.address !== current
  ? html`<tr><td><strong>${actorName(t, answer.batch.custodian)}</strong> <span class="ok">· ${t.currentHolder}</span></td><td></td></tr>`
  : ""}
</tbody></table>
${answer.batch.offeredTo === null ? "" : html`<p class="note">${t.offeredTo(actorName(t, answer.batch.offeredTo))}</p>`}
</section>`;
}

function lineageSection(t: Messages, lang: Lang, title: string, testid: string, links: readonly LineageLink[], answer: Provenance): SafeHtml {
  if (links.length === 0) return html``;
  // The transformation that made the link: filed under this batch (Merged, own Split) or under the parent (created).
  const events = new Map(answer.timeline.map((e) => [e.eventHash, e]));
  const shown = new Set<string>();
  return html`<section class="card" data-testid="${testid}"><h3>${title}</h3><ul>
${links.map((l) => {
  const href = pageHref(l.link, lang);
  const name = l.lot === null ? l.batchId : `${l.lot}`;
  return html`<li>${href === null ? name : html`<a href="${href}">${name}</a>`} <span class="note">(${quantityText(l.quantity)})</span></li>`;
})}
</ul>
${[...new Set(links.map((l) => l.eventHash))].map((hash) => {
  const e = events.get(hash);
  if (!e || shown.has(hash)) return "";
  shown.add(hash);
  return html`<div class="fact" data-testid="fact-${e.index}">${signedBy(t, e.signer)} ${time(e.occurredAt, lang)}<br>${badge(t, e.index, e.eventHash, true)}</div>`;
})}
${testid === "parents" ? html`<p class="note">${t.parentRecordsNote}</p>` : ""}
</section>`;
}

function card(testid: string, title: string, body: HtmlValue): SafeHtml {
  return html`<section class="card" data-testid="${testid}"><h3>${title}</h3>${body}</section>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Pages

function langSwitch(frame: PageFrame): SafeHtml {
  return html`<nav class="lang" data-testid="lang-switch" aria-label="${MESSAGES[frame.lang].switchLanguage}">${LANGS.map(
    (l) =>
      html`<a href="${frame.langHref(l)}" hreflang="${HTML_LANG[l]}" lang="${HTML_LANG[l]}"${l === frame.lang ? html` aria-current="true"` : ""}>${MESSAGES[l].languageName}</a>`,
  )}</nav>`;
}

function document(frame: PageFrame, title: string, body: SafeHtml, script?: SafeHtml): string {
  const t = MESSAGES[frame.lang];
  return html`<!DOCTYPE html>
<html lang="${HTML_LANG[frame.lang]}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${title}</title>
<style nonce="${frame.nonce}">${new SafeHtml(CSS)}</style>
</head>
<body>
<header class="top"><h1>${t.title}</h1>${langSwitch(frame)}</header>
<main>
${body}
</main>
${script ?? ""}
</body>
</html>
`.value;
}

/** The shopper page for a provenance answer. */
export function shopperPage(answer: Provenance, opts: ShopperPageOptions): string {
  const { lang } = opts;
  const t = MESSAGES[lang];
  const { batch, timeline } = answer;
  const product = batch.product ?? batch.origins[0]?.product ?? batch.lot ?? batch.batchId;
  const of = (kind: string): TimelineEntry[] => timeline.filter((e) => e.kind === kind && e.relation === "own");
  // Facts about the produce itself hold for every lot cut from it: a stall lot shows its farm lot's records.
  const withInherited = (kind: string): TimelineEntry[] =>
    timeline.filter((e) => e.kind === kind && (e.relation === "own" || e.relation === "inherited"));
  const ownOrigin = batch.origins.find((o) => o.batchId === batch.batchId);
  const harvestFor = (e: TimelineEntry): string | null =>
    (batch.origins.find((o) => o.batchId === e.batchId) ?? ownOrigin ?? batch.origins[0])?.harvestDate ?? null;

  const pesticides = withInherited("PesticideApplied");
  const labs = withInherited("Inspected");
  const customs = withInherited("CustomsCleared");
  const observed = of("Observed").filter((e) => ((e.document as ObservedDoc).readings ?? []).length > 0 || (e.document as ObservedDoc).location);
  const hasOwnOrigin = ownOrigin !== undefined;

  const body = html`
${batch.recall === null ? "" : recallBanner(t, lang, batch.recall, timeline)}
${summary(t)}
<section class="product">
<h2>${product}</h2>
<p>${t.lot}: <strong>${batch.lot ?? batch.batchId}</strong>${batch.gtin === null ? "" : html` · GTIN ${batch.gtin}`} · ${t.quantity}: ${quantityText(batch.quantity)}</p>
</section>
${card("origin", t.origin, batch.origins.map((o, n) => originFact(t, lang, o, timeline, n, batch.batchId)))}
${hasOwnOrigin || pesticides.length > 0
  ? card("pesticides", t.pesticides, pesticides.length === 0 ? html`<p class="note">${t.noPesticides}</p>` : pesticides.map((e) => pesticideFact(t, lang, e, harvestFor(e))))
  : ""}
${labs.length === 0 ? "" : card("lab-results", t.labResults, labs.map((e) => labFact(t, lang, e)))}
${batch.imported
  ? card("customs", t.customs, customs.length === 0 ? html`<p class="bad">${t.customsPending}</p>` : customs.map((e) => customsFact(t, lang, e)))
  : ""}
${custodySection(t, lang, answer)}
${lineageSection(t, lang, t.parents, "parents", answer.lineage.parents, answer)}
${lineageSection(t, lang, t.children, "children", answer.lineage.children, answer)}
${observed.length === 0 ? "" : card("cold-chain", t.coldChain, observed.map((e) => observedFact(t, lang, e)))}
<footer><p>${t.verifyExplain}</p><p>GS1: <code>${batch.path ?? batch.batchId}</code></p></footer>`;

  const config = {
    answerUrl: opts.answerUrl,
    batchId: batch.batchId,
    trust: opts.trust,
    verifierUrl: opts.verifierUrl,
    rpcUrl: opts.rpcUrl,
    timeoutMs: VERIFY_TIMEOUT_MS,
    messages: {
      ...t.client,
      notInAnswer: t.client.failed,
      hashMismatch: t.client.failed,
    },
  };
  const script = html`<script type="application/json" id="ledger-config">${jsonForScript(config)}</script>
<script nonce="${opts.nonce}">${new SafeHtml(CLIENT_SCRIPT)}</script>`;
  return document(opts, `${product} · ${batch.lot ?? ""} · ${t.title}`, body, script);
}

export type ErrorPageKind = "notFound" | "noLot" | "badLink";

/** A friendly error page in the shopper's language: 404 (unknown batch, or no lot) or 400 (not a valid link). */
export function errorPage(kind: ErrorPageKind, frame: PageFrame, detail: { scanned: string; message?: string }): string {
  const t = MESSAGES[frame.lang];
  const title = kind === "badLink" ? t.badLinkTitle : t.notFoundTitle;
  const text = kind === "badLink" ? t.badLinkBody : kind === "noLot" ? t.notFoundNoLot : t.notFoundBody;
  const body = html`<section class="card" data-testid="error" data-error="${kind}">
<h2>${title}</h2>
<p>${text}</p>
${detail.message === undefined ? "" : html`<p><code data-testid="gs1-error">${detail.message}</code></p>`}
<p class="note">${t.scannedCode}: <code>${detail.scanned}</code></p>
</section>`;
  return document(frame, title, body);
}
