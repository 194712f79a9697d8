/**
 * The GS1 Digital Link resolver: what a batch's QR code opens.
 *
 *   GET /01/{gtin}/10/{lot}[/21/{serial}]
 *
 * One URI, several representations (GS1 Digital Link resolver behaviour, ISO/IEC 18975):
 * - `Accept: text/html` (a phone's browser; also the default for a missing or `*` Accept): the shopper page
 *   (page.ts) in the language `?lang=` or `Accept-Language` asks for;
 * - `Accept: application/json`: the provenance answer, exactly as GET /v1/batches/{id}/provenance gives it, with its
 *   ETag (If-None-Match -> 304);
 * - `Accept: application/linkset+json`, or `?linkType=linkset` / `?linkType=all`: the batch's links as an RFC 9264
 *   linkset whose anchor is the Digital Link URI and whose relation types are GS1 link types (pip, traceability,
 *   recallStatus, certificationInfo when the lot was tested, defaultLink);
 * - `?linkType=gs1:{type}` (or the full https://gs1.org/voc/{type}): 307 to that link's target; a link type this
 *   batch does not have is 404 with the list of the ones it has.
 * Every answer names the linkset in a `Link` header and varies on Accept and Accept-Language.
 *
 * A GTIN-8/12/13, or any other non-canonical spelling of the path (lower-case percent-escapes, a needless escape),
 * is redirected 301 to the canonical URI, query kept, so a batch has one address to cache and to share. A compressed
 * Digital Link (`/{compressed}` or `/01/{gtin}/{compressed}`, GS1 Digital Link compression) is decompressed and
 * redirected 301 the same way, its data attributes and other parameters written out in the canonical query; a
 * root path that does not decompress to a GTIN link stays the plain 404 it was. A link that
 * is not a valid Digital Link is 400 with a page that says what is wrong; a valid one the ledger does not know is
 * 404 with a friendly page in the shopper's language. Both are JSON (the API's error shape) for JSON clients.
 *
 * The page's script is served from /assets/shopper.js and the bare verifier from /assets/verify.js: bundles built
 * into ledger-api/web-dist/ by web/bundle.ts (404 until they are built).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { decompress } from "../gs1/compression.ts";
import { canonicalQuery, parseDigitalLink, type DigitalLink } from "../gs1/digital-link.ts";
import { Gs1Error } from "../gs1/keys.ts";
import { ApiError, ErrorBody, errorBody } from "../http/errors.ts";
import { CACHE_CONTROL, markPending, sendCached } from "../query/http-cache.ts";
import { Provenance } from "../protocol/answer.ts";
import { provenanceOf } from "../query/provenance.ts";
import type { PendingLots } from "../query/batch-state.ts";
import type { Store } from "../store/store.ts";
import { chooseLang, HTML_LANG, LANGS, type Lang } from "./i18n.ts";
import { errorPage, shopperPage, type ErrorPageKind, type PageFrame } from "./page.ts";
import { AssetReader, ASSETS, contentSecurityPolicy, nonce, WEB_DIST, type AssetName } from "./page-http.ts";

export { WEB_DIST } from "./page-http.ts";

export interface ResolverOptions {
  readonly store: Store;
  /** Lots a logged Split creates before the index holds them: their pages answer, marked pending. */
  readonly pendingLots?: PendingLots;
  readonly deployments: Deployments;
  readonly publicBaseUrl: string;
  /**
   * The chain JSON-RPC endpoint shoppers' phones verify against (config.publicRpcUrl, PUBLIC_RPC_URL): written into
   * every page and allowed by its CSP, so it must be reachable from a phone, not only from the API's network.
   */
  readonly publicRpcUrl: string;
  /** Directory holding the bundles; default WEB_DIST. */
  readonly webDist?: URL;
}

// ---------------------------------------------------------------------------------------------------------------
// GS1 link types

const GS1_VOC = "https://gs1.org/voc/";

/** The link types this resolver serves, in the order a linkset lists them. */
export const LINK_TYPES = ["pip", "traceability", "recallStatus", "certificationInfo", "defaultLink"] as const;
export type LinkType = (typeof LINK_TYPES)[number];

export const LinkTarget = Type.Object(
  {
    href: Type.String(),
    title: Type.String(),
    type: Type.String({ description: "media type of the target" }),
    hreflang: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
export type LinkTarget = Static<typeof LinkTarget>;

export const Linkset = Type.Object(
  {
    linkset: Type.Array(
      Type.Object(
        { anchor: Type.String({ description: "the Digital Link URI" }) },
        { additionalProperties: Type.Array(LinkTarget), description: "relation type (https://gs1.org/voc/…) -> targets" },
      ),
    ),
  },
  { title: "Linkset", description: "RFC 9264 linkset (application/linkset+json) of a batch's GS1 links" },
);
export type Linkset = Static<typeof Linkset>;

const LinkTypeError = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String(),
    message: Type.String(),
    linkTypes: Type.Array(Type.String(), { description: "the link types this batch has" }),
  },
  { additionalProperties: true },
);

/** `gs1:pip`, `https://gs1.org/voc/pip` -> "pip"; anything else -> undefined. */
function linkTypeName(param: string): string {
  if (param.startsWith("gs1:")) return param.slice(4);
  if (param.startsWith(GS1_VOC)) return param.slice(GS1_VOC.length);
  return param;
}

function isLinkType(name: string): name is LinkType {
  return (LINK_TYPES as readonly string[]).includes(name);
}

/** The batch's links: every target an absolute URL under the public base. */
export function linksOf(answer: Provenance, publicBaseUrl: string, anchor: string): Map<LinkType, LinkTarget[]> {
  const { batch } = answer;
  const batchPath = batch.path ?? batch.batchId;
  const pageUrl = `${publicBaseUrl}${batch.path ?? ""}`;
  const api = `${publicBaseUrl}/v1/batches/${encodeURIComponent(batch.path ?? batch.batchId)}`;
  const product = batch.product ?? batchPath;
  const page: LinkTarget = {
    href: batch.path === null ? anchor : pageUrl,
    title: `${product}: where it comes from`,
    type: "text/html",
    hreflang: LANGS.map((l) => HTML_LANG[l]),
  };
  const links = new Map<LinkType, LinkTarget[]>();
  links.set("pip", [page]);
  links.set("traceability", [
    { href: `${api}/provenance`, title: "Provenance: signed events, inclusion proofs, chain records", type: "application/json" },
    { href: `${api}/trace`, title: "Trace: ancestor and descendant lots and who holds them", type: "application/json" },
  ]);
  links.set("recallStatus", [
    {
      href: `${api}/trace`,
      title: batch.recalled ? `RECALLED: ${batch.recall?.reason ?? "see the trace"}` : "Not recalled",
      type: "application/json",
    },
  ]);
  if (answer.timeline.some((e) => e.kind === "Inspected" && e.relation === "own")) {
    links.set("certificationInfo", [{ ...page, href: `${page.href}#lab-results`, title: "Laboratory results" }]);
  }
  links.set("defaultLink", [page]);
  return links;
}

export function linksetOf(anchor: string, links: ReadonlyMap<LinkType, readonly LinkTarget[]>): Linkset {
  const entry: Record<string, unknown> = { anchor };
  for (const [type, targets] of links) entry[`${GS1_VOC}${type}`] = targets;
  return { linkset: [entry as Linkset["linkset"][number]] };
}

// ---------------------------------------------------------------------------------------------------------------
// Content negotiation

type Representation = "html" | "json" | "linkset";

const OFFERS: readonly (readonly [Representation, string])[] = [
  ["html", "text/html"],
  ["json", "application/json"],
  ["linkset", "application/linkset+json"],
];

/**
 * The representation an `Accept` header prefers (RFC 9110 12.5.1): each offer takes the q of the most specific
 * range that matches it; the highest q wins, ties going to the order of OFFERS (HTML first, as a scan from a
 * browser must get the page). No Accept means HTML; nothing acceptable means undefined (406).
 */
export function negotiate(accept: string | undefined): Representation | undefined {
  if (accept === undefined || accept.trim() === "") return "html";
  const ranges = accept.split(",").flatMap((part) => {
    const [range = "", ...params] = part.trim().split(";");
    const [type, subtype] = range.trim().toLowerCase().split("/");
    if (!type || !subtype) return [];
    const qParam = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return [{ type, subtype, q: Number.isFinite(q) ? q : 0 }];
  });
  let best: { rep: Representation; q: number } | undefined;
  for (const [rep, media] of OFFERS) {
    const [type, subtype] = media.split("/") as [string, string];
    let q: number | undefined;
    let specificity = -1;
    for (const r of ranges) {
      const s = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === "*" ? 1 : r.type === "*" && r.subtype === "*" ? 0 : -1;
      if (s > specificity) {
        specificity = s;
        q = r.q;
      }
    }
    if (q !== undefined && q > 0 && (best === undefined || q > best.q)) best = { rep, q };
  }
  return best?.rep;
}

// ---------------------------------------------------------------------------------------------------------------
// The plugin

function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  return q === -1 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function decodes(segment: string): boolean {
  try {
    decompress(segment);
    return true;
  } catch (err) {
    if (err instanceof Gs1Error) return false;
    throw err;
  }
}

function queryLang(request: FastifyRequest): string | undefined {
  const lang = (request.query as Record<string, unknown> | undefined)?.lang;
  return typeof lang === "string" ? lang : undefined;
}

const ResolverParams = Type.Object({
  gtin: Type.String({ description: "GTIN-8/12/13/14 (AI 01); anything but GTIN-14 is redirected to it" }),
  lot: Type.String({ description: "batch/lot (AI 10), percent-encoded" }),
  serial: Type.Optional(Type.String({ description: "serial (AI 21): names an item of the batch; the batch answers" })),
});

const RESOLVER_DESCRIPTION =
  "The batch's GS1 Digital Link URI, as its QR code holds it. Content negotiation: text/html -> the shopper page " +
  "(language from ?lang=ko|zh|en or Accept-Language); application/json -> the provenance answer with ETag; " +
  "application/linkset+json or ?linkType=linkset -> the RFC 9264 linkset; ?linkType=gs1:{type} -> 307 to that link.";

export const resolverRoutes: FastifyPluginAsync<ResolverOptions> = async (app, opts) => {
  const ctx = opts;
  const rpcUrl = opts.publicRpcUrl;
  const webDist = opts.webDist ?? WEB_DIST;

  const assets = new AssetReader(webDist);
  const asset = (file: AssetName) => assets.get(file);

  function frameFor(request: FastifyRequest, lang: Lang): PageFrame {
    const { path, query } = splitUrl(request.url);
    const params = new URLSearchParams(query);
    return {
      lang,
      nonce: nonce(),
      langHref: (l) => {
        params.set("lang", l);
        return `${path}?${params.toString()}`;
      },
    };
  }

  function sendPage(reply: FastifyReply, status: number, frame: PageFrame, body: string): FastifyReply {
    return reply
      .code(status)
      .type("text/html; charset=utf-8")
      .header("Content-Language", HTML_LANG[frame.lang])
      .header("Content-Security-Policy", contentSecurityPolicy(frame.nonce, rpcUrl))
      .header("X-Content-Type-Options", "nosniff")
      .header("Referrer-Policy", "no-referrer")
      .send(body);
  }

  function sendError(
    request: FastifyRequest,
    reply: FastifyReply,
    rep: Representation,
    kind: ErrorPageKind,
    error: ApiError,
  ): FastifyReply {
    if (rep !== "html") throw error;
    const lang = chooseLang(request.headers["accept-language"], queryLang(request));
    const frame = frameFor(request, lang);
    const scanned = splitUrl(request.url).path;
    const page = errorPage(kind, frame, { scanned, ...(kind === "badLink" ? { message: error.message } : {}) });
    return sendPage(reply.header("Cache-Control", "no-store"), error.statusCode, frame, page);
  }

  async function resolve(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.header("Vary", "Accept, Accept-Language");
    const accepted = negotiate(request.headers.accept);
    const rep: Representation = accepted ?? "html";

    let link: DigitalLink;
    try {
      link = parseDigitalLink(request.url);
    } catch (err) {
      if (!(err instanceof Gs1Error)) throw err;
      // Any one-segment path reaches here as a possible compressed link: one that does not even decode is just an
      // unknown page; one that decodes but breaks a GS1 rule is a bad link, and the shopper is told why.
      if (request.routeOptions.url === "/:compressed" && !decodes((request.params as { compressed: string }).compressed)) {
        reply.callNotFound();
        return reply;
      }
      return sendError(request, reply, rep, "badLink", new ApiError("INVALID_IDENTIFIER", err.message));
    }

    const { path, query } = splitUrl(request.url);
    if (link.compressed) {
      const canonical = canonicalQuery(link);
      return reply.code(301).header("Location", canonical === "" ? link.path : `${link.path}?${canonical}`).send();
    }
    if (path !== link.path) {
      return reply.code(301).header("Location", query === "" ? link.path : `${link.path}?${query}`).send();
    }
    if (link.keys === undefined || link.batchId === undefined) {
      return sendError(request, reply, rep, "noLot", new ApiError("NOT_FOUND", `${link.path} names GTIN ${link.gtin} but no lot`));
    }

    const anchor = `${opts.publicBaseUrl}${link.path}`;
    reply.header("Link", `<${anchor}?linkType=linkset>; rel="linkset"; type="application/linkset+json"`);

    const wantsLinkset = link.linkType === "linkset" || link.linkType === "all";
    const linkTypeAsked = link.linkType !== undefined && !wantsLinkset ? linkTypeName(link.linkType) : undefined;
    if (accepted === undefined && link.linkType === undefined) {
      return reply.code(406).send(errorBody("NOT_ACCEPTABLE", `this URI is served as ${OFFERS.map(([, m]) => m).join(", ")}`));
    }

    let answer: Provenance;
    try {
      answer = await provenanceOf(ctx, { batchId: link.batchId, keys: link.keys });
    } catch (err) {
      if (err instanceof ApiError && err.code === "UNKNOWN_BATCH") return sendError(request, reply, rep, "notFound", err);
      throw err;
    }

    markPending(reply, answer.batch.onChain);
    if (wantsLinkset || linkTypeAsked !== undefined || rep === "linkset") {
      const links = linksOf(answer, opts.publicBaseUrl, anchor);
      if (linkTypeAsked !== undefined) {
        const targets = isLinkType(linkTypeAsked) ? links.get(linkTypeAsked) : undefined;
        const first = targets?.[0];
        if (first === undefined) {
          return reply.code(404).send({
            ...errorBody(
              "NOT_FOUND",
              `this batch has no link of type "${link.linkType}"; it has ${[...links.keys()].map((k) => `gs1:${k}`).join(", ")}`,
            ),
            linkTypes: [...links.keys()].map((k) => `gs1:${k}`),
          });
        }
        return reply.code(307).header("Location", first.href).send();
      }
      reply.type("application/linkset+json");
      return sendCached(request, reply, linksetOf(anchor, links));
    }

    if (rep === "json") {
      reply.type("application/json; charset=utf-8");
      return sendCached(request, reply, answer);
    }

    const lang = chooseLang(request.headers["accept-language"], link.params.lang);
    const frame = frameFor(request, lang);
    const client = await asset("shopper.js");
    const clientUrl = client ? `/assets/shopper.js?v=${client.hash}` : "/assets/shopper.js";
    const page = shopperPage(answer, {
      ...frame,
      clientUrl,
      rpcUrl,
      trust: { chainId: opts.deployments.chainId, ledger: opts.deployments.ledger, anchor: opts.deployments.anchor },
    });
    return sendPage(reply.header("Cache-Control", CACHE_CONTROL), 200, frame, page);
  }

  const schema = {
    tags: ["resolver"],
    summary: "GS1 Digital Link resolver: shopper page, provenance JSON or linkset of a batch",
    description: RESOLVER_DESCRIPTION,
    params: ResolverParams,
    response: {
      200: {
        description: "the page, the provenance answer or the linkset, by Accept",
        content: {
          "text/html": { schema: Type.String() },
          "application/json": { schema: Provenance },
          "application/linkset+json": { schema: Linkset },
        },
      },
      301: Type.Null({ description: "to the canonical URI (GTIN-14, canonical percent-encoding)" }),
      304: Type.Null({ description: "not modified" }),
      307: Type.Null({ description: "to the target of the requested linkType" }),
      404: {
        description: "unknown batch (HTML page or Error) or unknown linkType (with the list)",
        content: {
          "text/html": { schema: Type.String() },
          "application/json": { schema: Type.Union([LinkTypeError, ErrorBody]) },
        },
      },
      "4xx": ErrorBody,
      503: ErrorBody,
    },
  };
  // The page and the answer are what a scan costs: through the queries gate, like the provenance route. A compressed
  // link is only redirected: no gate.
  const config = { admission: "queries" } as const;
  app.get("/01/:gtin/10/:lot", { config, schema }, resolve);
  app.get("/01/:gtin/10/:lot/21/:serial", { config, schema }, resolve);
  app.get("/01/:gtin", { config, schema: { hide: true } }, resolve);
  const compressedSchema = {
    tags: ["resolver"],
    summary: "A compressed GS1 Digital Link: 301 to its uncompressed, canonical URI",
    params: Type.Object({
      gtin: Type.Optional(Type.String({ description: "GTIN (AI 01) of a partially compressed link" })),
      compressed: Type.String({ description: "the AIs, GS1 Digital Link compressed (URI-safe base64)" }),
    }),
    response: {
      301: Type.Null({ description: "to the uncompressed canonical URI, data attributes in its query" }),
      "4xx": ErrorBody,
    },
  };
  app.get("/:compressed", { schema: compressedSchema }, resolve);
  app.get("/01/:gtin/:compressed", { schema: compressedSchema }, resolve);

  app.get(
    "/assets/:file",
    {
      schema: {
        tags: ["resolver"],
        summary: "The browser bundles: shopper.js (the shopper page's script, with the verifier), verify.js (the verifier alone), stall.js (the stall display's, with the verifier) and market.js (the safety centre's charts, with uPlot)",
        params: Type.Object({ file: Type.Union(ASSETS.map((f) => Type.Literal(f))) }),
        querystring: Type.Object({ v: Type.Optional(Type.String({ description: "content hash, as pages name the bundle: cached for good" })) }),
        response: { 200: { content: { "text/javascript": { schema: Type.String() } } }, "4xx": ErrorBody },
      },
    },
    async (request, reply) => {
      const { file } = request.params as { file: AssetName };
      const { v } = request.query as { v?: string };
      const found = await asset(file);
      if (!found) throw new ApiError("NOT_FOUND", `the browser bundle ${file} is not built (npm run build:web)`);
      const { source, hash } = found;
      const etag = `"${hash}"`;
      // The URL a page names carries the content hash: that response never changes. Any other is revalidated.
      const cacheControl = v === hash ? "public, max-age=31536000, immutable" : "public, max-age=300";
      reply.header("ETag", etag).header("Cache-Control", cacheControl).header("X-Content-Type-Options", "nosniff");
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      return reply.type("text/javascript; charset=utf-8").send(source);
    },
  );
};
