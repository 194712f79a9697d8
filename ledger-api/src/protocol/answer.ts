/**
 * The provenance answer's shape: what GET /v1/batches/{id}/provenance and the resolver's JSON send, and what the
 * independent verifier (verify/) reads. It is part of the protocol because a third party's verifier needs exactly
 * this and nothing of the server; query/provenance.ts builds it from the store, query/views.ts builds its parts.
 *
 * "Where does this batch come from?", with everything needed to check it without trusting the server. What a
 * verifier can check with the answer and a JSON-RPC endpoint alone:
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

export const Hex32 = Type.String({ pattern: "^0x[0-9a-f]{64}$" });

/**
 * A copy of a shared schema without its `$id` (nested ones included). An answer embeds the same shape many times
 * (an actor per event), and a response schema in which one `$id` appears twice does not compile.
 */
export function inline<T extends TSchema>(schema: T): T {
  const strip = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(strip);
    if (typeof x !== "object" || x === null) return x;
    return Object.fromEntries(Object.entries(x).filter(([k]) => k !== "$id").map(([k, v]) => [k, strip(v)]));
  };
  return strip(schema) as T;
}

function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

export const Actor = Type.Object(
  {
    address: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    gln: Type.Union([Type.String(), Type.Null()]),
    country: Type.Union([Type.String(), Type.Null()]),
    retail: Type.Boolean(),
    roles: Type.Array(Type.String()),
  },
  { $id: "Actor", title: "Actor" },
);
export type Actor = Static<typeof Actor>;

export const ActorView = inline(Actor);

export const Anchor = Type.Object(
  {
    anchorIndex: Type.Integer(),
    size: Type.Integer({ description: "tree size the anchored root covers" }),
    root: Hex32,
    txHash: Hex32,
    blockNumber: Type.Integer(),
    blockTime: Type.Integer({ description: "unix seconds" }),
  },
  { $id: "Anchor", title: "Anchor" },
);
export type Anchor = Static<typeof Anchor>;

export const InclusionProof = Type.Object(
  {
    leafIndex: Type.Integer(),
    treeSize: Type.Integer(),
    leafHash: Hex32,
    path: Type.Array(Hex32, { description: "RFC 9162 PATH(leafIndex, D[treeSize]), leaf to root" }),
    root: Hex32,
    anchor: Type.Union([Anchor, Type.Null({ description: "pending anchor: the proof is to the current checkpoint" })]),
  },
  { $id: "InclusionProof", title: "InclusionProof" },
);
export type InclusionProof = Static<typeof InclusionProof>;

export const QuantityView = Type.Object(
  {
    value: Type.String({ pattern: "^[0-9]+$", description: "decimal uint256, in `unit` (quantities are conserved exactly)" }),
    unit: Type.String(),
  },
  { title: "Quantity" },
);
export type QuantityView = Static<typeof QuantityView>;

export const BatchStatusView = Type.Union([Type.Literal("active"), Type.Literal("split"), Type.Literal("merged")]);

export const RecallView = Type.Object(
  {
    batchId: Hex32,
    gtin: Type.Union([Type.String(), Type.Null()]),
    lot: Type.Union([Type.String(), Type.Null()]),
    inherited: Type.Boolean({ description: "true when an ancestor was recalled, not the batch itself" }),
    reason: Type.Union([Type.String(), Type.Null()], { description: "the Recalled document's reason" }),
    reference: Type.Union([Type.String(), Type.Null()], { description: "the authority's notice number" }),
    recalledAt: Type.Union([Type.String(), Type.Null()], { description: "the Recalled document's occurredAt" }),
    eventHash: Type.Union([Hex32, Type.Null()]),
    by: Type.Union([ActorView, Type.Null()], { description: "the regulator who recalled it" }),
  },
  { title: "Recall" },
);
export type RecallView = Static<typeof RecallView>;

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
    onChain: Type.Boolean({
      description:
        "false: pending. The event that creates the lot (its Registered, or the Split or Merge that makes it) is logged " +
        "but not yet on chain; the state is what the log asserts (that document, with the lot's later logged hand-offs " +
        "over it) and the lineage is the one that event names. A lot whose creating event the contract refuses is 404.",
    }),
    createdBlock: Nullable(Type.Integer()),
    createdTx: Nullable(Type.String()),
    updatedBlock: Nullable(
      Type.Integer({
        description:
          "the block of the batch's newest on-chain event the index holds: the batch's state and its on-chain hash chain " +
          "(completeness.head) stand as of this block; null until the batch is on chain",
      }),
    ),
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
    blockNumber: Nullable(Type.Integer({ description: "null while the Split or Merge is logged but not on chain yet" })),
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
    document: Type.Unknown({ description: "the signed event document (protocol/documents.ts); RFC 8785 keccak = values.docHash" }),
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
