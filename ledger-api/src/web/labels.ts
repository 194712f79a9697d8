/**
 * Labels for producers: a batch's QR code and a printable label page.
 *
 *   GET /v1/batches/{id}/qr.svg     the QR code holding the batch's Digital Link URI (PUBLIC_BASE_URL + path)
 *   GET /v1/batches/{id}/qr.png     the same as PNG (?scale= pixels per module, default 8)
 *   GET /v1/batches/{id}/label      an A4 page of labels: product, lot, origin, harvest date, QR, element string
 *                                   (?copies= labels on the sheet, default 1; field names in the language of
 *                                   ?lang=ko|zh|en or Accept-Language, like the shopper page)
 *
 * {id} is any batch reference the query routes take (Digital Link URL or path, URL-encoded, or the 0x batchId). An
 * unknown batch is 404 UNKNOWN_BATCH, a malformed reference 400 INVALID_IDENTIFIER (JSON). The symbol's content
 * depends only on the batch's keys and PUBLIC_BASE_URL, so the codes are cached for a day and carry an ETag.
 */
import { createHash } from "node:crypto";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { formatDigitalLink, MAX_LINK_LENGTH } from "../gs1/digital-link.ts";
import { ApiError, ErrorBody } from "../http/errors.ts";
import { requireBatch, resolveRef, type PendingLots } from "../query/batch-state.ts";
import { provenanceOf } from "../query/provenance.ts";
import type { Store } from "../store/store.ts";
import { markPending } from "../query/http-cache.ts";
import { chooseLang, countryName, formatDate, HTML_LANG, LANGS, MESSAGES } from "./i18n.ts";
import { labelSheetHtml, qrPng, qrSvg } from "./qr.ts";

export interface LabelRoutesOptions {
  readonly store: Store;
  readonly pendingLots?: PendingLots;
  readonly deployments: Deployments;
  readonly publicBaseUrl: string;
  readonly publicRpcUrl: string;
}

const IdParam = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: MAX_LINK_LENGTH,
    description: "the batch: a 0x batchId, or a GS1 Digital Link URL or path, URL-encoded as one path segment",
  }),
});

/** The symbol is a pure function of the URL: a day in any cache, revalidated by ETag after that. */
const QR_CACHE_CONTROL = "public, max-age=86400";

export const labelRoutes: FastifyPluginAsync<LabelRoutesOptions> = async (app, opts) => {
  const ctx = opts;

  /**
   * The batch's keys and Digital Link URL, and whether it is still pending (logged, not on chain); UNKNOWN_BATCH when
   * the ledger does not know it.
   */
  async function batchLink(id: string): Promise<{ gtin: string; lot: string; url: string; onChain: boolean }> {
    const ref = resolveRef(id);
    const state = await requireBatch(opts.store, ref, undefined, opts.pendingLots);
    const gtin = state.gtin ?? ref.keys?.gtin;
    const lot = state.lot ?? ref.keys?.lot;
    if (gtin === undefined || lot === undefined) {
      throw new ApiError("NOT_FOUND", `batch ${state.batchId} has no GS1 keys on record, so it has no Digital Link`);
    }
    return { gtin, lot, url: formatDigitalLink(opts.publicBaseUrl, { gtin, lot }), onChain: state.onChain };
  }

  function cached(request: FastifyRequest, reply: FastifyReply, tag: string, onChain: boolean): boolean {
    const etag = `"${createHash("sha256").update(tag).digest("base64url")}"`;
    // A pending lot's code may yet lead nowhere (the chain may refuse the lot): revalidated every time until it is on chain.
    markPending(reply, onChain)
      .header("ETag", etag)
      .header("Cache-Control", onChain ? QR_CACHE_CONTROL : "no-cache")
      .header("X-Content-Type-Options", "nosniff");
    if (request.headers["if-none-match"] === etag) {
      reply.code(304).send();
      return true;
    }
    return false;
  }

  app.get(
    "/v1/batches/:id/qr.svg",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["labels"],
        summary: "QR code (SVG) holding the batch's GS1 Digital Link URI",
        params: IdParam,
        response: { 200: { content: { "image/svg+xml": { schema: Type.String() } } }, "4xx": ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { url, onChain } = await batchLink(id);
      if (cached(request, reply, `svg\n${url}`, onChain)) return reply;
      return reply.type("image/svg+xml; charset=utf-8").send(await qrSvg(url));
    },
  );

  app.get(
    "/v1/batches/:id/qr.png",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["labels"],
        summary: "QR code (PNG) holding the batch's GS1 Digital Link URI",
        params: IdParam,
        querystring: Type.Object({
          scale: Type.Optional(Type.Integer({ minimum: 1, maximum: 32, description: "pixels per module, default 8" })),
        }),
        response: { 200: { content: { "image/png": { schema: Type.String({ format: "binary" }) } } }, "4xx": ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { scale } = request.query as { scale?: number };
      const { url, onChain } = await batchLink(id);
      if (cached(request, reply, `png\n${scale ?? 8}\n${url}`, onChain)) return reply;
      return reply.type("image/png").send(await qrPng(url, scale === undefined ? {} : { scale }));
    },
  );

  app.get(
    "/v1/batches/:id/label",
    {
      config: { admission: "queries" },
      schema: {
        tags: ["labels"],
        summary: "Printable label page (A4): product, lot, origin, harvest date, QR code and GS1 element string",
        params: IdParam,
        querystring: Type.Object({
          copies: Type.Optional(Type.Integer({ minimum: 1, maximum: 60, description: "labels on the sheet, default 1" })),
          lang: Type.Optional(Type.Union(LANGS.map((l) => Type.Literal(l)), { description: "default: from Accept-Language" })),
        }),
        response: { 200: { content: { "text/html": { schema: Type.String() } } }, "4xx": ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { copies = 1, lang: asked } = request.query as { copies?: number; lang?: string };
      const lang = chooseLang(request.headers["accept-language"], asked);
      const { gtin, lot, url, onChain } = await batchLink(id);
      const { batch } = await provenanceOf(ctx, resolveRef(id));
      const origin = batch.origins.map((o) => `${countryName(o.country, lang)}, ${o.region}`).join("; ");
      const harvest = [...new Set(batch.origins.map((o) => formatDate(o.harvestDate, lang)))].join(", ");
      const product = batch.product ?? lot;
      const page = await labelSheetHtml(
        Array.from({ length: copies }, () => ({
          product,
          gtin,
          lot,
          origin: origin === "" ? "—" : origin,
          ...(harvest === "" ? {} : { harvestDate: harvest }),
          url,
        })),
        { title: `${product} · ${lot}`, columns: copies === 1 ? 1 : 3, lang, ...(onChain ? {} : { notice: MESSAGES[lang].labelPending }) },
      );
      return markPending(reply, onChain)
        .type("text/html; charset=utf-8")
        .header("Content-Language", HTML_LANG[lang])
        .header("Vary", "Accept-Language")
        .header("Cache-Control", "no-cache")
        .header("X-Content-Type-Options", "nosniff")
        .send(page);
    },
  );
};
