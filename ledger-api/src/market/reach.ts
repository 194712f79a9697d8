/**
 * A recall's reach: the recalled lot and every lot made from it (through splits and merges, at any depth: a merged
 * lot with one recalled parent is one of them, as the contract's `isRecalled` says), each with who holds it now,
 * whether that holder is a retail stall, since when it holds it, and whether it has acknowledged the recall
 * (protocol/recall-ack.ts). The safety centre lists it per open recall; a stall display raises its alert from it.
 *
 * Asked about a lot that only inherits a recall, it answers the reach of the recall that lot inherits (the ancestor
 * the contract names); asked about a lot under no recall, 404 NOT_RECALLED.
 *
 * Holders come from the chain index, "since" from the market projection (market/projection.ts), acknowledgements
 * from the log: an acknowledgement counts for the holder that signed it, so a lot handed on after its holder
 * acknowledged waits for its new holder's.
 */
import { Type, type Static } from "typebox";
import type { BatchRef } from "../gs1/digital-link.ts";
import { ApiError } from "../http/errors.ts";
import { ActorView, BatchStatusView, Hex32, QuantityView, RecallView } from "../protocol/answer.ts";
import { actorCache, linkOf, quantityOf, recallOf, requireBatch, type QueryContext } from "../query/batch-state.ts";
import type { LotHolding, MarketAckRow } from "../store/store.ts";
import type { MarketProjection } from "./projection.ts";

/** Descendant edges read at most (the store's trace bound); reaching it marks the answer truncated. */
const REACH_LIMIT = 1000;

export const Since = Type.Object(
  {
    at: Type.String({ description: "occurredAt of the event that made the holder the holder (hand-off accepted, registration, split or merge)" }),
    eventHash: Hex32,
    blockNumber: Type.Union([Type.Integer(), Type.Null()], { description: "block that event was recorded in; null while it is on its way" }),
  },
  { title: "Since" },
);

export const Acknowledgement = Type.Object(
  {
    eventHash: Hex32,
    logIndex: Type.Integer(),
    signer: Type.String(),
    at: Type.String({ description: "the acknowledgement's occurredAt" }),
  },
  { title: "RecallAcknowledgement" },
);

export const ReachLot = Type.Object(
  {
    batchId: Hex32,
    gtin: Type.Union([Type.String(), Type.Null()]),
    lot: Type.Union([Type.String(), Type.Null()]),
    link: Type.Union([Type.String(), Type.Null()], { description: "the lot's Digital Link URL (its shopper page)" }),
    product: Type.Union([Type.String(), Type.Null()]),
    relation: Type.Union([Type.Literal("recalled"), Type.Literal("descendant")]),
    depth: Type.Integer({ description: "lineage edges from the recalled lot" }),
    status: BatchStatusView,
    quantity: QuantityView,
    custodian: ActorView,
    retail: Type.Boolean({ description: "the custodian is a retail stall or shop" }),
    since: Type.Union([Since, Type.Null()], { description: "null when the market projection does not know the hand-off yet" }),
    mustAcknowledge: Type.Boolean({ description: "an active lot: its holder has it in hand and must set it aside" }),
    acknowledged: Type.Boolean({ description: "its current custodian has acknowledged this recall on this lot" }),
    acknowledgements: Type.Array(Acknowledgement, { description: "every acknowledgement of this recall on this lot, by any holder" }),
  },
  { title: "ReachLot" },
);
export type ReachLot = Static<typeof ReachLot>;

export const RecallReach = Type.Object(
  {
    asked: Hex32,
    recall: RecallView,
    lots: Type.Array(ReachLot, { description: "the recalled lot first, then its descendants, nearest first" }),
    summary: Type.Object({
      lots: Type.Integer(),
      active: Type.Integer({ description: "lots someone holds (not split or merged away)" }),
      atRetail: Type.Integer({ description: "active lots held by retail stalls" }),
      acknowledged: Type.Integer({ description: "active lots whose holder acknowledged" }),
      awaiting: Type.Integer({ description: "active lots whose holder has not acknowledged" }),
    }),
    truncated: Type.Boolean({ description: "the lineage walk reached its bound; more lots may be affected" }),
  },
  { title: "RecallReach" },
);
export type RecallReach = Static<typeof RecallReach>;

export interface MarketContext extends QueryContext {
  readonly projection: MarketProjection;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The reach of the recall that applies to `ref` (its own, or the one it inherits). */
export async function reachOf(ctx: MarketContext, ref: BatchRef): Promise<RecallReach> {
  const state = await requireBatch(ctx.store, ref);
  const source = await ctx.store.recalledAncestor(state.batchId);
  if (source === undefined) {
    const name = state.lot ?? state.batchId;
    throw new ApiError("NOT_RECALLED", `lot ${name} is under no recall, neither its own nor through a lot it was made from`);
  }
  return reachOfSource(ctx, source, state.batchId);
}

interface ReachRows {
  readonly recall: Static<typeof RecallView>;
  readonly depth: ReadonlyMap<string, number>;
  readonly holdings: readonly LotHolding[];
  readonly acks: readonly MarketAckRow[];
  readonly truncated: boolean;
}

/** What a reach is made of: the recall, the affected lots' depths and holdings, their acknowledgements. */
async function reachRows(ctx: MarketContext, source: string, actorOf: ReturnType<typeof actorCache>): Promise<ReachRows> {
  const { store } = ctx;
  await ctx.projection.catchUp();
  const [recall, down] = await Promise.all([recallOf(store, source, actorOf), store.descendants(source, { limit: REACH_LIMIT })]);
  if (recall === null) throw new Error(`batch ${source} was named as recalled but the index holds no recall for it`);
  const depth = new Map<string, number>([[source, 0]]);
  for (const e of down) if (!depth.has(e.child)) depth.set(e.child, e.depth);
  const ids = [...depth.keys()];
  const [holdings, acks] = await Promise.all([store.lotHoldings({ batchIds: ids, activeOnly: false }, ids.length), store.recallAcks(ids)]);
  const byId = new Map(holdings.map((h) => [h.batchId, h]));
  const ordered = ids.map((id) => {
    const h = byId.get(id);
    if (h === undefined) throw new Error(`lineage names batch ${id}, which the index does not hold`);
    return h;
  });
  return {
    recall: { ...recall, inherited: false },
    depth,
    holdings: ordered,
    acks,
    truncated: down.length >= REACH_LIMIT || down.some((e) => e.depth >= 64),
  };
}

/** The acknowledgements of `recallEventHash` on lot `h`, and whether its custodian's is among them. */
function acksOf(h: LotHolding, recallEventHash: string | null, acks: readonly MarketAckRow[]): { mine: MarketAckRow[]; acknowledged: boolean } {
  const mine = acks.filter((a) => a.batchId === h.batchId && recallEventHash !== null && a.recallEventHash === recallEventHash);
  return { mine, acknowledged: mine.some((a) => a.signer === h.custodian) };
}

function summaryOf(lots: readonly { mustAcknowledge: boolean; retail: boolean; acknowledged: boolean }[]): RecallReach["summary"] {
  const active = lots.filter((l) => l.mustAcknowledge);
  return {
    lots: lots.length,
    active: active.length,
    atRetail: active.filter((l) => l.retail).length,
    acknowledged: active.filter((l) => l.acknowledged).length,
    awaiting: active.filter((l) => !l.acknowledged).length,
  };
}

/** The reach of the recall of `source`, a lot recalled itself. */
export async function reachOfSource(ctx: MarketContext, source: string, asked: string = source): Promise<RecallReach> {
  const actorOf = actorCache(ctx.store);
  const rows = await reachRows(ctx, source, actorOf);
  const lots = await Promise.all(
    rows.holdings.map((h) => reachLot(ctx, h, rows.depth.get(h.batchId) ?? 0, rows.recall.eventHash, rows.acks, actorOf)),
  );
  return { asked: asked.toLowerCase(), recall: rows.recall, lots, summary: summaryOf(lots), truncated: rows.truncated };
}

async function reachLot(
  ctx: MarketContext,
  h: LotHolding,
  depth: number,
  recallEventHash: string | null,
  acks: readonly MarketAckRow[],
  actorOf: ReturnType<typeof actorCache>,
): Promise<ReachLot> {
  const custodian = await actorOf(h.custodian);
  const { mine, acknowledged } = acksOf(h, recallEventHash, acks);
  return {
    batchId: h.batchId,
    gtin: h.gtin ?? null,
    lot: h.lot ?? null,
    link: linkOf(ctx.publicBaseUrl, h.gtin, h.lot).link,
    product: h.product ?? null,
    relation: depth === 0 ? "recalled" : "descendant",
    depth,
    status: h.status,
    quantity: quantityOf(h.quantity, h.unit),
    custodian,
    retail: custodian.retail,
    since: sinceOf(h),
    mustAcknowledge: h.status === "active",
    acknowledged,
    acknowledgements: mine.map((a) => ({ eventHash: a.eventHash, logIndex: a.index, signer: a.signer, at: iso(a.at) })),
  };
}

function sinceOf(h: LotHolding): Static<typeof Since> | null {
  return h.since === undefined ? null : { at: iso(h.since.at), eventHash: h.since.eventHash, blockNumber: h.since.blockNumber ?? null };
}

/** A reach as the safety centre lists it: the holder by name and retail flag from its profile, no roles. */
export const ReachSummaryLot = Type.Object({
  batchId: Hex32,
  lot: Type.Union([Type.String(), Type.Null()]),
  link: Type.Union([Type.String(), Type.Null()]),
  product: Type.Union([Type.String(), Type.Null()]),
  depth: Type.Integer(),
  status: BatchStatusView,
  custodian: Type.Object({ address: Type.String(), name: Type.Union([Type.String(), Type.Null()]), retail: Type.Boolean() }),
  since: Type.Union([Since, Type.Null()]),
  mustAcknowledge: Type.Boolean(),
  acknowledged: Type.Boolean(),
});

export const ReachSummary = Type.Object(
  {
    recall: RecallView,
    lots: Type.Array(ReachSummaryLot),
    summary: Type.Index(RecallReach, ["summary"]),
    truncated: Type.Boolean(),
    link: Type.String({ description: "the full reach: GET /v1/recalls/{lot}/reach" }),
  },
  { title: "RecallReachSummary" },
);
export type ReachSummary = Static<typeof ReachSummary>;

export async function reachSummaryOfSource(ctx: MarketContext, source: string): Promise<ReachSummary> {
  const rows = await reachRows(ctx, source, actorCache(ctx.store));
  const lots = rows.holdings.map((h) => {
    const { acknowledged } = acksOf(h, rows.recall.eventHash, rows.acks);
    return {
      batchId: h.batchId,
      lot: h.lot ?? null,
      link: linkOf(ctx.publicBaseUrl, h.gtin, h.lot).link,
      product: h.product ?? null,
      depth: rows.depth.get(h.batchId) ?? 0,
      status: h.status,
      custodian: { address: h.custodian, name: h.custodianName ?? null, retail: h.custodianRetail },
      since: sinceOf(h),
      mustAcknowledge: h.status === "active",
      acknowledged,
      retail: h.custodianRetail,
    };
  });
  return {
    recall: rows.recall,
    lots: lots.map(({ retail: _r, ...l }) => l),
    summary: summaryOf(lots),
    truncated: rows.truncated,
    link: `/v1/recalls/${source}/reach`,
  };
}

/** Every open recall's reach, as the safety centre lists it: one per lot recalled itself. */
export async function openRecalls(ctx: MarketContext, recalled: readonly string[]): Promise<ReachSummary[]> {
  return Promise.all(recalled.map((id) => reachSummaryOfSource(ctx, id)));
}
