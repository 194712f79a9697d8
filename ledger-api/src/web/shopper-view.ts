/**
 * What the shopper page says about a batch, as HTML, from the provenance answer alone: a pure function of
 * (answer, language) with no Node imports, so the same code renders the page on the server (page.ts) and again in
 * the shopper's browser from the answer the browser itself verified (shopper-client.ts). What the phone finally
 * shows is thus drawn from the very JSON its verifier checked, not from the server's say-so.
 *
 * Locale-dependent text (dates, country names) comes from `Intl`, whose data differ between Node and browsers, so it
 * always carries its raw value in markup (`<time datetime>`, `data-country`) for the browser's comparison.
 *
 * Stable test ids: `recall-banner`, `fact-<logIndex>` and `badge-<logIndex>` for facts drawn from a timeline entry,
 * `fact-origin-<n>` / `badge-origin-<n>` for the origin of a lot whose Registered entry belongs to an ancestor
 * (verified with the batch's checks), `product`, `origin`, `custody`, `parents`, `children`, `pesticides`,
 * `lab-results`, `customs`, `cold-chain`, and `pending-lot` for a lot logged but not yet on chain.
 */
import type { CustomsClearedDoc, InspectedDoc, ObservedDoc, PesticideAppliedDoc } from "../protocol/documents.ts";
import type { LineageLink, OriginView, Provenance, RecallView, TimelineEntry } from "../protocol/answer.ts";
import { parseLinkPath } from "../gs1/link-path.ts";
import { html, type HtmlValue, type SafeHtml } from "./html.ts";
import { countryName, formatDate, formatDateTime, MESSAGES, unitLabel, type Lang, type Messages } from "./i18n.ts";

type Actor = TimelineEntry["signer"];

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
    return `${parseLinkPath(link).path}?lang=${lang}`;
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

/** A country by name in the shopper's language, carrying its ISO code (the page script compares codes, not names). */
function country(code: string, lang: Lang): SafeHtml {
  return html`<span data-country="${code}">${countryName(code, lang)}</span>`;
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

function originFact(t: Messages, lang: Lang, origin: OriginView, timeline: readonly TimelineEntry[], n: number, batchId: string): SafeHtml {
  const entry = timeline.find((e) => e.eventHash === origin.eventHash);
  const testid = entry ? `fact-${entry.index}` : `fact-origin-${n}`;
  return html`<div class="fact" data-testid="${testid}">
${rows([
  [t.country, html`${country(origin.country, lang)} <span class="note">(${origin.country})</span>`],
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
  [t.originCountry, html`${country(d.originCountry, lang)} <span class="note">(${d.originCountry})</span>`],
  [t.portOfEntry, html`${d.portOfEntry} <span class="note">(${country(d.portOfEntry.slice(0, 2), lang)})</span>`],
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

/** The page's content for `answer`: the recall banner (empty unless recalled) and the facts, for separate regions. */
export interface ShopperView {
  /** The document title. */
  readonly title: string;
  readonly recall: SafeHtml;
  readonly facts: SafeHtml;
}

export function shopperView(answer: Provenance, lang: Lang): ShopperView {
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

  const facts = html`
${batch.onChain
  ? ""
  : html`<section class="card pending" data-testid="pending-lot"><h3>${t.pendingLotTitle}</h3><p>${t.pendingLotBody}</p></section>`}
<section class="product" data-testid="product">
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

  return {
    title: `${product} · ${batch.lot ?? ""} · ${t.title}`,
    recall: batch.recall === null ? html`` : recallBanner(t, lang, batch.recall, timeline),
    facts,
  };
}
