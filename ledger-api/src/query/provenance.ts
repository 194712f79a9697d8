/**
 * The provenance answer: "where does this batch come from?", with everything needed to check it without trusting
 * this server (DESIGN.md "A provenance answer carries...").
 *
 * What a verifier can check with the answer and a JSON-RPC endpoint alone:
 * - each timeline event's `values` hash (EIP-712, `chain.domain` + `chain.types`) to its `eventHash`, which the
 *   `signature` recovers to `signer.address`; the `document`'s RFC 8785 keccak is `values.docHash`;
 * - each entry's inclusion `proof` against `proof.root`: for an anchored proof, the LogAnchor contract holds that
 *   root (`verifyInclusion(anchorIndex, ...)`); a pending proof is to the log's checkpoint, not yet on chain;
 * - for lifecycle events, the ledger contract's log at `chain.txHash` / `logIndex`;
 * - `completeness`: the batch's own log entries chain through `prevIndex` without a gap (history left out would
 *   break it), and the on-chain hash chain `head = keccak256(head, eventHash)` folds `chainEventHashes` to `head`.
 *
 * What it cannot prove: that the ledger has no entry for the batch after the last one shown (a reader compares
 * `lastIndex` with a later answer), and facts that nobody signed. The answer is as fresh as the index cursor.
 */
import { Type, type Static, type TSchema } from "typebox";
import type { Deployments } from "../chain/contracts.ts";
import { headOf, KIND_NAMES, ledgerDomain, TYPES, type KindName } from "../protocol/typed-data.ts";
import { INHERITED_KINDS } from "../protocol/lineage.ts";
import { Anchor, anchorView, InclusionProof, proofFor } from "./log-routes.ts";
import type { AnchorRow, BatchEventRow, LifecycleEventRow, LineageEdge, StoredEntry } from "../store/store.ts";
import {
  actorCache,
  ActorView,
  BatchStatusView,
  bodyOf,
  Hex32,
  inline,
  kindName,
  linkOf,
  quantityOf,
  QuantityView,
  recallOf,
  RecallView,
  requireBatch,
  type BatchState,
  type QueryContext,
} from "./batch-state.ts";
import type { BatchRef } from "../gs1/digital-link.ts";
import type { Actor } from "./chain-routes.ts";

function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

export const OriginView = Type.Object(
  {
    batchId: Hex32,
    gtin: Type.String(),
    lot: Type.String(),
    product: Type.String(),
    country: Type.String({ description: "ISO 3166-1 alpha-2" }),
    region: Type.String(),
    farm: Type.Object({ name: Type.String(), gln: Nullable(Type.String()) }),
    harvestDate: Type.String({ description: "YYYY-MM-DD" }),
    registeredAt: Type.String({ description: "the Registered document's occurredAt" }),
    imported: Type.Boolean(),
    registrant: ActorView,
    eventHash: Hex32,
  },
  { title: "Origin", description: "what a Registered document states about a registered batch" },
);
export type OriginView = Static<typeof OriginView>;

export const BatchView = Type.Object(
  {
    batchId: Hex32,
    gtin: Nullable(Type.String()),
    lot: Nullable(Type.String()),
    link: Nullable(Type.String({ description: "the QR code's GS1 Digital Link URL" })),
    path: Nullable(Type.String({ description: "canonical Digital Link path, percent-encoded" })),
    product: Nullable(Type.String({ description: "from the (first) origin's Registered document" })),
    origins: Type.Array(OriginView, {
      description:
        "one per registered batch this one descends from: itself when registered, its root for a split lot, every root for a merged lot",
    }),
    quantity: QuantityView,
    registrant: ActorView,
    custodian: ActorView,
    offeredTo: Nullable(ActorView),
    status: BatchStatusView,
    recalled: Type.Boolean({ description: "recalled itself or through an ancestor" }),
    recall: Nullable(RecallView),
    imported: Type.Boolean(),
    customsCleared: Type.Boolean(),
    onChain: Type.Boolean({ description: "false until the chain index records the batch; state is then the Registered document's" }),
    createdBlock: Nullable(Type.Integer()),
    createdTx: Nullable(Type.String()),
  },
  { title: "ProvenanceBatch" },
);

export const LineageLink = Type.Object(
  {
    batchId: Hex32,
    gtin: Nullable(Type.String()),
    lot: Nullable(Type.String()),
    link: Nullable(Type.String()),
    quantity: QuantityView,
    kind: Type.Union([Type.Literal("Split"), Type.Literal("Merged")]),
    eventHash: Hex32,
    blockNumber: Type.Integer(),
  },
  { title: "LineageLink", description: "one lineage edge: `quantity` moved between the two batches by `eventHash`" },
);
export type LineageLink = Static<typeof LineageLink>;

export const ChainRecord = Type.Object(
  {
    status: Type.Union(
      [
        Type.Literal("recorded"),
        Type.Literal("confirmed"),
        Type.Literal("sent"),
        Type.Literal("pending"),
        Type.Literal("queued"),
        Type.Literal("refused"),
      ],
      {
        description:
          "recorded: the index holds the contract's event; confirmed: the relay saw it mined, not yet indexed; " +
          "sent / pending / queued: on its way; refused: the contract refused it (see reason)",
      },
    ),
    txHash: Type.Optional(Hex32),
    blockNumber: Type.Optional(Type.Integer()),
    blockHash: Type.Optional(Hex32),
    logIndex: Type.Optional(Type.Integer()),
    head: Type.Optional(Type.String({ description: "the head the event carried (of the batch it is filed under)" })),
    batchHead: Type.Optional(Type.String({ description: "this batch's head after the event" })),
    reason: Type.Optional(Type.String({ description: "the contract's refusal, e.g. BatchRecalled(0x..)" })),
  },
  { title: "ChainRecord" },
);
export type ChainRecord = Static<typeof ChainRecord>;

export const TimelineEntry = Type.Object(
  {
    index: Type.Integer({ description: "log index (leaf index)" }),
    relation: Type.Union([Type.Literal("own"), Type.Literal("created"), Type.Literal("consumed"), Type.Literal("inherited")], {
      description:
        "own: filed under this batch; created: the Split that created this lot (filed under its parent); " +
        "consumed: the Merge that consumed this batch (filed under the merged lot); inherited: a pesticide record, " +
        "lab result or customs clearance of an ancestor lot, which this lot inherits",
    }),
    kind: Type.String(),
    batchId: Hex32,
    occurredAt: Type.String({ description: "the document's occurredAt" }),
    receivedAt: Type.Integer({ description: "unix ms the log accepted it" }),
    eventHash: Hex32,
    prevIndex: Type.Integer({ description: "previous entry filed under the same batch, -1 for the first" }),
    document: Type.Unknown({ description: "the signed event document (ingest/documents.ts); RFC 8785 keccak = values.docHash" }),
    primaryType: Type.String({ description: "EIP-712 primary type; see chain.types" }),
    values: Type.Unknown({ description: "the EIP-712 struct as signed, integers as decimal strings" }),
    signer: ActorView,
    signature: Type.String(),
    proof: inline(InclusionProof),
    anchored: Type.Boolean({ description: "false: pending anchor, the proof is to the log's current checkpoint" }),
    chain: Nullable(ChainRecord),
  },
  { title: "TimelineEntry" },
);
export type TimelineEntry = Static<typeof TimelineEntry>;

const FieldList = Type.Array(Type.Object({ name: Type.String(), type: Type.String() }));

export const ChainInfo = Type.Object(
  {
    chainId: Type.Integer(),
    rpcUrl: Type.String({ description: "a JSON-RPC endpoint of the chain to verify against (PUBLIC_RPC_URL)" }),
    ledger: Type.String(),
    anchor: Type.String(),
    domain: Type.Object({
      name: Type.String(),
      version: Type.String(),
      chainId: Type.Integer(),
      verifyingContract: Type.String(),
    }),
    types: Type.Record(Type.String(), Type.Record(Type.String(), FieldList), {
      description: "EIP-712 types per kind name (the primary type plus the types it references)",
    }),
    latestAnchor: Nullable(inline(Anchor)),
  },
  { title: "ProvenanceChain" },
);

export const Completeness = Type.Object(
  {
    complete: Type.Boolean({ description: "prevIndex chain unbroken and every on-chain event of the batch is in the log" }),
    prevIndexChainUnbroken: Type.Boolean(),
    entries: Type.Integer({ description: "log entries filed under the batch" }),
    firstIndex: Nullable(Type.Integer()),
    lastIndex: Nullable(Type.Integer()),
    breaks: Type.Array(Type.Integer(), { description: "own entries whose prevIndex is not the entry before them" }),
    head: Nullable(Hex32),
    chainEventHashes: Type.Array(Hex32, {
      description: "the batch's on-chain hash chain in order (own events, the Split that created it, the Merge that consumed it)",
    }),
    recomputedHead: Hex32,
    headMatches: Type.Boolean({ description: "fold of keccak256(abi.encode(head, eventHash)) from 0 over chainEventHashes == head" }),
    notInLog: Type.Array(Hex32, { description: "on-chain events with no log entry (an actor called the contract directly)" }),
    notOnChain: Type.Array(Type.Integer(), { description: "lifecycle entries (log indices) not yet, or never, recorded on chain" }),
  },
  { title: "Completeness" },
);
export type Completeness = Static<typeof Completeness>;

export const Provenance = Type.Object(
  {
    batch: BatchView,
    lineage: Type.Object({ parents: Type.Array(LineageLink), children: Type.Array(LineageLink) }),
    timeline: Type.Array(TimelineEntry),
    chain: ChainInfo,
    completeness: Completeness,
  },
  { title: "Provenance" },
);
export type Provenance = Static<typeof Provenance>;

export interface ProvenanceContext extends QueryContext {
  readonly deployments: Deployments;
  /** The chain endpoint shoppers' browsers and the verify CLI check proofs against (config.publicRpcUrl). */
  readonly publicRpcUrl: string;
}

type ActorOf = (address: string) => Promise<Actor>;

/** The full answer for a resolved batch reference; UNKNOWN_BATCH when neither the index nor the log knows it. */
export async function provenanceOf(ctx: ProvenanceContext, ref: BatchRef): Promise<Provenance> {
  const { store } = ctx;
  const batchId = ref.batchId;
  const own = await store.entriesOfBatch(batchId);
  const state = await requireBatch(store, ref, own);
  const actorOf = actorCache(store);

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
  // What a lot inherits from the lots it came from: their pesticide records, lab results and customs clearance.
  for (const ancestor of new Set((await store.ancestors(batchId)).map((e) => e.parent))) {
    for (const entry of await store.entriesOfBatch(ancestor)) {
      if (!seen.has(entry.index) && INHERITED_KINDS.has(KIND_NAMES[entry.kind] as KindName)) {
        seen.add(entry.index);
        related.push({ entry, relation: "inherited" });
      }
    }
  }

  const items = [...own.map((entry) => ({ entry, relation: "own" as const })), ...related].sort(
    (a, b) => a.entry.index - b.entry.index,
  );
  const chainByHash = new Map(chainEvents.map((e) => [e.eventHash, e]));
  const relayCursor = await store.relayCursor();
  const timeline = await Promise.all(
    items.map(({ entry, relation }) => timelineEntry(ctx, entry, relation, chainByHash, latest, relayCursor, actorOf)),
  );

  const [batch, parents, children] = await Promise.all([
    batchView(ctx, state, own, actorOf),
    Promise.all(parentEdges.map((e) => lineageLink(ctx, e, e.parent))),
    Promise.all(childEdges.map((e) => lineageLink(ctx, e, e.child))),
  ]);

  return {
    batch,
    lineage: { parents, children },
    timeline,
    chain: chainInfo(ctx, latest),
    completeness: completenessOf(state, own, chainEvents, timeline),
  };
}

async function batchView(
  ctx: ProvenanceContext,
  state: BatchState,
  own: readonly StoredEntry[],
  actorOf: ActorOf,
): Promise<Static<typeof BatchView>> {
  const { store } = ctx;
  const [origins, registrant, custodian, offeredTo, recall] = await Promise.all([
    originsOf(ctx, state.batchId, own, actorOf),
    actorOf(state.registrant),
    actorOf(state.custodian),
    state.offerTo ? actorOf(state.offerTo) : Promise.resolve(null),
    recallOf(store, state.batchId, actorOf),
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
  };
}

/**
 * The Registered documents this batch's origin comes from: its own, or its lineage's roots (the ancestors that have
 * no parents), nearest first.
 */
async function originsOf(ctx: ProvenanceContext, batchId: string, own: readonly StoredEntry[], actorOf: ActorOf): Promise<OriginView[]> {
  const { store } = ctx;
  const ownRegistered = own.find((e) => KIND_NAMES[e.kind] === "Registered");
  if (ownRegistered) return [await originView(ownRegistered, actorOf)];
  const edges = await store.ancestors(batchId);
  const children = new Set(edges.map((e) => e.child));
  const roots = [...new Set(edges.map((e) => e.parent))].filter((id) => !children.has(id));
  const origins: OriginView[] = [];
  for (const root of roots) {
    const registered = (await store.entriesOfBatch(root)).find((e) => KIND_NAMES[e.kind] === "Registered");
    if (registered) origins.push(await originView(registered, actorOf));
  }
  return origins;
}

async function originView(entry: StoredEntry, actorOf: ActorOf): Promise<OriginView> {
  const { doc, signer } = bodyOf(entry);
  // The document passed the Registered schema at ingest (ingest/documents.ts), so these fields are present.
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

async function timelineEntry(
  ctx: ProvenanceContext,
  entry: StoredEntry,
  relation: TimelineEntry["relation"],
  chainByHash: ReadonlyMap<string, BatchEventRow>,
  latest: AnchorRow | undefined,
  relayCursor: number,
  actorOf: ActorOf,
): Promise<TimelineEntry> {
  const { store } = ctx;
  const body = bodyOf(entry);
  const kind = kindName(entry);
  const [signer, proof, chain] = await Promise.all([
    actorOf(body.signer),
    proofFor(store, entry, latest),
    kind === "Observed" ? Promise.resolve(null) : chainRecord(ctx, entry, chainByHash.get(entry.key), relayCursor),
  ]);
  return {
    index: entry.index,
    relation,
    kind,
    batchId: entry.batchId,
    occurredAt: typeof body.doc.occurredAt === "string" ? body.doc.occurredAt : "",
    receivedAt: entry.receivedAt,
    eventHash: entry.key,
    prevIndex: entry.prevIndex,
    document: body.doc,
    primaryType: kind,
    values: body.values,
    signer,
    signature: body.signature,
    proof,
    anchored: proof.anchor !== null,
    chain,
  };
}

/** Where a lifecycle entry stands on chain: the indexed contract event, else the relay's state of it. */
async function chainRecord(
  ctx: ProvenanceContext,
  entry: StoredEntry,
  inChain: BatchEventRow | undefined,
  relayCursor: number,
): Promise<ChainRecord> {
  const event: LifecycleEventRow | undefined = inChain ?? (await ctx.store.lifecycleEvent(entry.key));
  if (event) {
    return {
      status: "recorded",
      txHash: event.txHash,
      blockNumber: event.blockNumber,
      blockHash: event.blockHash,
      logIndex: event.logIndex,
      head: event.head,
      ...(inChain ? { batchHead: inChain.batchHead } : {}),
    };
  }
  const relay = await ctx.store.relayRecord(entry.index);
  if (!relay) return { status: entry.index >= relayCursor ? "queued" : "pending" };
  return {
    status: relay.status,
    ...(relay.txHash ? { txHash: relay.txHash } : {}),
    ...(relay.error ? { reason: relay.error } : {}),
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
  state: BatchState,
  own: readonly StoredEntry[],
  chainEvents: readonly BatchEventRow[],
  timeline: readonly TimelineEntry[],
): Completeness {
  const breaks: number[] = [];
  own.forEach((e, i) => {
    const expected = i === 0 ? -1 : (own[i - 1] as StoredEntry).index;
    if (e.prevIndex !== expected) breaks.push(e.index);
  });
  const logged = new Set(timeline.map((t) => t.eventHash));
  const chainEventHashes = chainEvents.map((e) => e.eventHash);
  const recomputedHead = headOf(chainEventHashes);
  const notInLog = chainEventHashes.filter((h) => !logged.has(h));
  const head = state.onChain ? state.head : null;
  return {
    complete: breaks.length === 0 && notInLog.length === 0,
    prevIndexChainUnbroken: breaks.length === 0,
    entries: own.length,
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
