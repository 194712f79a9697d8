/**
 * The market's JSON routes and the stall displays' event stream:
 *
 *   GET /v1/recalls/{id}/reach           a recall's reach (reach.ts); {id} as for /v1/batches/{id}/...; also ?gtin=&lot=
 *   GET /v1/market                        the safety centre's overview (overview.ts)
 *   GET /v1/market/stalls/{stall}         a stall of the market and every lot it holds
 *   GET /v1/market/lots                   the market's lots (or, scope=all, every lot) by origin or customs state
 *   GET /v1/stalls/{stall}/display        what a stall's display shows (stall.ts), with each lot's provenance answer
 *   GET /stalls/{stall}/events            server-sent events: `version` when the display's view changed (watch.ts)
 *
 * {stall} is a stall's 13-digit GLN, or its address for a stall without one. Every answer reads the store only.
 */
import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { ApiError, ErrorBody } from "../http/errors.ts";
import { resolveQueryRef, resolveRef } from "../query/batch-state.ts";
import { sendCached } from "../query/http-cache.ts";
import type { ActorProfile, Store } from "../store/store.ts";
import { findStall, inMarket, marketStalls, type MarketScope } from "./members.ts";
import { MarketLot, marketLotView, MarketOverview, marketOverview, MAX_DAYS, SUPPLY_DAYS } from "./overview.ts";
import type { MarketProjection } from "./projection.ts";
import { reachOf, RecallReach } from "./reach.ts";
import { StallDisplay, stallDisplay, stallProfile, StallProfile } from "./stall.ts";
import type { StallWatch } from "./watch.ts";

export interface MarketRoutesOptions {
  readonly store: Store;
  readonly deployments: Deployments;
  readonly publicBaseUrl: string;
  readonly publicRpcUrl: string;
  readonly scope: MarketScope;
  readonly marketName: string;
  readonly projection: MarketProjection;
  readonly watch: StallWatch;
}

/** Lots a list answer carries at most. */
const MAX_LIST = 5000;

const StallParam = Type.Object({
  stall: Type.String({ minLength: 1, maxLength: 64, description: "the stall's 13-digit GLN, or its 0x address when it has no GLN" }),
});

const IdParam = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 2048, description: "the lot: a 0x batchId, or a URL-encoded GS1 Digital Link URL or path" }),
});

const KeysQuery = Type.Object({
  gtin: Type.Optional(Type.String()),
  lot: Type.Optional(Type.String()),
});

const LotsQuery = Type.Object({
  country: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$", description: "origin country, ISO 3166-1 alpha-2" })),
  region: Type.Optional(Type.String({ minLength: 1, maxLength: 120, description: "origin region, as registered" })),
  customs: Type.Optional(Type.Union([Type.Literal("cleared"), Type.Literal("pending")], { description: "only imported lots, by clearance" })),
  scope: Type.Optional(Type.Union([Type.Literal("market"), Type.Literal("all")], { description: "the market's stalls (default) or every holder" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST, default: 1000 })),
});

const DaysQuery = Type.Object({
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DAYS, description: `days the supply chart spans, ending on the latest arrival (default ${SUPPLY_DAYS})` })),
});

const LotList = Type.Object({ lots: Type.Array(MarketLot), truncated: Type.Boolean() }, { title: "MarketLotList" });

const cached = { 304: Type.Null({ description: "not modified" }), "4xx": ErrorBody, 503: ErrorBody };
/** What these answers cost (lineage walks, every lot of a stall or the market): through the queries gate. */
const config = { admission: "queries" } as const;

export const marketRoutes: FastifyPluginAsync<MarketRoutesOptions> = async (app, opts) => {
  const ctx = opts;

  async function stallOf(key: string, marketOnly: boolean): Promise<ActorProfile> {
    const profile = await findStall(opts.store, key);
    if (profile === undefined || (marketOnly && !inMarket(opts.scope, profile))) {
      throw new ApiError(
        "UNKNOWN_STALL",
        `no retail stall ${marketOnly ? "of this market " : ""}has ${/^[0-9]{13}$/.test(key) ? "GLN" : "address"} ${key}`,
      );
    }
    return profile;
  }

  const REACH = "A recall's reach: the recalled lot and every lot made from it (splits and merges), each with its custodian, retail flag, since when it holds it, and whether it acknowledged the recall.";
  app.get(
    "/v1/recalls/:id/reach",
    { config, schema: { tags: ["market"], summary: "Recall reach, by Digital Link or batchId", description: REACH, params: IdParam, response: { 200: RecallReach, ...cached } } },
    async (request, reply) => sendCached(request, reply, await reachOf(ctx, resolveRef((request.params as { id: string }).id))),
  );
  app.get(
    "/v1/recalls/reach",
    { config, schema: { tags: ["market"], summary: "Recall reach, by GTIN and lot", description: REACH, querystring: KeysQuery, response: { 200: RecallReach, ...cached } } },
    async (request, reply) => sendCached(request, reply, await reachOf(ctx, resolveQueryRef(request.query as object))),
  );

  app.get(
    "/v1/market",
    {
      config,
      schema: {
        tags: ["market"],
        summary: "The market safety centre: stalls, supply by origin, lab tests, imports, open recalls and their reach",
        querystring: DaysQuery,
        response: { 200: MarketOverview, ...cached },
      },
    },
    async (request, reply) => sendCached(request, reply, await marketOverview(ctx, (request.query as { days?: number }).days)),
  );

  app.get(
    "/v1/market/stalls/:stall",
    {
      config,
      schema: {
        tags: ["market"],
        summary: "A stall of the market and every lot it holds",
        params: StallParam,
        response: { 200: Type.Object({ stall: StallProfile, lots: Type.Array(MarketLot), truncated: Type.Boolean() }), ...cached },
      },
    },
    async (request, reply) => {
      const profile = await stallOf((request.params as { stall: string }).stall, true);
      await opts.projection.catchUp();
      const held = await opts.store.lotHoldings({ custodians: [profile.account] }, MAX_LIST + 1);
      return sendCached(request, reply, {
        stall: stallProfile(profile),
        lots: held.slice(0, MAX_LIST).map((h) => marketLotView(opts.publicBaseUrl, h)),
        truncated: held.length > MAX_LIST,
      });
    },
  );

  app.get(
    "/v1/market/lots",
    { config, schema: { tags: ["market"], summary: "Lots held in the market (or anywhere) by origin or customs state", querystring: LotsQuery, response: { 200: LotList, ...cached } } },
    async (request, reply) => {
      const q = request.query as { country?: string; region?: string; customs?: "cleared" | "pending"; scope?: "market" | "all"; limit?: number };
      const limit = q.limit ?? 1000;
      await opts.projection.catchUp();
      const custodians = q.scope === "all" ? undefined : (await marketStalls(opts.store, opts.scope)).map((p) => p.account);
      const held = await opts.store.lotHoldings(
        {
          ...(custodians === undefined ? {} : { custodians }),
          ...(q.country === undefined ? {} : { country: q.country }),
          ...(q.region === undefined ? {} : { region: q.region }),
          ...(q.customs === undefined ? {} : { customs: q.customs }),
        },
        limit + 1,
      );
      return sendCached(request, reply, { lots: held.slice(0, limit).map((h) => marketLotView(opts.publicBaseUrl, h)), truncated: held.length > limit });
    },
  );

  app.get(
    "/v1/stalls/:stall/display",
    {
      config,
      schema: {
        tags: ["market"],
        summary: "What a stall's display shows: its profile, every lot it holds with the lot's provenance answer, its recalls",
        params: StallParam,
        response: { 200: StallDisplay, ...cached },
      },
    },
    async (request, reply) => {
      const profile = await stallOf((request.params as { stall: string }).stall, false);
      return sendCached(request, reply, await stallDisplay(ctx, profile));
    },
  );

  app.get(
    "/stalls/:stall/events",
    {
      schema: {
        tags: ["market"],
        summary: "Server-sent events for a stall's display: `version` whenever its view changed",
        params: StallParam,
        response: { 200: { content: { "text/event-stream": { schema: Type.String() } } }, "4xx": ErrorBody, "5xx": ErrorBody },
      },
    },
    async (request, reply) => {
      const profile = await stallOf((request.params as { stall: string }).stall, false);
      const raw = reply.raw;
      const live = (): boolean => !raw.writableEnded && !raw.destroyed;
      const display = {
        send: (event: string, data: string) => void (live() && raw.write(`event: ${event}\ndata: ${data}\n\n`)),
        ping: () => void (live() && raw.write(": ping\n\n")),
        end: () => raw.end(),
      };
      if (!opts.watch.hasRoom(profile.account)) {
        reply.header("Retry-After", "30");
        throw new ApiError("OVERLOADED", "too many displays are connected to this server; the display retries");
      }
      reply.hijack();
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        connection: "keep-alive",
      });
      // The browser reconnects by itself after a dropped stream; two seconds keeps a restarted server's displays live.
      raw.write("retry: 2000\n\n");
      // A display that goes away while it is being connected is removed as soon as connecting ends.
      let gone = false;
      let disconnect: (() => void) | undefined;
      raw.on("close", () => {
        gone = true;
        disconnect?.();
      });
      raw.on("error", () => undefined);
      try {
        disconnect = await opts.watch.connect(profile.account, display);
      } catch (err) {
        request.log.warn({ err }, "a stall display could not be connected");
        raw.end();
        return reply;
      }
      if (disconnect === undefined) {
        // Another display took the last place meanwhile: say so in the stream and close it; the browser retries.
        display.send("refused", JSON.stringify({ code: "OVERLOADED" }));
        raw.end();
      } else if (gone) {
        disconnect();
      }
      return reply;
    },
  );

  app.addHook("preClose", async () => {
    opts.watch.close();
  });
};
