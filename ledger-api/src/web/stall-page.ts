/**
 * The stall display page: a landscape 1920x1080 screen above a stall, read from two metres. Server-rendered from the
 * display's answer (market/stall.ts) with stall-view.ts, so it shows its facts before any script runs; its script
 * (stall-client.ts, /assets/stall.js) then verifies each lot against the chain, one lot after another with one chain
 * reader, re-renders each card from the answer it verified and sets its badges, and keeps the screen current: it
 * listens to the stall's event stream (GET /stalls/{stall}/events) and fetches the view again
 * (GET /v1/stalls/{stall}/display) when its version changes. A recall turns the screen red.
 *
 * Nothing says "verified" until the script's verifier said so; without the script every badge stays "checking".
 */
import type { StallDisplay } from "../market/stall.ts";
import { html, jsonForScript, SafeHtml } from "./html.ts";
import { HTML_LANG, MESSAGES, type ClientMessages, type Lang } from "./i18n.ts";
import { DISPLAY } from "./market-i18n.ts";
import { stallView } from "./stall-view.ts";

/** What the page hands its script (stall-client.ts reads it). */
export interface StallPageConfig {
  readonly lang: Lang;
  readonly stall: string;
  readonly account: string;
  readonly marketName: string;
  readonly trust: { readonly chainId: number; readonly ledger: string; readonly anchor: string };
  readonly rpcUrl: string;
  readonly eventsUrl: string;
  readonly displayUrl: string;
  /** Cards shown at once; the script pages through the rest. */
  readonly perPage: number;
  readonly pageMs: number;
  readonly messages: ClientMessages;
}

export interface StallPageOptions {
  readonly lang: Lang;
  readonly nonce: string;
  readonly clientUrl: string;
  readonly marketName: string;
  readonly rpcUrl: string;
  readonly trust: StallPageConfig["trust"];
}

const CSS = `
*{box-sizing:border-box}
html,body{margin:0;height:100%;background:#0d0d0d;color:#fff;overflow:hidden}
body{font-family:system-ui,"Noto Sans KR","Noto Sans CJK KR","Apple SD Gothic Neo","Malgun Gothic","Noto Sans SC","Noto Sans CJK SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;font-size:26px;line-height:1.3}
:lang(zh) body,body:lang(zh-Hans){font-family:system-ui,"Noto Sans SC","Noto Sans CJK SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif}
.screen{display:flex;flex-direction:column;height:100vh}
header.stall{display:flex;justify-content:space-between;align-items:flex-end;padding:18px 36px 14px;background:#1f3d2b;border-bottom:6px solid #ffd400}
header.stall h1{font-size:64px;margin:0;line-height:1.05;font-weight:800}
header.stall p{margin:4px 0 0;font-size:28px;color:#e8f2ea}
header.stall .status{text-align:right}
header.stall .status p:first-child{font-size:36px;font-weight:700;color:#fff}
main.lots{flex:1;display:grid;grid-template-columns:repeat(2,1fr);grid-template-rows:repeat(2,minmax(0,1fr));gap:22px;padding:20px 36px;min-height:0}
article.lot{display:flex;gap:18px;background:#fff;color:#111;border-radius:14px;padding:14px 22px;min-height:0;overflow:hidden;border:5px solid #fff}
article.lot[hidden]{display:none}
article.lot.recalled{border-color:#d0001b}
article.lot .body{flex:1;min-width:0}
.product{font-size:44px;line-height:1.1;margin:0 0 2px;font-weight:800;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.lotno{margin:0 0 8px;font-size:24px;color:#444}
.fact{border-top:2px solid #e4e4e4;padding:4px 0;position:relative}
.fact .k{display:inline-block;min-width:7.5em;font-size:20px;text-transform:uppercase;letter-spacing:.04em;color:#555;font-weight:700}
.fact .v{display:inline;font-size:27px}
.fact .v.small{display:block;font-size:22px;color:#333}
.analytes{display:block;font-size:21px;color:#333}
.analytes span{margin-right:18px;white-space:nowrap}
.ok{color:#0b6b2c}
.bad{color:#c4001a;font-weight:800}
.muted{color:#666}
.qr{display:flex;flex-direction:column;align-items:center;justify-content:flex-start;width:210px;flex:none;text-decoration:none;color:#111;font-size:20px;text-align:center}
.qr img{width:200px;height:200px;image-rendering:pixelated;background:#fff}
.badge{display:inline-block;font-size:18px;padding:0 12px;border-radius:18px;border:2px solid #888;color:#333;background:#eee;margin-left:10px;vertical-align:middle}
.badge[data-state=verified]{border-color:#0b6b2c;color:#fff;background:#0b6b2c}
.badge[data-state=pending]{border-color:#9a5c00;color:#4a2c00;background:#ffe3a3}
.badge[data-state=failed]{border-color:#c4001a;color:#fff;background:#c4001a}
.badge[data-state=error]{border-color:#c4001a;color:#c4001a;background:#fff}
.badge .reason:not(:empty)::before{content:": "}
[data-rewritten]{color:#c4001a;font-weight:800}
p.empty,p.more{font-size:40px;color:#ddd;grid-column:1/-1;align-self:center;text-align:center}
footer{display:flex;justify-content:space-between;padding:6px 36px 10px;font-size:22px;color:#bbb}
footer [data-state=live]::before{content:"● ";color:#3ddc6f}
footer [data-state=offline]::before{content:"● ";color:#ff8a00}
.alert{position:fixed;inset:0;background:#c4001a;color:#fff;padding:48px 64px;display:flex;flex-direction:column;gap:12px;z-index:10;border:16px solid #ffd400}
.alert h1{font-size:110px;line-height:1;margin:0 0 10px;font-weight:900;letter-spacing:.01em}
.alert .count{font-size:48px;margin:0;font-weight:700}
.alert ul.recalled{list-style:none;padding:0;margin:6px 0;font-size:38px}
.alert ul.recalled li{background:rgba(0,0,0,.22);border-radius:12px;padding:12px 22px;margin:8px 0}
.alert ul.recalled strong{display:block;font-size:46px}
.alert .reason{display:block;font-size:30px}
.alert .ack{display:inline-block;margin-top:6px;font-size:34px;font-weight:800;padding:2px 16px;border-radius:10px}
.alert .ack.done{background:#fff;color:#0b6b2c}
.alert .ack.todo{background:#ffd400;color:#111}
.alert ol.steps{font-size:52px;font-weight:800;margin:10px 0 0;padding-left:1.3em}
.alert ol.steps li{margin:6px 0}
`;

const LOADER = `(function () {
  "use strict";
  var s = document.createElement("script");
  s.src = JSON.parse(document.getElementById("stall-config").textContent).clientUrl;
  s.async = true;
  document.head.appendChild(s);
})();`;

export function stallPage(display: StallDisplay, opts: StallPageOptions): string {
  const { lang } = opts;
  const view = stallView(display, lang, opts.marketName);
  const key = display.stall.key;
  const config: StallPageConfig & { clientUrl: string } = {
    lang,
    stall: key,
    account: display.stall.account,
    marketName: opts.marketName,
    trust: opts.trust,
    rpcUrl: opts.rpcUrl,
    eventsUrl: `/stalls/${key}/events`,
    displayUrl: `/v1/stalls/${key}/display`,
    perPage: 4,
    pageMs: 12_000,
    messages: MESSAGES[lang].client,
    clientUrl: opts.clientUrl,
  };
  return html`<!DOCTYPE html>
<html lang="${HTML_LANG[lang]}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=1920, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${view.title}</title>
<style nonce="${opts.nonce}">${new SafeHtml(CSS)}</style>
</head>
<body>
<div class="screen">
<header class="stall" data-region="header">${view.header}</header>
<main class="lots" data-region="lots" data-testid="lots">${view.lots}</main>
<footer><span data-testid="live" data-state="connecting">${DISPLAY[lang].offline}</span><span data-testid="page"></span></footer>
</div>
<div data-region="alert">${view.alert}</div>
<script type="application/json" id="stall-config">${jsonForScript(config)}</script>
<script type="application/json" id="stall-display">${jsonForScript(display)}</script>
<script nonce="${opts.nonce}">${new SafeHtml(LOADER)}</script>
</body>
</html>
`.value;
}
