/// <reference lib="dom" />
/**
 * The stall display's script (bundle.ts builds it, with the verifier, to web-dist/stall.js):
 *
 * 1. read the display's answer the page was rendered from (embedded as JSON) and render it again with the server's
 *    renderer (stall-view.ts); a card whose server text differs from the records is marked;
 * 2. verify the lots one after another against the chain (verify/verify.ts), all through ONE chain reader, and set
 *    each card's badges from its lot's verification as it arrives, so the screen fills with green progressively and a
 *    display of many lots never sends a burst of reads; a lot's verdict is kept while its answer is unchanged;
 * 3. listen to the stall's event stream: on a new `version`, fetch the view again and render it (a hand-off, a lab
 *    result, a recall shows within a few seconds, without reloading the page); a recall raises the red alert;
 * 4. page through the cards when the stall holds more lots than fit on the screen.
 *
 * `document.body.dataset.version` is the version on screen (tests wait on it); `data-verified` / `data-lots` on the
 * verified count say how far verification got.
 */
import type { StallDisplay } from "../market/stall.ts";
import type { Provenance } from "../protocol/answer.ts";
import { httpRpc, rpcReader } from "../verify/chain-reader.ts";
import { verifyProvenance, worst, type Check, type Status, type Verification } from "../verify/verify.ts";
import type { ClientMessages } from "./i18n.ts";
import { DISPLAY } from "./market-i18n.ts";
import type { StallPageConfig } from "./stall-page.ts";
import { stallView } from "./stall-view.ts";

type BadgeState = Status | "checking" | "error";

const configText = document.getElementById("stall-config")?.textContent;
const config = JSON.parse(configText ?? "{}") as StallPageConfig;
const m: ClientMessages = config.messages;
const t = DISPLAY[config.lang];
const reader = rpcReader(httpRpc(config.rpcUrl));
/** Verdicts by the answer's JSON: an unchanged answer is not verified twice. */
const verdicts = new Map<string, Verification | "error">();
let current = JSON.parse(document.getElementById("stall-display")?.textContent ?? "null") as StallDisplay;
let generation = 0;
let page = 0;

function all(root: ParentNode, selector: string): Element[] {
  return Array.from(root.querySelectorAll(selector));
}

function region(name: string): Element {
  const el = document.querySelector(`[data-region="${name}"]`);
  if (!el) throw new Error(`the page has no ${name} region`);
  return el;
}

function fragmentOf(htmlText: string): DocumentFragment {
  const template = document.createElement("template");
  template.innerHTML = htmlText;
  return template.content;
}

function normalisedText(node: ParentNode): string {
  const copy = node.cloneNode(true) as ParentNode;
  all(copy, ".badge, [data-rewritten]").forEach((b) => b.remove());
  all(copy, "time[datetime]").forEach((el) => (el.textContent = el.getAttribute("datetime")));
  all(copy, "[data-country]").forEach((el) => (el.textContent = el.getAttribute("data-country")));
  return (copy.textContent ?? "").replace(/\s+/g, " ").trim();
}

function setBadge(badge: Element, state: BadgeState, reason = ""): void {
  badge.setAttribute("data-state", state);
  const label = badge.querySelector(".label");
  const why = badge.querySelector(".reason");
  if (label) label.textContent = m[state];
  if (why) why.textContent = reason;
}

function reasonOf(checks: readonly Check[]): string {
  return checks
    .filter((c) => c.status === "failed")
    .map((c) => (c.detail ? `${c.name} (${c.detail})` : c.name))
    .join("; ");
}

function cardOf(batchId: string): Element | null {
  return document.querySelector(`article.lot[data-batch-id="${CSS.escape(batchId)}"]`);
}

function applyVerdict(batchId: string, verdict: Verification | "error"): void {
  const card = cardOf(batchId);
  if (!card) return;
  if (verdict === "error") {
    for (const b of all(card, ".badge")) setBadge(b, "error");
    card.setAttribute("data-verification", "error");
    return;
  }
  const byIndex = new Map(verdict.entries.map((e) => [String(e.index), e]));
  for (const b of all(card, ".badge[data-index]")) {
    const entry = byIndex.get(b.getAttribute("data-index") ?? "");
    if (!entry || entry.eventHash !== b.getAttribute("data-event-hash")) setBadge(b, "failed");
    else setBadge(b, entry.status, entry.status === "failed" ? reasonOf(entry.checks) : "");
  }
  const batchState = verdict.batch.length === 0 ? verdict.status : worst(verdict.batch.map((c) => c.status));
  for (const b of all(card, ".badge[data-scope=batch]")) setBadge(b, batchState, batchState === "failed" ? reasonOf(verdict.batch) : "");
  card.setAttribute("data-verification", verdict.status);
}

function showCount(): void {
  const el = document.querySelector('[data-testid="verified-count"]');
  if (!el) return;
  const answers = current.lots.map((l) => verdicts.get(JSON.stringify(l.answer)));
  const verified = answers.filter((v) => v !== undefined && v !== "error" && v.status === "verified").length;
  el.textContent = current.lots.length === 0 ? "" : t.verifiedCount(verified, current.lots.length);
  el.setAttribute("data-verified", String(verified));
  el.setAttribute("data-lots", String(current.lots.length));
}

async function verifyAll(gen: number): Promise<void> {
  for (const { batchId, answer } of current.lots) {
    const key = JSON.stringify(answer);
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      try {
        verdict = await verifyProvenance(answer as Provenance, reader, { batchId, trust: config.trust });
      } catch (err) {
        console.error(`verification of ${batchId} could not run:`, err);
        verdict = "error";
      }
      verdicts.set(key, verdict);
    }
    // A newer view replaced this one meanwhile: its own pass sets its badges.
    if (gen !== generation) return;
    applyVerdict(batchId, verdict);
    showCount();
  }
}

function showPage(): void {
  const cards = all(document, "article.lot");
  const pages = Math.max(1, Math.ceil(cards.length / config.perPage));
  page %= pages;
  cards.forEach((c, i) => ((c as HTMLElement).hidden = Math.floor(i / config.perPage) !== page));
  const indicator = document.querySelector('[data-testid="page"]');
  if (indicator) indicator.textContent = pages > 1 ? t.page(page + 1, pages) : "";
}

/** Renders `display` in place of what is on screen; on the first render, marks cards the server worded differently. */
function render(display: StallDisplay, first: boolean): void {
  const view = stallView(display, config.lang, config.marketName);
  const lots = fragmentOf(view.lots.value);
  const differs = new Set<string>();
  if (first) {
    const server = new Map(all(region("lots"), "article.lot").map((c) => [c.getAttribute("data-batch-id") ?? "", normalisedText(c)]));
    for (const card of all(lots, "article.lot")) {
      const id = card.getAttribute("data-batch-id") ?? "";
      if (server.get(id) !== normalisedText(card)) differs.add(id);
      server.delete(id);
    }
    if (server.size > 0) console.error("the server showed lots its answer does not hold:", [...server.keys()]);
  }
  region("header").replaceChildren(fragmentOf(view.header.value));
  region("lots").replaceChildren(lots);
  region("alert").replaceChildren(fragmentOf(view.alert.value));
  document.title = view.title;
  for (const id of differs) {
    const note = document.createElement("p");
    note.setAttribute("data-rewritten", "");
    note.textContent = `⚠ ${m.rewritten}`;
    cardOf(id)?.querySelector(".body")?.prepend(note);
  }
  for (const { batchId, answer } of display.lots) {
    const known = verdicts.get(JSON.stringify(answer));
    if (known !== undefined) applyVerdict(batchId, known);
  }
  document.body.dataset.version = display.version;
  showCount();
  showPage();
}

let refreshing: Promise<void> | undefined;
let again = false;

async function refresh(): Promise<void> {
  const res = await fetch(config.displayUrl, { headers: { accept: "application/json" }, cache: "no-store" });
  if (!res.ok) throw new Error(`GET ${config.displayUrl}: HTTP ${res.status}`);
  const display = (await res.json()) as StallDisplay;
  if (display.version === current.version) return;
  current = display;
  generation += 1;
  render(display, false);
  void verifyAll(generation);
}

/** Fetches the view once at a time; a version announced meanwhile triggers one more fetch after it. */
function refreshSoon(): void {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = refresh()
    .catch((err: unknown) => console.error("could not refresh the display:", err))
    .finally(() => {
      refreshing = undefined;
      if (again) {
        again = false;
        refreshSoon();
      }
    });
}

function live(state: "live" | "offline"): void {
  const el = document.querySelector('[data-testid="live"]');
  if (!el) return;
  el.setAttribute("data-state", state);
  el.textContent = state === "live" ? t.live : t.offline;
}

function listen(): void {
  const events = new EventSource(config.eventsUrl);
  events.onopen = () => live("live");
  events.onerror = () => live("offline");
  events.addEventListener("version", (e) => {
    live("live");
    if ((e as MessageEvent<string>).data !== current.version) refreshSoon();
  });
}

if (configText) {
  render(current, true);
  void verifyAll(generation);
  listen();
  setInterval(() => {
    page += 1;
    showPage();
  }, config.pageMs);
}
