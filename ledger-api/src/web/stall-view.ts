/**
 * What a stall's display shows, as HTML, from the display's answer (market/stall.ts StallDisplay) alone: a pure
 * function with no Node imports, so the server renders the page with it (stall-page.ts) and the screen's script
 * renders each lot again from the provenance answer it verified in the browser (stall-client.ts), as the shopper
 * page does. A 1920x1080 landscape screen read from two metres: few words, large type, one card per lot.
 *
 * Per lot: product, lot and quantity; origin (country, region, farm, harvest date); the latest lab verdict (own or
 * inherited from the lot it was cut from) with each analyte against its limit; customs clearance for an import; since
 * when this stall holds it; a QR code of its Digital Link (its shopper page). Each fact carries a badge for its log
 * entry (`data-index`, `data-event-hash`), set by the script from the verifier's result for that lot.
 *
 * A lot under a recall turns the whole screen into the recall alert (`recall-alert`), in the display's language,
 * with what to do and whether the stall has acknowledged it.
 *
 * Stable test ids: `stall-name`, `lot-count`, `lots`, `lot-{lot}` (a card, `data-batch-id`), `fact-origin`,
 * `fact-lab`, `fact-customs`, `fact-custody` within a card, `recall-alert`, `recall-lot-{lot}`, `verified-count`,
 * `live`.
 */
import type { DisplayRecall, StallDisplay } from "../market/stall.ts";
import type { Provenance, TimelineEntry } from "../protocol/answer.ts";
import type { CustomsClearedDoc, InspectedDoc } from "../protocol/documents.ts";
import type { Static } from "typebox";
import { parseLinkPath } from "../gs1/link-path.ts";
import { html, type SafeHtml } from "./html.ts";
import { countryName, formatDate, MESSAGES, unitLabel, type Lang } from "./i18n.ts";
import { DISPLAY, type DisplayMessages } from "./market-i18n.ts";

type Recall = Static<typeof DisplayRecall>;

function badge(lang: Lang, entry: TimelineEntry | undefined): SafeHtml {
  const label = MESSAGES[lang].client.checking;
  return entry
    ? html`<span class="badge" data-state="checking" data-index="${entry.index}" data-event-hash="${entry.eventHash}"><span class="label">${label}</span><span class="reason"></span></span>`
    : html`<span class="badge" data-state="checking" data-scope="batch"><span class="label">${label}</span><span class="reason"></span></span>`;
}

function day(iso: string, lang: Lang): SafeHtml {
  return html`<time datetime="${iso.slice(0, 10)}">${formatDate(iso.slice(0, 10), lang)}</time>`;
}

function country(code: string, lang: Lang): SafeHtml {
  return html`<span data-country="${code}">${countryName(code, lang)}</span>`;
}

/** The lot's shopper page, relative (it works from whichever host serves the display). */
function pagePath(answer: Provenance, lang: Lang): string | null {
  if (answer.batch.link === null) return null;
  try {
    return `${parseLinkPath(answer.batch.link).path}?lang=${lang}`;
  } catch {
    return null;
  }
}

function latest(entries: readonly TimelineEntry[]): TimelineEntry | undefined {
  return [...entries].sort((a, b) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt) || b.index - a.index)[0];
}

const shared = (e: TimelineEntry): boolean => e.relation === "own" || e.relation === "inherited";

function originFact(t: DisplayMessages, lang: Lang, answer: Provenance): SafeHtml {
  const origin = answer.batch.origins[0];
  if (!origin) return html``;
  const entry = answer.timeline.find((e) => e.eventHash === origin.eventHash);
  return html`<div class="fact" data-testid="fact-origin"><span class="k">${t.origin}</span>
<span class="v"><strong>${country(origin.country, lang)}</strong> · ${origin.region}</span>
<span class="v small">${t.farm}: ${origin.farm.name} · ${t.harvested}: ${day(origin.harvestDate, lang)}</span>
${badge(lang, entry)}</div>`;
}

function labFact(t: DisplayMessages, lang: Lang, answer: Provenance): SafeHtml {
  const entry = latest(answer.timeline.filter((e) => e.kind === "Inspected" && shared(e)));
  if (!entry) return html`<div class="fact" data-testid="fact-lab"><span class="k">${t.lab}</span><span class="v muted">${t.noLab}</span></div>`;
  const d = entry.document as InspectedDoc;
  return html`<div class="fact" data-testid="fact-lab" data-passed="${d.passed ? "true" : "false"}"><span class="k">${t.lab}</span>
<span class="v"><strong class="${d.passed ? "ok" : "bad"}">${d.passed ? `✓ ${t.labPass}` : `✗ ${t.labFail}`}</strong> · ${day(d.occurredAt, lang)}</span>
<span class="analytes">${d.analytes.slice(0, 3).map((a) => {
    const ok = a.value <= a.limit;
    return html`<span data-analyte="${a.name}" data-result="${ok ? "pass" : "fail"}">${a.name} <b class="${ok ? "ok" : "bad"}">${a.value}</b>/${a.limit} ${unitLabel(a.unit)}</span>`;
  })}</span>
${badge(lang, entry)}</div>`;
}

function customsFact(t: DisplayMessages, lang: Lang, answer: Provenance): SafeHtml {
  // A domestic lot has no customs line: the screen's room goes to what the shopper needs.
  if (!answer.batch.imported) return html``;
  const entry = latest(answer.timeline.filter((e) => e.kind === "CustomsCleared" && shared(e)));
  if (!entry) {
    return html`<div class="fact" data-testid="fact-customs" data-cleared="false"><span class="k">${t.customs}</span><span class="v bad">✗ ${t.customsPending}</span></div>`;
  }
  const d = entry.document as CustomsClearedDoc;
  return html`<div class="fact" data-testid="fact-customs" data-cleared="true"><span class="k">${t.customs}</span>
<span class="v"><strong class="ok">✓ ${t.customsCleared}</strong> · ${day(d.occurredAt, lang)} · ${d.portOfEntry} · ${d.declarationNumber}</span>
${badge(lang, entry)}</div>`;
}

function custodyFact(t: DisplayMessages, lang: Lang, answer: Provenance, stall: string): SafeHtml {
  const mine = (e: TimelineEntry): boolean => e.signer.address.toLowerCase() === stall;
  const entry = latest(
    answer.timeline.filter(
      (e) => mine(e) && ((e.relation === "own" && (e.kind === "HandOffAccepted" || e.kind === "Merged" || e.kind === "Registered")) || (e.relation === "created" && e.kind === "Split")),
    ),
  );
  if (!entry) return html``;
  return html`<div class="fact" data-testid="fact-custody"><span class="k">${t.here}</span><span class="v">${day(entry.occurredAt, lang)}</span>${badge(lang, entry)}</div>`;
}

/** One lot's card; the script renders it again from the answer it verified. */
export function lotCard(answer: Provenance, lang: Lang, stall: string): SafeHtml {
  const t = DISPLAY[lang];
  const { batch } = answer;
  const href = pagePath(answer, lang);
  const name = batch.lot ?? batch.batchId;
  return html`<article class="lot${batch.recall === null ? "" : " recalled"}" data-testid="lot-${name}" data-batch-id="${batch.batchId}">
<div class="body">
<h2 class="product">${batch.product ?? name}</h2>
<p class="lotno">${MESSAGES[lang].lot} ${name} · ${batch.quantity.value} ${unitLabel(batch.quantity.unit)}</p>
${originFact(t, lang, answer)}
${labFact(t, lang, answer)}
${customsFact(t, lang, answer)}
${custodyFact(t, lang, answer, stall.toLowerCase())}
</div>
${href === null ? "" : html`<a class="qr" href="${href}"><img src="/v1/batches/${batch.batchId}/qr.svg" alt="QR ${name}" width="200" height="200"><span>${t.scan}</span></a>`}
</article>`;
}

function recallItem(t: DisplayMessages, lang: Lang, r: Recall): SafeHtml {
  const name = r.lot ?? r.batchId;
  return html`<li data-testid="recall-lot-${name}" data-acknowledged="${r.acknowledged ? "true" : "false"}">
<strong>${r.product ?? name} · ${name}</strong>
${r.recall.reason === null ? "" : html`<span class="reason">${t.reason}: ${r.recall.reason}</span>`}
${r.recall.reference === null ? "" : html`<span class="reason">${t.notice}: ${r.recall.reference}</span>`}
<span class="ack ${r.acknowledged ? "done" : "todo"}">${r.acknowledged ? `✓ ${t.acknowledged}` : `● ${t.awaitingAck}`}</span>
${r.recall.recalledAt === null ? "" : html`<span class="reason">${day(r.recall.recalledAt, lang)}</span>`}
</li>`;
}

/** The full-screen alert, empty when no lot on display is recalled. */
export function recallAlert(display: StallDisplay, lang: Lang): SafeHtml {
  if (display.recalls.length === 0) return html``;
  const t = DISPLAY[lang];
  return html`<section class="alert" role="alert" data-testid="recall-alert">
<h1>⚠ ${t.recallTitle}</h1>
<p class="count">${t.recallLots(display.recalls.length)}</p>
<ul class="recalled">${display.recalls.map((r) => recallItem(t, lang, r))}</ul>
<ol class="steps">${t.recallSteps.map((s) => html`<li>${s}</li>`)}</ol>
</section>`;
}

export interface StallView {
  readonly title: string;
  readonly header: SafeHtml;
  readonly lots: SafeHtml;
  readonly alert: SafeHtml;
}

export function stallView(display: StallDisplay, lang: Lang, marketName: string): StallView {
  const t = DISPLAY[lang];
  const { stall } = display;
  const count = display.lots.length + display.more;
  const header = html`<div class="who"><h1 data-testid="stall-name">${stall.name}</h1>
<p>${marketName}${stall.gln === null ? "" : html` · GLN ${stall.gln}`}${stall.country === "" ? "" : html` · ${country(stall.country, lang)}`}</p></div>
<div class="status"><p data-testid="lot-count">${t.lots(count)}</p><p class="note" data-testid="verified-count"></p></div>`;
  const lots =
    display.lots.length === 0
      ? html`<p class="empty">${t.noLots}</p>`
      : html`${display.lots.map((l) => lotCard(l.answer, lang, stall.account))}${display.more > 0 ? html`<p class="more">${t.more(display.more)}</p>` : ""}`;
  return { title: `${stall.name} · ${marketName}`, header, lots, alert: recallAlert(display, lang) };
}
