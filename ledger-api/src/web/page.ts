/**
 * The shopper page: what a phone shows after scanning a batch's QR code. Server-rendered HTML in one response, one
 * small inline style sheet, system fonts (with Korean and simplified Chinese fallbacks), no framework: readable on
 * a cheap phone on a market's mobile signal, and every fact is in the HTML, so it reads without JavaScript.
 *
 * Trust: the page never says a fact is verified. Each fact carries a badge that starts as "checking…". The page
 * carries the provenance answer it was rendered from as JSON; its script (shopper-client.ts, served as
 * /assets/shopper.js) verifies that answer on the phone against the chain's JSON-RPC endpoint (verify/verify.ts),
 * re-renders the facts from the verified answer with the code that rendered them here (shopper-view.ts), flags any
 * difference between what the server rendered and what the signed records say, and sets each badge from the
 * verifier's result for its log entry. If the script cannot load or run, or the chain cannot be reached, badges say "could not verify" and the
 * summary says so; nothing turns green unless the verifier said so.
 *
 * Stable test ids (for browser tests): `summary`, `lang-switch`, `error`, and those of shopper-view.ts.
 */
import type { Provenance } from "../protocol/answer.ts";
import { html, jsonForScript, SafeHtml } from "./html.ts";
import { HTML_LANG, LANGS, MESSAGES, type Lang, type Messages } from "./i18n.ts";
import { shopperView } from "./shopper-view.ts";

/** What every page needs besides its content. */
export interface PageFrame {
  readonly lang: Lang;
  /** The page's URL for each language (the switcher's links), relative. */
  readonly langHref: (lang: Lang) => string;
  /** CSP nonce for the inline style and script. */
  readonly nonce: string;
}

export interface ShopperPageOptions extends PageFrame {
  /** The page's script bundle (shopper-client.ts, which includes the verifier). */
  readonly clientUrl: string;
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
.summary p{margin:.2rem 0 0;font-size:.9rem;overflow-wrap:anywhere}
.summary p:empty{display:none}
.summary[data-state=verified]{border-color:#1b7f3b;background:#e8f6ec}
.summary[data-state=pending]{border-color:#b26a00;background:#fff5e0}
.summary[data-state=failed],.summary[data-state=error]{border-color:#b00020;background:#fdecee}
.product h2{font-size:1.4rem;margin:.5rem 0 0}
.product p{margin:0;color:#555}
section.card{background:#fff;border-radius:.4rem;padding:.75rem;margin:.75rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section.card h3{font-size:1.05rem;margin:0 0 .4rem}
section.card.pending{border:2px solid #b26a00;background:#fff5e0}
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
main [data-rewritten]{display:block;width:fit-content;color:#b00020;background:#fdecee;font-weight:700;padding:.1rem .4rem;border-radius:.2rem;margin:.2rem 0}
footer{font-size:.8rem;color:#555;margin-top:1.5rem}
code{font-size:.85rem;overflow-wrap:anywhere}
`;

// ---------------------------------------------------------------------------------------------------------------
// Browser part. The work is in the client bundle (shopper-client.ts); this inline loader only covers the case where
// that bundle cannot run at all (blocked, offline, too slow), so no badge is left saying "checking…" forever.

const LOADER_SCRIPT = `(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("ledger-config").textContent);
  function couldNotVerify() {
    var summary = document.querySelector('[data-testid="summary"]');
    if (!summary || summary.getAttribute("data-state") !== "checking") return;
    summary.setAttribute("data-state", "error");
    summary.querySelector("strong").textContent = cfg.messages.summaryError;
    summary.querySelector("p").textContent = cfg.messages.summaryDetailError;
    Array.prototype.forEach.call(document.querySelectorAll(".badge"), function (b) {
      b.setAttribute("data-state", "error");
      b.querySelector(".label").textContent = cfg.messages.error;
    });
  }
  setTimeout(couldNotVerify, cfg.timeoutMs);
  var s = document.createElement("script");
  s.src = cfg.clientUrl;
  s.async = true;
  s.onerror = couldNotVerify;
  document.head.appendChild(s);
})();`;

/** How long the phone waits for the verifier before saying it could not verify. */
const VERIFY_TIMEOUT_MS = 45_000;

/** What the page hands its script, in a JSON block (shopper-client.ts reads it). */
export interface ShopperPageConfig {
  readonly lang: Lang;
  readonly batchId: string;
  readonly trust: ShopperPageOptions["trust"];
  readonly clientUrl: string;
  readonly rpcUrl: string;
  readonly timeoutMs: number;
  /** For the loader's "could not verify" without the bundle. */
  readonly messages: { readonly error: string; readonly summaryError: string; readonly summaryDetailError: string };
}

// ---------------------------------------------------------------------------------------------------------------
// Pieces

function summary(t: Messages): SafeHtml {
  return html`<section class="summary" data-testid="summary" data-state="checking" aria-live="polite">
<strong>${t.client.checking}</strong><p>${t.verifyExplain}</p>
<p class="note" data-testid="summary-reasons"></p>
<p class="note" data-testid="trust-root"></p>
<noscript><p>${t.noscript}</p></noscript>
</section>`;
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

/**
 * The shopper page for a provenance answer: the facts (shopper-view.ts) in two regions the browser re-renders from
 * the answer it verified, the verification summary between them.
 */
export function shopperPage(answer: Provenance, opts: ShopperPageOptions): string {
  const { lang } = opts;
  const t = MESSAGES[lang];
  const view = shopperView(answer, lang);
  const body = html`
<div data-region="recall">${view.recall}</div>
${summary(t)}
<div data-region="facts">${view.facts}</div>`;

  const config: ShopperPageConfig = {
    lang,
    batchId: answer.batch.batchId,
    trust: opts.trust,
    clientUrl: opts.clientUrl,
    rpcUrl: opts.rpcUrl,
    timeoutMs: VERIFY_TIMEOUT_MS,
    messages: { error: t.client.error, summaryError: t.client.summaryError, summaryDetailError: t.client.summaryDetailError },
  };
  // The answer the facts were rendered from travels with them: the browser verifies exactly what was rendered (no
  // second request that could return a newer version), and compares its own rendering of it with the server's.
  const script = html`<script type="application/json" id="ledger-config">${jsonForScript(config)}</script>
<script type="application/json" id="ledger-answer">${jsonForScript(answer)}</script>
<script nonce="${opts.nonce}">${new SafeHtml(LOADER_SCRIPT)}</script>`;
  return document(opts, view.title, body, script);
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
${detail.message === undefined ? "" : html`<p class="note">${t.technicalDetail}:<br><code lang="en" data-testid="gs1-error">${detail.message}</code></p>`}
<p class="note">${t.scannedCode}: <code>${detail.scanned}</code></p>
</section>`;
  return document(frame, title, body);
}
