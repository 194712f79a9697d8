/**
 * The provenance answer (protocol/answer.ts: its shape, and what a verifier can check with it), built from the store:
 * the batch's own entries, the Split that created it and the Merge that consumed it, what it inherits from its
 * ancestor lots, each with its proof and chain record, and the chain data a verifier needs.
 *
 * Bounded whatever the lot: its lifecycle entries are read through an index that skips its observations, and the
 * observations come as the store's summary, the newest few and a cursor (query/observations.ts), so a lot with
 * 200,000 observations costs about what one with ten does. Every list is capped (protocol/answer.ts ANSWER_LIMITS).
 */
import type { Static } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { headOf, Kind, KIND_NAMES, ledgerDomain, TYPES, type KindName } from "../protocol/typed-data.ts";
import { INHERITED_KINDS } from "../protocol/lineage.ts";
import {
  ANSWER_LIMITS,
  ChainInfo,
  Completeness,
  Provenance,
  type Observations,
  TimelineEntry,
  type BatchView,
  type LineageLink,
  type OriginView,
  type RecallView,
} from "../protocol/answer.ts";
import { anchorView } from "./views.ts";
import type { AnchorRow, BatchEventRow, LineageEdge, StoredEntry } from "../store/store.ts";
import {
  actorCache,
  bodyOf,
  linkOf,
  quantityOf,
  recallOf,
  requireBatch,
  batchState,
  loggedCreation,
  type KnownBatch,
  type LoggedCreation,
  type QueryContext,
} from "./batch-state.ts";
import type { BatchRef } from "../gs1/digital-link.ts";
import { ApiError } from "../http/errors.ts";
import { observationsView } from "./observations.ts";
import { timelineEntry, type ActorOf } from "./timeline.ts";

export interface ProvenanceContext extends QueryContext {
  readonly deployments: Deployments;
  /** The chain endpoint shoppers' browsers and the verify CLI check proofs against (config.publicRpcUrl). */
  readonly publicRpcUrl: string;
}


/** What a provenance answer was built from, for its cache (query/answer-cache.ts). */
export interface BuiltProvenance {
  readonly answer: Provenance;
  /** Every lot whose store state the answer read: the lot, its ancestors, and for a pending lot the lots it names. */
  readonly lots: readonly string[];
  /**
   * True when the answer depends on nothing but those lots' state and the actors': the lot is on chain and an anchor
   * covers its newest entry, so no proof is to the moving checkpoint.
   */
  readonly settled: boolean;
}

/** The full answer for a resolved batch reference; UNKNOWN_BATCH when neither the index nor the log knows it. */
export async function provenanceOf(ctx: ProvenanceContext, ref: BatchRef): Promise<Provenance> {
  return (await buildProvenance(ctx, ref)).answer;
}

function tooLarge(batchId: string): ApiError {
  return new ApiError(
    "ANSWER_TOO_LARGE",
    `the story of batch ${batchId} has more than ${ANSWER_LIMITS.lifecycleEntries} lifecycle entries; no answer shows more`,
  );
}

/** The lots an answer about `batchId` reads the state of, before it reads them: the cache's versions are of these. */
export async function answerLots(ctx: QueryContext, batchId: string): Promise<string[]> {
  const ancestors = await ctx.store.ancestors(batchId);
  return [batchId.toLowerCase(), ...new Set(ancestors.map((e) => e.parent))];
}

export async function buildProvenance(ctx: ProvenanceContext, ref: BatchRef): Promise<BuiltProvenance> {
  const { store } = ctx;
  const batchId = ref.batchId;
  const [lifecycle, newest] = await Promise.all([
    store.lifecycleEntriesOfBatch(batchId, ANSWER_LIMITS.lifecycleEntries + 1),
    // One more than shown: the first older one is the cursor of the pages.
    store.observationsOfBatch(batchId, Number.MAX_SAFE_INTEGER, ANSWER_LIMITS.newestObservations + 1),
  ]);
  if (lifecycle.length > ANSWER_LIMITS.lifecycleEntries) throw tooLarge(batchId);
  const shownObservations = newest.slice(0, ANSWER_LIMITS.newestObservations).reverse();
  const own = [...lifecycle, ...shownObservations].sort((a, b) => a.index - b.index);
  const state = await requireBatch(store, ref, own, ctx.pendingLots);
  const actorOf = actorCache(store);
  // A lot the chain has not recorded yet: how the log says it came to be (its Split or Merge), marked pending.
  const creation = state.onChain ? undefined : await loggedCreation(store, batchId, own, ctx.pendingLots);

  const [parentEdges, childEdges, chainEvents, latest] = await Promise.all([
    store.parents(batchId),
    store.children(batchId),
    store.lifecycleEventsOfBatch(batchId),
    store.latestAnchor(),
  ]);

  // Entries filed under other batches that belong to this one's story: the Split that created it (filed under the
  // parent) and the Merge that consumed it (filed under the merged lot). A merged lot's own Merged entry is `own`.
  const seen = new Set(own.map((e) => e.index));
  const related: { entry: StoredEntry; relation: "created" | "consumed" | "inherited" }[] = [];
  const addRelated = async (edges: readonly LineageEdge[], relation: "created" | "consumed"): Promise<void> => {
    for (const hash of new Set(edges.map((e) => e.eventHash))) {
      const entry = await store.entryByKey(hash);
      if (entry && !seen.has(entry.index)) {
        seen.add(entry.index);
        related.push({ entry, relation });
      }
    }
  };
  await addRelated(parentEdges, "created");
  await addRelated(childEdges, "consumed");
  if (creation?.relation === "created" && !seen.has(creation.entry.index)) {
    seen.add(creation.entry.index);
    related.push({ entry: creation.entry, relation: "created" });
  }
  // What a lot inherits from the lots it came from: their pesticide records, lab results and customs clearance.
  const ancestors = await ancestorsOf(ctx, batchId, creation);
  for (const ancestor of ancestors) {
    await yieldTurn();
    for (const entry of await store.lifecycleEntriesOfBatch(ancestor, ANSWER_LIMITS.lifecycleEntries + 1)) {
      if (!seen.has(entry.index) && INHERITED_KINDS.has(KIND_NAMES[entry.kind] as KindName)) {
        seen.add(entry.index);
        related.push({ entry, relation: "inherited" });
      }
    }
    if (lifecycle.length + related.length > ANSWER_LIMITS.lifecycleEntries) throw tooLarge(batchId);
  }
  if (lifecycle.length + related.length > ANSWER_LIMITS.lifecycleEntries) throw tooLarge(batchId);

  const items = [...own.map((entry) => ({ entry, relation: "own" as const })), ...related].sort(
    (a, b) => a.entry.index - b.entry.index,
  );
  // Every proof leads to one root: the earliest anchor covering the answer's newest entry. It never changes once
  // there, so the answer (and its cache entry) stays true until the lot itself changes. Before such an anchor
  // exists, entries the latest anchor covers are proven to it and the rest to the checkpoint (pending).
  const newestIndex = items.at(-1)?.entry.index ?? -1;
  const covering = newestIndex < 0 ? undefined : await store.firstAnchorCovering(newestIndex);
  const target = covering ?? latest;
  const chainByHash = new Map(chainEvents.map((e) => [e.eventHash, e]));
  const relayCursor = await store.relayCursor();
  const timeline: TimelineEntry[] = [];
  // In turns: a lot with a long history must not hold the event loop while the cheap requests wait.
  for (let i = 0; i < items.length; i += TURN) {
    if (i > 0) await yieldTurn();
    timeline.push(
      ...(await Promise.all(
        items.slice(i, i + TURN).map(({ entry, relation }) => timelineEntry(ctx, entry, relation, chainByHash, target, relayCursor, actorOf)),
      )),
    );
  }

  const [batch, parents, children, observations] = await Promise.all([
    batchView(ctx, state, own, actorOf, creation),
    creation
      ? Promise.all(creation.parents.map((parent) => pendingLineageLink(ctx, state, creation, parent)))
      : Promise.all(parentEdges.map((e) => lineageLink(ctx, e, e.parent))),
    Promise.all(childEdges.map((e) => lineageLink(ctx, e, e.child))),
    observationsView(store, batchId, own, shownObservations.length, newest[ANSWER_LIMITS.newestObservations]),
  ]);

  const answer: Provenance = {
    batch,
    lineage: { parents, children },
    timeline,
    observations,
    chain: chainInfo(ctx, target),
    completeness: completenessOf(state, own, observations, chainEvents, timeline),
  };
  return {
    answer,
    lots: [batchId.toLowerCase(), ...ancestors],
    settled: state.onChain && covering !== undefined,
  };
}

/** Timeline entries built per turn of the event loop. */
const TURN = 128;

/** Lets the event loop serve what else is waiting (I/O, timers, other requests) before the answer goes on. */
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The lots `batchId` descends from: the index's lineage, or, for a lot not on chain yet, the parents its logged Split
 * or Merge names and theirs (a pending lot cut from a pending lot, as right after the demo loads).
 */
async function ancestorsOf(ctx: ProvenanceContext, batchId: string, creation: LoggedCreation | undefined, depth = 0): Promise<Set<string>> {
  if (creation === undefined) return new Set((await ctx.store.ancestors(batchId)).map((e) => e.parent));
  const out = new Set<string>();
  for (const parent of creation.parents) {
    out.add(parent);
    const indexed = await ctx.store.batch(parent);
    const further =
      indexed || depth >= 32
        ? undefined
        : await loggedCreation(ctx.store, parent, await ctx.store.lifecycleEntriesOfBatch(parent, ANSWER_LIMITS.lifecycleEntries), ctx.pendingLots);
    for (const a of await ancestorsOf(ctx, parent, further, depth + 1)) out.add(a);
  }
  return out;
}

/** A lineage link of a pending lot to a parent its logged Split or Merge names: no block yet. */
async function pendingLineageLink(ctx: ProvenanceContext, state: KnownBatch, creation: LoggedCreation, parent: string): Promise<LineageLink> {
  const parentState = await batchState(ctx.store, parent, undefined, ctx.pendingLots);
  const merged = creation.entry.kind === Kind.Merged;
  return {
    batchId: parent,
    gtin: parentState?.gtin ?? null,
    lot: parentState?.lot ?? null,
    link: linkOf(ctx.publicBaseUrl, parentState?.gtin, parentState?.lot).link,
    // Moved by a split: the child's share; by a merge: the whole parent.
    quantity: merged ? quantityOf(parentState?.quantity ?? 0n, parentState?.unit ?? state.unit) : quantityOf(state.quantity, state.unit),
    kind: merged ? "Merged" : "Split",
    eventHash: creation.entry.key,
    blockNumber: null,
  };
}

async function batchView(
  ctx: ProvenanceContext,
  state: KnownBatch,
  own: readonly StoredEntry[],
  actorOf: ActorOf,
  creation: LoggedCreation | undefined,
): Promise<Static<typeof BatchView>> {
  const { store } = ctx;
  const [origins, registrant, custodian, offeredTo, recall] = await Promise.all([
    originsOf(ctx, state.batchId, own, actorOf, creation),
    actorOf(state.registrant),
    actorOf(state.custodian),
    state.offerTo ? actorOf(state.offerTo) : Promise.resolve(null),
    creation ? pendingRecall(ctx, creation, actorOf) : recallOf(store, state.batchId, actorOf),
  ]);
  return {
    batchId: state.batchId,
    gtin: state.gtin ?? null,
    lot: state.lot ?? null,
    ...linkOf(ctx.publicBaseUrl, state.gtin, state.lot),
    product: origins[0]?.product ?? null,
    origins,
    quantity: quantityOf(state.quantity, state.unit),
    registrant,
    custodian,
    offeredTo,
    status: state.status,
    recalled: recall !== null,
    recall,
    imported: state.imported,
    customsCleared: state.customsCleared,
    onChain: state.onChain,
    createdBlock: state.createdBlock,
    createdTx: state.createdTx,
    updatedBlock: state.updatedBlock,
  };
}

/**
 * The Registered documents this batch's origin comes from: its own, or its lineage's roots (the ancestors that have
 * no parents), nearest first.
 */
async function originsOf(
  ctx: ProvenanceContext,
  batchId: string,
  own: readonly StoredEntry[],
  actorOf: ActorOf,
  creation?: LoggedCreation,
): Promise<OriginView[]> {
  const { store } = ctx;
  const ownRegistered = own.find((e) => KIND_NAMES[e.kind] === "Registered");
  if (ownRegistered) return [await originView(ownRegistered, actorOf)];
  if (creation) {
    // Not on chain yet: the origins of the lots its Split or Merge names, each once.
    const origins = new Map<string, OriginView>();
    for (const parent of creation.parents) {
      const parentOwn = await store.lifecycleEntriesOfBatch(parent, ANSWER_LIMITS.lifecycleEntries);
      const parentCreation = (await store.batch(parent)) ? undefined : await loggedCreation(store, parent, parentOwn, ctx.pendingLots);
      for (const o of await originsOf(ctx, parent, parentOwn, actorOf, parentCreation)) origins.set(o.eventHash, o);
    }
    return [...origins.values()];
  }
  const edges = await store.ancestors(batchId);
  const children = new Set(edges.map((e) => e.child));
  const roots = [...new Set(edges.map((e) => e.parent))].filter((id) => !children.has(id));
  const origins: OriginView[] = [];
  for (const root of roots) {
    // A lot's Registered entry is its first: the contract knows no lot before it.
    const registered = (await store.lifecycleEntriesOfBatch(root, 1)).find((e) => KIND_NAMES[e.kind] === "Registered");
    if (registered) origins.push(await originView(registered, actorOf));
  }
  return origins;
}

async function originView(entry: StoredEntry, actorOf: ActorOf): Promise<OriginView> {
  const { doc, signer } = bodyOf(entry);
  // The document passed the Registered schema at ingest (protocol/documents.ts), so these fields are present.
  const d = doc as {
    batch: { gtin: string; lot: string };
    occurredAt: string;
    product: string;
    origin: { country: string; region: string; farm: { name: string; gln?: string } };
    harvestDate: string;
    imported: boolean;
  };
  return {
    batchId: entry.batchId,
    gtin: d.batch.gtin,
    lot: d.batch.lot,
    product: d.product,
    country: d.origin.country,
    region: d.origin.region,
    farm: { name: d.origin.farm.name, gln: d.origin.farm.gln ?? null },
    harvestDate: d.harvestDate,
    registeredAt: d.occurredAt,
    imported: d.imported,
    registrant: await actorOf(signer),
    eventHash: entry.key,
  };
}

/** A pending lot inherits the recall of a lot its Split or Merge names (the contract will then refuse that event). */
async function pendingRecall(ctx: ProvenanceContext, creation: LoggedCreation, actorOf: ActorOf): Promise<RecallView | null> {
  for (const parent of creation.parents) {
    const recall = await recallOf(ctx.store, parent, actorOf);
    if (recall) return { ...recall, inherited: true };
  }
  return null;
}

async function lineageLink(ctx: ProvenanceContext, edge: LineageEdge, other: string): Promise<LineageLink> {
  const [batch, event] = await Promise.all([ctx.store.batch(other), ctx.store.lifecycleEvent(edge.eventHash)]);
  return {
    batchId: other,
    gtin: batch?.gtin ?? null,
    lot: batch?.lot ?? null,
    link: linkOf(ctx.publicBaseUrl, batch?.gtin, batch?.lot).link,
    quantity: quantityOf(edge.quantity, batch?.unit ?? ""),
    // Lineage edges come only from indexed Split and Merged events, so the event is always there.
    kind: event?.kind === "Merged" ? "Merged" : "Split",
    eventHash: edge.eventHash,
    blockNumber: edge.blockNumber,
  };
}

function chainInfo(ctx: ProvenanceContext, latest: AnchorRow | undefined): Static<typeof ChainInfo> {
  const { deployments } = ctx;
  const domain = ledgerDomain(BigInt(deployments.chainId), deployments.ledger);
  return {
    chainId: deployments.chainId,
    rpcUrl: ctx.publicRpcUrl,
    ledger: deployments.ledger,
    anchor: deployments.anchor,
    domain: {
      name: String(domain.name),
      version: String(domain.version),
      chainId: Number(domain.chainId),
      verifyingContract: String(domain.verifyingContract),
    },
    types: Object.fromEntries(KIND_NAMES.map((name, kind) => [name, TYPES[kind as keyof typeof TYPES]])),
    latestAnchor: latest ? anchorView(latest) : null,
  };
}

function completenessOf(
  state: KnownBatch,
  own: readonly StoredEntry[],
  observations: Observations,
  chainEvents: readonly BatchEventRow[],
  timeline: readonly TimelineEntry[],
): Completeness {
  // A shown entry may link past the entries not shown only where a run of observations says it does.
  const runs = new Set(observations.runs.map((r) => `${r.newest}:${r.after}`));
  const breaks: number[] = [];
  own.forEach((e, i) => {
    const expected = i === 0 ? -1 : (own[i - 1] as StoredEntry).index;
    if (e.prevIndex !== expected && !runs.has(`${e.prevIndex}:${expected}`)) breaks.push(e.index);
  });
  const logged = new Set(timeline.map((t) => t.eventHash));
  const chainEventHashes = chainEvents.map((e) => e.eventHash);
  const recomputedHead = headOf(chainEventHashes);
  const notInLog = chainEventHashes.filter((h) => !logged.has(h));
  const head = state.onChain ? state.head : null;
  return {
    complete: breaks.length === 0 && notInLog.length === 0,
    prevIndexChainUnbroken: breaks.length === 0,
    entries: own.length - observations.shown + observations.total,
    firstIndex: own[0]?.index ?? null,
    lastIndex: own.at(-1)?.index ?? null,
    breaks,
    head,
    chainEventHashes,
    recomputedHead,
    headMatches: head !== null && head === recomputedHead,
    notInLog,
    notOnChain: timeline.filter((t) => t.chain !== null && t.chain.status !== "recorded").map((t) => t.index),
  };
}
