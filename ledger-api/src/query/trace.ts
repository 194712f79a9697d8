/**
 * The trace of a batch: every lot it descends from and every lot made from it, with who holds each one now.
 *
 * This is the recall view: for a recalled batch, the lots marked `recalled` are exactly the ones the contract's
 * `isRecalled` reports (own recall or a recalled ancestor, found by the contract's walk, protocol/lineage.ts), and
 * each names its custodian, i.e. the stall or warehouse that has to pull it. Ancestors of a recalled batch appear
 * too (where it came from) and are marked recalled only when they are.
 *
 * Lineage comes from the chain index, so a split or merge is part of a trace once indexed. Walks are bounded by the
 * index's trace defaults (64 edges deep, 1000 edges); `truncated` says when a bound was reached.
 */
import { Type, type Static } from "typebox";
import type { BatchRef } from "../gs1/digital-link.ts";
import type { TraceEdge } from "../store/store.ts";
import { ActorView, BatchStatusView, Hex32, QuantityView, RecallView, type RecallView as Recall } from "../protocol/answer.ts";
import {
  actorCache,
  batchState,
  linkOf,
  quantityOf,
  recallOf,
  requireBatch,
  type KnownBatch,
  type QueryContext,
} from "./batch-state.ts";

/** Edges one walk returns at most (the store's default trace limit); reaching it means the walk was cut short. */
const TRACE_LIMIT = 1000;

export const TraceLot = Type.Object(
  {
    batchId: Hex32,
    gtin: Type.Union([Type.String(), Type.Null()]),
    lot: Type.Union([Type.String(), Type.Null()]),
    link: Type.Union([Type.String(), Type.Null()]),
    relation: Type.Union([Type.Literal("root"), Type.Literal("ancestor"), Type.Literal("descendant")]),
    root: Type.Boolean({ description: "the batch the trace was asked for" }),
    depth: Type.Integer({ description: "lineage edges from the root (0 for the root)" }),
    quantity: QuantityView,
    status: BatchStatusView,
    custodian: ActorView,
    recalled: Type.Boolean({ description: "recalled itself or through an ancestor" }),
    recall: Type.Union([RecallView, Type.Null()]),
    imported: Type.Boolean(),
    customsCleared: Type.Boolean(),
    onChain: Type.Boolean(),
  },
  { title: "TraceLot" },
);
export type TraceLot = Static<typeof TraceLot>;

export const TraceEdgeView = Type.Object(
  {
    parent: Hex32,
    child: Hex32,
    quantity: Type.String({ description: "decimal, in the lots' unit" }),
    eventHash: Hex32,
    direction: Type.Union([Type.Literal("ancestor"), Type.Literal("descendant")]),
    depth: Type.Integer(),
    blockNumber: Type.Integer(),
  },
  { title: "TraceEdge" },
);

export const Trace = Type.Object(
  {
    root: Hex32,
    lots: Type.Array(TraceLot, { description: "the root first, then ancestors and descendants, nearest first" }),
    edges: Type.Array(TraceEdgeView),
    recalled: Type.Array(Hex32, { description: "the lots of this trace under a recall (own or inherited)" }),
    truncated: Type.Boolean({ description: "a walk reached the depth or size bound; more lots may exist" }),
  },
  { title: "Trace" },
);
export type Trace = Static<typeof Trace>;

export async function traceOf(ctx: QueryContext, ref: BatchRef): Promise<Trace> {
  const { store } = ctx;
  const rootState = await requireBatch(store, ref, undefined, ctx.pendingLots);
  const [up, down] = await Promise.all([
    store.ancestors(ref.batchId, { limit: TRACE_LIMIT }),
    store.descendants(ref.batchId, { limit: TRACE_LIMIT }),
  ]);
  const actorOf = actorCache(store);
  const recallSources = new Map<string, Promise<Recall>>();

  // Each lot once, at its nearest depth (a diamond of merges reaches some lots along two paths).
  const placed = new Map<string, { relation: TraceLot["relation"]; depth: number }>([[rootState.batchId, { relation: "root", depth: 0 }]]);
  const place = (edges: readonly TraceEdge[], relation: "ancestor" | "descendant", end: (e: TraceEdge) => string): void => {
    for (const e of edges) {
      const id = end(e);
      if (!placed.has(id)) placed.set(id, { relation, depth: e.depth });
    }
  };
  place(up, "ancestor", (e) => e.parent);
  place(down, "descendant", (e) => e.child);

  const lots = await Promise.all(
    [...placed].map(async ([batchId, where]): Promise<TraceLot> => {
      const state = batchId === rootState.batchId ? rootState : await batchState(store, batchId);
      if (!state) throw new Error(`lineage names batch ${batchId}, which the index does not hold`);
      return lotView(ctx, state, where, actorOf, recallSources);
    }),
  );

  return {
    root: rootState.batchId,
    lots,
    edges: [
      ...up.map((e) => edgeView(e, "ancestor")),
      ...down.map((e) => edgeView(e, "descendant")),
    ],
    recalled: lots.filter((l) => l.recalled).map((l) => l.batchId),
    truncated: up.length >= TRACE_LIMIT || down.length >= TRACE_LIMIT || reachesMaxDepth(up) || reachesMaxDepth(down),
  };
}

/** The store walks at most 64 edges deep (index-store.ts TraceOptions); an edge that deep may have more beyond it. */
function reachesMaxDepth(edges: readonly TraceEdge[]): boolean {
  return edges.some((e) => e.depth >= 64);
}

async function lotView(
  ctx: QueryContext,
  state: KnownBatch,
  where: { relation: TraceLot["relation"]; depth: number },
  actorOf: (address: string) => Promise<Static<typeof ActorView>>,
  recallSources: Map<string, Promise<Recall>>,
): Promise<TraceLot> {
  const [custodian, recall] = await Promise.all([
    actorOf(state.custodian),
    recallOf(ctx.store, state.batchId, actorOf, recallSources),
  ]);
  return {
    batchId: state.batchId,
    gtin: state.gtin ?? null,
    lot: state.lot ?? null,
    link: linkOf(ctx.publicBaseUrl, state.gtin, state.lot).link,
    relation: where.relation,
    root: where.relation === "root",
    depth: where.depth,
    quantity: quantityOf(state.quantity, state.unit),
    status: state.status,
    custodian,
    recalled: recall !== null,
    recall,
    imported: state.imported,
    customsCleared: state.customsCleared,
    onChain: state.onChain,
  };
}

function edgeView(e: TraceEdge, direction: "ancestor" | "descendant"): Static<typeof TraceEdgeView> {
  return {
    parent: e.parent,
    child: e.child,
    quantity: e.quantity.toString(10),
    eventHash: e.eventHash,
    direction,
    depth: e.depth,
    blockNumber: e.blockNumber,
  };
}
