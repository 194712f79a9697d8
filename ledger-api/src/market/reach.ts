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

/** The reach of the recall of `source`, a lot recalled itself. */
export async function reachOfSource(ctx: MarketContext, source: string, asked: string = source): Promise<RecallReach> {
  const { store } = ctx;
  await ctx.projection.catchUp();
  const actorOf = actorCache(store);
  const [recall, down] = await Promise.all([recallOf(store, source, actorOf), store.descendants(source, { limit: REACH_LIMIT })]);
  if (recall === null) throw new Error(`batch ${source} was named as recalled but the index holds no recall for it`);
  const depth = new Map<string, number>([[source, 0]]);
  for (const e of down) if (!depth.has(e.child)) depth.set(e.child, e.depth);
  const ids = [...depth.keys()];
  const [holdings, acks] = await Promise.all([
    store.lotHoldings({ batchIds: ids, activeOnly: false }, ids.length),
    store.recallAcks(ids),
  ]);
  const byId = new Map(holdings.map((h) => [h.batchId, h]));
  const lots = await Promise.all(
    ids.map(async (id) => {
      const h = byId.get(id);
      if (h === undefined) throw new Error(`lineage names batch ${id}, which the index does not hold`);
      return reachLot(ctx, h, depth.get(id) ?? 0, recall.eventHash, acks, actorOf);
    }),
  );
  const active = lots.filter((l) => l.mustAcknowledge);
  return {
    asked: asked.toLowerCase(),
    recall: { ...recall, inherited: false },
    lots,
    summary: {
      lots: lots.length,
      active: active.length,
      atRetail: active.filter((l) => l.retail).length,
      acknowledged: active.filter((l) => l.acknowledged).length,
      awaiting: active.filter((l) => !l.acknowledged).length,
    },
    truncated: down.length >= REACH_LIMIT || down.some((e) => e.depth >= 64),
  };
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
  const mine = acks.filter((a) => a.batchId === h.batchId && recallEventHash !== null && a.recallEventHash === recallEventHash);
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
    since: h.since === undefined ? null : { at: iso(h.since.at), eventHash: h.since.eventHash, blockNumber: h.since.blockNumber ?? null },
    mustAcknowledge: h.status === "active",
    acknowledged: mine.some((a) => a.signer === h.custodian),
    acknowledgements: mine.map((a) => ({ eventHash: a.eventHash, logIndex: a.index, signer: a.signer, at: iso(a.at) })),
  };
}

/** Every open recall's reach: one per lot recalled itself. */
export async function openRecalls(ctx: MarketContext, recalled: readonly string[]): Promise<RecallReach[]> {
  return Promise.all(recalled.map((id) => reachOfSource(ctx, id)));
}
