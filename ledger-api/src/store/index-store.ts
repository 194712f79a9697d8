/**
 * The chain index: what the indexer (chain/indexer.ts) learns from the ledger and anchor contracts' events, and what
 * ingest and the query layer read back instead of calling the chain per request.
 *
 * Shape of the data. Every hex value (ids, hashes, addresses) is stored and returned lower-case 0x hex; lookups
 * lower-case their arguments, so callers may pass checksummed addresses. uint256 values (quantities, nonces) travel
 * as bigint and are stored as decimal TEXT, so nothing is rounded. Every row names the block it came from.
 *
 * Consistency. The index only ever moves forward by whole block ranges: `applyChainBatch` writes one range's rows and
 * the new cursor in ONE transaction, after checking that the stored cursor is the one the range was built on. So
 * after a crash the index is exactly "everything up to the cursor block", never a half-applied range, and two
 * indexers on one store cannot both apply the same range (the second fails with IndexCursorConflictError).
 * Reads answer from committed state: a reader sees a range entirely or not at all.
 *
 * One store indexes one contract set (chain id + ledger + anchor). The cursor records which; the indexer refuses to
 * continue a store that indexed other contracts (see `resetIndex`).
 */

/** Which contract a role was granted on: the ledger's roles and the anchor's are separate AccessControl sets. */
export type RoleContract = "ledger" | "anchor";

/** Where the index stands: every event up to and including `blockNumber` (with hash `blockHash`) is applied. */
export interface ChainCursor {
  /** The contract set, `{chainId}:{ledger}:{anchor}` with lower-case addresses (see {@link contractSetKey}). */
  readonly contracts: string;
  readonly blockNumber: number;
  readonly blockHash: string;
}

export function contractSetKey(chainId: number | bigint, ledger: string, anchor: string): string {
  return `${chainId}:${ledger.toLowerCase()}:${anchor.toLowerCase()}`;
}

export interface RoleGrant {
  readonly contract: RoleContract;
  /** bytes32 role id, e.g. keccak256("PRODUCER_ROLE"); DEFAULT_ADMIN_ROLE is bytes32(0). */
  readonly role: string;
  readonly account: string;
  /** Block of the RoleGranted event that (last) granted it. */
  readonly blockNumber: number;
}

/** An actor's profile as last set by the authority (ActorRegistry.ProfileSet). */
export interface ActorProfile {
  readonly account: string;
  readonly name: string;
  /** GS1 GLN; 0n when none. */
  readonly gln: bigint;
  /** ISO 3166-1 alpha-2 code as the contract's bytes2 hex, e.g. "0x4b52" for KR. */
  readonly country: string;
  readonly retail: boolean;
  readonly blockNumber: number;
}

export type BatchStatus = "active" | "split" | "merged";

/** A batch's on-chain record, as `ProvenanceLedger.getBatch` would return it after the indexed block. */
export interface IndexedBatch {
  readonly batchId: string;
  /**
   * GS1 keys. From the Registered event, or for split / merged children from the transaction's calldata (checked:
   * batchId = keccak256 of the Digital Link path). Undefined only when the call was made through another contract,
   * whose calldata the indexer cannot decode.
   */
  readonly gtin: string | undefined;
  readonly lot: string | undefined;
  readonly registrant: string;
  readonly custodian: string;
  readonly quantity: bigint;
  readonly unit: string;
  readonly status: BatchStatus;
  /** Recalled itself; a batch is also recalled when an ancestor is (see `recalledAncestor`). */
  readonly recalled: boolean;
  readonly imported: boolean;
  readonly customsCleared: boolean;
  /** Open hand-off offer, undefined when none. */
  readonly offerTo: string | undefined;
  /** Head of the batch's event hash chain. */
  readonly head: string;
  /** Ancestors counted along every lineage path (ProvenanceLedger's `ancestry`). */
  readonly ancestry: number;
  readonly createdBlock: number;
  readonly createdTx: string;
  /** Block of the last event that changed this row. */
  readonly updatedBlock: number;
}

/** One lineage edge: `quantity` moved from `parent` into `child` by the Split or Merged event `eventHash`. */
export interface LineageEdge {
  readonly child: string;
  readonly parent: string;
  readonly eventHash: string;
  readonly quantity: bigint;
  readonly blockNumber: number;
}

/** A lineage edge found by a trace, `depth` edges away from the batch traced (1 = direct parent / child). */
export interface TraceEdge extends LineageEdge {
  readonly depth: number;
}

export interface TraceOptions {
  /** Most edges followed from the traced batch (default 64). */
  readonly maxDepth?: number;
  /** Most edges returned (default 1000). */
  readonly limit?: number;
}

/** The on-chain lifecycle kinds, named as the contract's events. */
export type LifecycleKind =
  | "Registered"
  | "PesticideApplied"
  | "Inspected"
  | "CustomsCleared"
  | "HandOffOffered"
  | "HandOffAccepted"
  | "HandOffCancelled"
  | "Split"
  | "Merged"
  | "Recalled";

/**
 * One lifecycle event the ledger recorded. A Split or Merged event is one row, filed under the event's own
 * `batchId` (the split parent, the merged child); the other batches it touched are reachable through lineage.
 */
export interface LifecycleEventRow {
  readonly eventHash: string;
  readonly kind: LifecycleKind;
  readonly batchId: string;
  readonly actor: string;
  readonly docHash: string;
  /** The `head` the event carried: the new head of `batchId`. */
  readonly head: string;
  /** Kind-specific event arguments (e.g. `to`, `passed`, `reason`, `children`), uint values as decimal strings. */
  readonly details: Readonly<Record<string, unknown>>;
  /** The actor's nonce, from the transaction's calldata; undefined when the call came through another contract. */
  readonly nonce: bigint | undefined;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly logIndex: number;
}

/** A lifecycle event as part of one batch's history, with that batch's head after it. */
export interface BatchEventRow extends LifecycleEventRow {
  /**
   * The head of the batch asked about after this event. Equals `head` for the batch's own events; for the Split
   * that created it or the Merge that consumed it, the head that event gave this batch (which the log does not carry).
   */
  readonly batchHead: string;
}

export interface AnchorRow {
  readonly anchorIndex: number;
  readonly size: number;
  readonly root: string;
  readonly previousSize: number;
  readonly anchorer: string;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly blockHash: string;
  /** Unix seconds of the anchoring block. */
  readonly blockTime: number;
}

/** A spent nonce (ProvenanceLedger.nonceUsed). */
export interface SpentNonce {
  readonly actor: string;
  readonly nonce: bigint;
  readonly eventHash: string;
  readonly blockNumber: number;
}

/** A role grant or revocation, in chain order. */
export interface RoleChange {
  readonly contract: RoleContract;
  readonly role: string;
  readonly account: string;
  readonly granted: boolean;
  readonly blockNumber: number;
}

/**
 * Everything one block range changed, already reduced to rows by the indexer. `applyChainBatch` applies it in one
 * transaction, in this order: role changes and profiles in the order given, batch rows as final state (upsert),
 * then insert-only rows (lineage, events, nonces, anchors), then the cursor.
 */
export interface ChainBatch {
  /** The cursor this range was built on; undefined for the first range of an empty index. */
  readonly previous: ChainCursor | undefined;
  /** The cursor after this range: its last block. */
  readonly cursor: ChainCursor;
  readonly roleChanges: readonly RoleChange[];
  readonly profiles: readonly ActorProfile[];
  /** Final state of every batch created or changed in the range. */
  readonly batches: readonly IndexedBatch[];
  readonly lineage: readonly LineageEdge[];
  readonly events: readonly LifecycleEventRow[];
  readonly nonces: readonly SpentNonce[];
  readonly anchors: readonly AnchorRow[];
}

/** Keys of the index to read at once (what the ingest rules ask about; ingest/ledger-view.ts). */
export interface IndexKeys {
  readonly batchIds: readonly string[];
  readonly accounts: readonly string[];
  readonly nonces: readonly (readonly [actor: string, nonce: bigint])[];
}

/** What the index holds for IndexKeys; a key the index does not hold is absent. Keys are lower-case. */
export interface IndexState {
  /** Each known batch with its direct parents, in parent order. */
  readonly batches: ReadonlyMap<string, { readonly batch: IndexedBatch; readonly parents: readonly string[] }>;
  /** Each account's role grants (both contracts). Accounts without any are absent. */
  readonly grants: ReadonlyMap<string, readonly RoleGrant[]>;
  readonly profiles: ReadonlyMap<string, ActorProfile>;
  /** Spent nonces among those asked, as `${actor}:${nonce}`. */
  readonly spentNonces: ReadonlySet<string>;
}

/** The index read and write methods of the store. */
export interface IndexStore {
  /**
   * Applies one block range and advances the cursor, atomically: when it resolves the range is committed (durable as
   * appendBatch), when it rejects nothing of it is. Rejects with IndexCursorConflictError, changing nothing, when
   * the stored cursor is not `batch.previous` (another indexer moved it, or the range was already applied).
   */
  applyChainBatch(batch: ChainBatch): Promise<void>;
  /** Deletes every index row and the cursor (not the log), so the index can be rebuilt from the chain. */
  resetIndex(): Promise<void>;

  cursor(): Promise<ChainCursor | undefined>;

  /** Whether `account` holds `role` on the ledger (default) or the anchor contract. */
  hasRole(role: string, account: string, contract?: RoleContract): Promise<boolean>;
  rolesOf(account: string): Promise<RoleGrant[]>;
  profile(account: string): Promise<ActorProfile | undefined>;

  batch(batchId: string): Promise<IndexedBatch | undefined>;
  /** Direct parents' edges (one for a split child, one per parent for a merged child), in parent order. */
  parents(batchId: string): Promise<LineageEdge[]>;
  /** Direct children's edges, in creation order. */
  children(batchId: string): Promise<LineageEdge[]>;
  /** Every ancestor edge up to `maxDepth` away, each edge once at its shortest depth, nearest first. */
  ancestors(batchId: string, options?: TraceOptions): Promise<TraceEdge[]>;
  /** Every descendant edge up to `maxDepth` away, each edge once at its shortest depth, nearest first. */
  descendants(batchId: string, options?: TraceOptions): Promise<TraceEdge[]>;
  /**
   * The batch itself if recalled, else the recalled ancestor the contract's walk finds first (protocol/lineage.ts:
   * the one ProvenanceLedger names in BatchRecalled), else undefined (ProvenanceLedger.isRecalled).
   */
  recalledAncestor(batchId: string): Promise<string | undefined>;

  lifecycleEvent(eventHash: string): Promise<LifecycleEventRow | undefined>;
  /** Which of `eventHashes` the index holds (lower-case), in one read: ingest prunes its pending events with it. */
  indexedEvents(eventHashes: readonly string[]): Promise<Set<string>>;
  /** The batch's hash chain in order: its own events plus the Split that created it / the Merge that consumed it. */
  lifecycleEventsOfBatch(batchId: string): Promise<BatchEventRow[]>;
  nonceUsed(actor: string, nonce: bigint): Promise<boolean>;
  /**
   * batch, parents, rolesOf, profile and nonceUsed for many keys in one call: a networked driver answers in a few
   * round trips what per-key calls would take thousands for (a replay of a large pending backlog).
   */
  indexState(keys: IndexKeys): Promise<IndexState>;

  /** Up to `limit` anchors, newest first, with index below `before` when given. */
  anchors(limit: number, before?: number): Promise<AnchorRow[]>;
  latestAnchor(): Promise<AnchorRow | undefined>;
  /** The latest anchor whose tree contains leaf `leafIndex` (size > leafIndex), undefined if none yet. */
  anchorCovering(leafIndex: number): Promise<AnchorRow | undefined>;
}

/** The stored cursor is not the one a range was built on: another indexer wrote, or the range was applied already. */
export class IndexCursorConflictError extends Error {
  readonly expected: ChainCursor | undefined;
  readonly actual: ChainCursor | undefined;
  constructor(expected: ChainCursor | undefined, actual: ChainCursor | undefined) {
    const show = (c: ChainCursor | undefined): string => (c ? `${c.contracts}@${c.blockNumber} (${c.blockHash})` : "none");
    super(`index cursor is ${show(actual)}, but the range was built on ${show(expected)}`);
    this.name = "IndexCursorConflictError";
    this.expected = expected;
    this.actual = actual;
  }
}
