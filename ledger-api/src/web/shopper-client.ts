/// <reference lib="dom" />
/**
 * The shopper page's script, run on the shopper's phone (bundle.ts builds it, with the verifier, to
 * ledger-api/web-dist/shopper.js; the page loads it from /assets/shopper.js):
 *
 * 1. read the provenance answer the page was rendered from (embedded in it as JSON);
 * 2. verify it against the chain's JSON-RPC endpoint with the contracts pinned in the page (verify/verify.ts);
 * 3. render the facts again from that same answer with the server's own renderer (shopper-view.ts) and compare them
 *    with what the server rendered: where the server's text says something the signed records do not, the fact is
 *    marked as corrected and the summary says not to trust the website;
 * 4. replace the server's rendering with this one, so every fact on screen is drawn from the verified JSON, and set
 *    each fact's badge from the verifier's result for its log entry, the summary from the whole.
 *
 * Locale-formatted text is compared by its raw value (`<time datetime>`, `data-country`): Node's and the browser's
 * `Intl` data may word a date or a country differently without anyone lying. Badges are compared by nothing: their
 * state is this script's to set.
 */
import uPlot from "uplot";
import type { Provenance } from "../protocol/answer.ts";
import { httpRpc, rpcReader } from "../verify/chain-reader.ts";
import { verifyProvenance, worst, type Check, type Status, type Verification } from "../verify/verify.ts";
import { MESSAGES, type ClientMessages } from "./i18n.ts";
import type { ShopperPageConfig } from "./page.ts";
import { shopperView, type ShopperView } from "./shopper-view.ts";

type BadgeState = Status | "checking" | "error";
type Region = "recall" | "facts";
const REGIONS: readonly Region[] = ["recall", "facts"];

function all(root: ParentNode, selector: string): Element[] {
  return Array.from(root.querySelectorAll(selector));
}

function setBadge(m: ClientMessages, badge: Element, state: BadgeState, reason = ""): void {
  badge.setAttribute("data-state", state);
  const label = badge.querySelector(".label");
  const why = badge.querySelector(".reason");
  if (label) label.textContent = m[state];
  if (why) why.textContent = reason;
}

function setSummary(m: ClientMessages, state: Exclude<BadgeState, "checking">, detail?: string): void {
  const el = document.querySelector('[data-testid="summary"]');
  if (!el) return;
  const key = `${state.charAt(0).toUpperCase()}${state.slice(1)}` as "Verified" | "Pending" | "Failed" | "Error";
  el.setAttribute("data-state", state);
  const title = el.querySelector("strong");
  const text = el.querySelector("p");
  if (title) title.textContent = m[`summary${key}`];
  if (text) text.textContent = detail ?? m[`summaryDetail${key}`];
}

function reasonOf(checks: readonly Check[]): string {
  return checks
    .filter((c) => c.status === "failed")
    .map((c) => (c.detail ? `${c.name} (${c.detail})` : c.name))
    .join("; ");
}

/** The text a node shows, with locale-formatted values replaced by their raw values and badges left out. */
function normalisedText(node: ParentNode): string {
  const copy = node.cloneNode(true) as ParentNode;
  all(copy, ".badge, [data-rewritten]").forEach((b) => b.remove());
  all(copy, "time[datetime]").forEach((t) => (t.textContent = t.getAttribute("datetime")));
  all(copy, "[data-country]").forEach((c) => (c.textContent = c.getAttribute("data-country")));
  all(copy, "a[href]").forEach((a) => a.append(` <${a.getAttribute("href") ?? ""}>`));
  return (copy.textContent ?? "").replace(/\s+/g, " ").trim();
}

/** Facts the finer comparison names: each timeline fact, the origin of an ancestor, the product line, the recall. */
const FACT_IDS = '[data-testid^="fact-"], [data-testid="product"], [data-testid="recall-banner"]';

/**
 * Compares the server's rendering with the verified one, region by region. Returns whether anything differs and
 * the test ids of the facts that do (a fact the server showed but the answer lacks counts too).
 */
function compare(
  regions: ReadonlyMap<Region, Element>,
  rendered: ReadonlyMap<Region, DocumentFragment>,
): { differs: boolean; facts: Set<string> } {
  let differs = false;
  const facts = new Set<string>();
  for (const region of REGIONS) {
    const server = regions.get(region)!;
    const mine = rendered.get(region)!;
    if (normalisedText(server) !== normalisedText(mine)) differs = true;
    const serverFacts = new Map(all(server, FACT_IDS).map((el) => [el.getAttribute("data-testid") ?? "", el]));
    for (const el of all(mine, FACT_IDS)) {
      const id = el.getAttribute("data-testid") ?? "";
      const theirs = serverFacts.get(id);
      if (!theirs || normalisedText(theirs) !== normalisedText(el)) facts.add(id);
      serverFacts.delete(id);
    }
    if (serverFacts.size > 0) differs = true;
  }
  return { differs: differs || facts.size > 0, facts };
}

function fragmentOf(html: string): DocumentFragment {
  const template = document.createElement("template");
  template.innerHTML = html;
  return template.content;
}

function applyBadges(m: ClientMessages, verification: Verification): void {
  const byIndex = new Map(verification.entries.map((e) => [String(e.index), e]));
  for (const badge of all(document, ".badge[data-index]")) {
    const entry = byIndex.get(badge.getAttribute("data-index") ?? "");
    if (!entry || entry.eventHash !== badge.getAttribute("data-event-hash")) {
      setBadge(m, badge, "failed");
      continue;
    }
    setBadge(m, badge, entry.status, entry.status === "failed" ? reasonOf(entry.checks) : "");
  }
  const batchState = verification.batch.length === 0 ? verification.status : worst(verification.batch.map((c) => c.status));
  for (const badge of all(document, ".badge[data-scope=batch]")) {
    setBadge(m, badge, batchState, batchState === "failed" ? reasonOf(verification.batch) : "");
  }
}

/** Shows `view` in place of the server's rendering and marks the facts whose server text differed. */
function show(
  m: ClientMessages,
  regions: ReadonlyMap<Region, Element>,
  rendered: ReadonlyMap<Region, DocumentFragment>,
  rewritten: ReadonlySet<string>,
  view: ShopperView,
): void {
  for (const region of REGIONS) regions.get(region)!.replaceChildren(rendered.get(region)!);
  document.title = view.title;
  for (const id of rewritten) {
    const fact = document.querySelector(`[data-testid="${CSS.escape(id)}"]`);
    if (!fact) continue;
    const note = document.createElement(fact.tagName === "TR" ? "span" : "p");
    note.className = "bad";
    note.setAttribute("data-rewritten", "");
    note.textContent = `⚠ ${m.rewritten}`;
    (fact.tagName === "TR" ? (fact.querySelector("td") ?? fact) : fact).prepend(note);
  }
}

/**
 * Draws each reading type's series (the answer's observations.readings[n].series: mean, lowest and highest per span)
 * into its container with uPlot, and leaves the data it drew in the container's `data-chart-data` (and the charts on
 * `window.readingCharts`), so what the chart shows can be read off the page.
 */
function drawReadings(answer: Provenance): void {
  const charts: uPlot[] = [];
  for (const el of all(document, '[data-chart^="reading-"]')) {
    const n = Number((el.getAttribute("data-chart") ?? "").slice("reading-".length));
    const reading = answer.observations.readings[n];
    if (reading === undefined || reading.series.length === 0 || !(el instanceof HTMLElement)) continue;
    const s = reading.series;
    const data: uPlot.AlignedData = [s.map((p) => p.t), s.map((p) => p.mean), s.map((p) => p.min), s.map((p) => p.max)];
    const unit = el.closest("figure")?.querySelector("figcaption")?.textContent?.split("·")[0]?.trim() ?? reading.unit;
    const chart = new uPlot(
      {
        width: Math.max(260, Math.floor(el.getBoundingClientRect().width)),
        height: 180,
        scales: { x: { time: true } },
        legend: { show: false },
        axes: [{}, { size: 48 }],
        series: [
          {},
          { label: unit, stroke: "#1f3d2b", width: 2 },
          { label: "min", stroke: "#6b8fb3", width: 1, dash: [4, 3] },
          { label: "max", stroke: "#b36b6b", width: 1, dash: [4, 3] },
        ],
      },
      data,
      el,
    );
    el.setAttribute("data-chart-data", JSON.stringify(chart.data));
    charts.push(chart);
  }
  (window as unknown as { readingCharts: uPlot[] }).readingCharts = charts;
}

async function run(config: ShopperPageConfig): Promise<void> {
  const m = MESSAGES[config.lang].client;
  const regions = new Map<Region, Element>();
  for (const region of REGIONS) {
    const el = document.querySelector(`[data-region="${region}"]`);
    if (!el) throw new Error(`the page has no ${region} region`);
    regions.set(region, el);
  }
  const answer = JSON.parse(document.getElementById("ledger-answer")?.textContent ?? "null") as Provenance;
  const verification = await verifyProvenance(answer, rpcReader(httpRpc(config.rpcUrl)), {
    batchId: config.batchId,
    trust: config.trust,
  });
  // The same object the verifier checked, rendered by the server's code: what the phone shows is what was verified.
  const view = shopperView(answer, config.lang);
  const rendered = new Map<Region, DocumentFragment>([
    ["recall", fragmentOf(view.recall.value)],
    ["facts", fragmentOf(view.facts.value)],
  ]);
  const { differs, facts } = compare(regions, rendered);
  show(m, regions, rendered, facts, view);
  drawReadings(answer);
  applyBadges(m, verification);
  if (differs) {
    setSummary(m, "failed", m.summaryDetailMismatch);
    console.error("the server's page differs from the verified answer in:", [...facts].join(", ") || "its layout");
  } else {
    setSummary(m, verification.status);
  }
  // What failed about the batch as a whole (custodian, head, names...) has no fact badge of its own: say it here.
  const reasons = document.querySelector('[data-testid="summary-reasons"]');
  if (reasons) reasons.textContent = reasonOf(verification.batch);
  // The trust root, spelled out: a shopper (or a journalist) can compare it with what the market authority publishes.
  const root = document.querySelector('[data-testid="trust-root"]');
  const { chainId, ledger, anchor } = verification.chain;
  if (root) root.textContent = m.checkedAgainst(chainId, ledger, anchor, new URL(config.rpcUrl, location.href).host);
  // For field timing (and scripts/bench-page.ts): when the phone had its verdict, relative to navigation start.
  performance.mark("ledger:verdict", { detail: differs ? "failed" : verification.status });
}

function couldNotVerify(config: ShopperPageConfig, err: unknown): void {
  const m = MESSAGES[config.lang].client;
  for (const badge of all(document, ".badge")) setBadge(m, badge, "error");
  setSummary(m, "error");
  console.error("verification could not run:", err);
}

const configElement = document.getElementById("ledger-config");
if (configElement) {
  const config = JSON.parse(configElement.textContent ?? "{}") as ShopperPageConfig;
  run(config).catch((err: unknown) => couldNotVerify(config, err));
}
