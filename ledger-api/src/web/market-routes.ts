/**
 * The market's two HTML screens:
 *
 *   GET /stalls/{stall}/display   a stall's display (stall-page.ts); {stall} = its 13-digit GLN, or its address
 *   GET /market                    the market safety centre (market-page.ts)
 *
 * Language: `?lang=ko|zh|en` first; then, for a display, the market's language (MARKET_LANG) when configured, since a
 * screen's browser is rarely set up by the stall keeper; then Accept-Language; then English. Their data is the JSON
 * the market's API routes serve (market/routes.ts); the pages embed it so they show everything before any script.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { ApiError, ErrorBody } from "../http/errors.ts";
import { findStall, type MarketScope } from "../market/members.ts";
import { MAX_DAYS, marketOverview } from "../market/overview.ts";
import type { MarketProjection } from "../market/projection.ts";
import { stallDisplay } from "../market/stall.ts";
import type { Store } from "../store/store.ts";
import { chooseLang, HTML_LANG, type Lang } from "./i18n.ts";
import { marketPage } from "./market-page.ts";
import { AssetReader, contentSecurityPolicy, nonce } from "./page-http.ts";
import { stallPage } from "./stall-page.ts";

export interface MarketPagesOptions {
  readonly store: Store;
  readonly deployments: Deployments;
  readonly publicBaseUrl: string;
  readonly publicRpcUrl: string;
  readonly scope: MarketScope;
  readonly marketName: string;
  readonly marketLang: Lang | undefined;
  readonly projection: MarketProjection;
  readonly webDist?: URL;
}

const Lang = Type.Object({ lang: Type.Optional(Type.String({ description: "ko, zh or en" })) });
const CentreQuery = Type.Object({
  lang: Type.Optional(Type.String({ description: "ko, zh or en" })),
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DAYS, description: "days the supply chart spans" })),
});
const html = { 200: { content: { "text/html": { schema: Type.String() } } }, "4xx": ErrorBody };

export const marketPages: FastifyPluginAsync<MarketPagesOptions> = async (app, opts) => {
  const assets = new AssetReader(opts.webDist);
  const trust = { chainId: opts.deployments.chainId, ledger: opts.deployments.ledger, anchor: opts.deployments.anchor };

  function send(reply: FastifyReply, lang: Lang, n: string, body: string): FastifyReply {
    return reply
      .type("text/html; charset=utf-8")
      .header("Content-Language", HTML_LANG[lang])
      .header("Content-Security-Policy", contentSecurityPolicy(n, opts.publicRpcUrl))
      .header("X-Content-Type-Options", "nosniff")
      .header("Referrer-Policy", "no-referrer")
      .header("Cache-Control", "no-store")
      .header("Vary", "Accept-Language")
      .send(body);
  }

  function langHref(request: FastifyRequest): (lang: Lang) => string {
    const [path = "", query = ""] = request.url.split("?");
    return (lang) => {
      const params = new URLSearchParams(query);
      params.set("lang", lang);
      return `${path}?${params.toString()}`;
    };
  }

  app.get(
    "/stalls/:stall/display",
    {
      // A display's page holds the provenance answer of every lot of the stall; the centre's, the market's figures.
      config: { admission: "queries" },
      schema: {
        tags: ["market"],
        summary: "A stall's display: a 1920x1080 screen of the lots it holds, verified in the browser, live, red on a recall",
        params: Type.Object({ stall: Type.String({ minLength: 1, maxLength: 64 }) }),
        querystring: Lang,
        response: html,
      },
    },
    async (request, reply) => {
      const { stall } = request.params as { stall: string };
      const profile = await findStall(opts.store, stall);
      if (profile === undefined) throw new ApiError("UNKNOWN_STALL", `no retail stall has ${/^[0-9]{13}$/.test(stall) ? "GLN" : "address"} ${stall}`);
      const { lang: asked } = request.query as { lang?: string };
      const lang = chooseLang(opts.marketLang ?? request.headers["accept-language"], asked);
      const display = await stallDisplay(opts, profile);
      const n = nonce();
      const page = stallPage(display, { lang, nonce: n, clientUrl: await assets.url("stall.js"), marketName: opts.marketName, rpcUrl: opts.publicRpcUrl, trust });
      return send(reply, lang, n, page);
    },
  );

  app.get(
    "/market",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["market"],
        summary: "The market safety centre: stalls, supply by origin, lab tests, imports, open recalls and their reach, with charts",
        querystring: CentreQuery,
        response: html,
      },
    },
    async (request, reply) => {
      const { lang: asked, days } = request.query as { lang?: string; days?: number };
      const lang = chooseLang(request.headers["accept-language"] ?? opts.marketLang, asked);
      const overview = await marketOverview(opts, days);
      const n = nonce();
      const page = marketPage(overview, { lang, nonce: n, clientUrl: await assets.url("market.js"), langHref: langHref(request) });
      return send(reply, lang, n, page);
    },
  );
};
