/**
 * Folds one block range's decoded events into the rows the index stores (a ChainBatch), applying the ledger's own
 * state rules (contracts/ProvenanceLedger.sol) to what the events say, so the index needs no `getBatch` call:
 *
 * - Registered: registrant = custodian = actor; quantity, unit, imported, gtin, lot from the event.
 * - HandOffOffered sets the open offer; HandOffAccepted moves custody to the actor and clears it; Cancelled clears it.
 * - CustomsCleared sets customsCleared; Recalled sets the batch's own recalled flag (inheritance is read through
 *   lineage, as on chain).
 * - Split: each child's quantity comes from its Lineage event (emitted before Split, with the same eventHash); a
 *   child inherits registrant, unit, imported and customsCleared from the parent, the actor holds it, ancestry is
 *   parent + 1 and its head starts at keccak256(0, eventHash). The parent becomes `split` with the event's head.
 * - Merged: the child's quantity is the event's; it is imported if any parent was and cleared only if every
 *   imported parent was; the actor is registrant and custodian; ancestry is the sum of (parent ancestry + 1); unit is
 *   the first parent's. Each parent becomes `merged` and its chain is extended with the eventHash.
 * - Every event moves the batch's head to the head it carries (for the batch it names).
 *
 * The other copies of these rules: the contract itself, and ingest/rules.ts, its mirror for judging an event before
 * it is sent (which also decides whether an event may happen; this file only applies what the chain accepted).
 * Inherited recalls are not stored: store/sqlite-index.ts walks lineage for them as the contract and the rules do.
 *
 * The result is exact for any batch whose whole history is indexed, which is every batch: the index starts at the
 * ledger's deployment block. A batch the rules need but the index lacks means the index is broken, and is an error.
 */
import type {
  ActorProfile,
  AnchorRow,
  ChainBatch,
  ChainCursor,
  IndexedBatch,
  LifecycleEventRow,
  LineageEdge,
  RoleChange,
  SpentNonce,
} from "../store/store.ts";
import type { ChainEvent, DecodedCall, LifecycleLog } from "./chain-events.ts";
import { nextHead, ZERO_HASH } from "../protocol/typed-data.ts";

export interface RangeInput {
  readonly previous: ChainCursor | undefined;
  readonly cursor: ChainCursor;
  /** The range's events in chain order (block number, log index). */
  readonly events: readonly ChainEvent[];
  /** Decoded calldata of lifecycle events, by event hash (absent when undecodable). */
  readonly calls: ReadonlyMap<string, DecodedCall>;
  /** Unix seconds of the blocks that hold Anchored events. */
  readonly blockTimes: ReadonlyMap<number, number>;
  /** Stored state of every already-indexed batch the events name (see {@link batchesNeeded}). */
  readonly stored: ReadonlyMap<string, IndexedBatch>;
}

/** The index's view of the range is inconsistent with itself or with the stored index. */
export class IndexInconsistentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IndexInconsistentError";
  }
}

/** Ids of the batches whose stored state the range's events need. */
export function batchesNeeded(events: readonly ChainEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const e of events) {
    if (e.type !== "Lifecycle") continue;
    if (e.kind !== "Registered") ids.add(e.batchId);
    if (e.kind === "Merged") for (const p of e.details.parents) ids.add(p);
  }
  return ids;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function reduceRange(input: RangeInput): ChainBatch {
  const roleChanges: RoleChange[] = [];
  const profiles: ActorProfile[] = [];
  const lineage: LineageEdge[] = [];
  const events: LifecycleEventRow[] = [];
  const nonces: SpentNonce[] = [];
  const anchors: AnchorRow[] = [];
  const touched = new Map<string, Mutable<IndexedBatch>>();
  // Lineage events precede their Split / Merged event in the same transaction; held here until it arrives.
  const pendingEdges = new Map<string, LineageEdge[]>();

  const get = (id: string, by: LifecycleLog): Mutable<IndexedBatch> => {
    let b = touched.get(id);
    if (b === undefined) {
      const stored = input.stored.get(id);
      if (stored === undefined) {
        throw new IndexInconsistentError(`${by.kind} ${by.eventHash} (block ${by.blockNumber}) names batch ${id}, which the index does not hold`);
      }
      b = { ...stored };
      touched.set(id, b);
    }
    return b;
  };
  const create = (b: Mutable<IndexedBatch>, by: LifecycleLog): void => {
    if (touched.has(b.batchId) || input.stored.has(b.batchId)) {
      throw new IndexInconsistentError(`${by.kind} ${by.eventHash} creates batch ${b.batchId}, which the index already holds`);
    }
    touched.set(b.batchId, b);
  };

  for (const e of input.events) {
    switch (e.type) {
      case "RoleGranted":
      case "RoleRevoked":
        roleChanges.push({
          contract: e.contract,
          role: e.role,
          account: e.account,
          granted: e.type === "RoleGranted",
          blockNumber: e.blockNumber,
        });
        break;
      case "ProfileSet":
        profiles.push({
          account: e.account,
          name: e.name,
          gln: e.gln,
          country: e.country,
          retail: e.retail,
          blockNumber: e.blockNumber,
        });
        break;
      case "Lineage": {
        const edge: LineageEdge = {
          child: e.child,
          parent: e.parent,
          eventHash: e.eventHash,
          quantity: e.quantity,
          blockNumber: e.blockNumber,
        };
        const list = pendingEdges.get(e.eventHash) ?? [];
        list.push(edge);
        pendingEdges.set(e.eventHash, list);
        break;
      }
      case "Anchored": {
        const blockTime = input.blockTimes.get(e.blockNumber);
        if (blockTime === undefined) throw new Error(`no timestamp fetched for block ${e.blockNumber}`);
        anchors.push({
          anchorIndex: e.anchorIndex,
          size: e.size,
          root: e.root,
          previousSize: e.previousSize,
          anchorer: e.anchorer,
          txHash: e.txHash,
          blockNumber: e.blockNumber,
          blockHash: e.blockHash,
          blockTime,
        });
        break;
      }
      case "Lifecycle": {
        const call = input.calls.get(e.eventHash);
        applyLifecycle(e, call, get, create, pendingEdges, lineage);
        events.push({
          eventHash: e.eventHash,
          kind: e.kind,
          batchId: e.batchId,
          actor: e.actor,
          docHash: e.docHash,
          head: e.head,
          details: e.details,
          nonce: call?.nonce,
          txHash: e.txHash,
          blockNumber: e.blockNumber,
          blockHash: e.blockHash,
          logIndex: e.logIndex,
        });
        if (call !== undefined) {
          nonces.push({ actor: e.actor, nonce: call.nonce, eventHash: e.eventHash, blockNumber: e.blockNumber });
        }
        break;
      }
    }
  }
  if (pendingEdges.size > 0) {
    throw new IndexInconsistentError(`Lineage events without their Split / Merged: ${[...pendingEdges.keys()].join(", ")}`);
  }
  return {
    previous: input.previous,
    cursor: input.cursor,
    roleChanges,
    profiles,
    batches: [...touched.values()],
    lineage,
    events,
    nonces,
    anchors,
  };
}

function applyLifecycle(
  e: LifecycleLog,
  call: DecodedCall | undefined,
  get: (id: string, by: LifecycleLog) => Mutable<IndexedBatch>,
  create: (b: Mutable<IndexedBatch>, by: LifecycleLog) => void,
  pendingEdges: Map<string, LineageEdge[]>,
  lineage: LineageEdge[],
): void {
  const born = (batchId: string, fields: Omit<IndexedBatch, "batchId" | "gtin" | "lot" | "status" | "recalled" | "offerTo" | "createdBlock" | "createdTx" | "updatedBlock">): Mutable<IndexedBatch> => {
    const keys = call?.keys.get(batchId);
    return {
      batchId,
      gtin: keys?.gtin,
      lot: keys?.lot,
      status: "active",
      recalled: false,
      offerTo: undefined,
      createdBlock: e.blockNumber,
      createdTx: e.txHash,
      updatedBlock: e.blockNumber,
      ...fields,
    };
  };
  const edgesOf = (): LineageEdge[] => {
    const edges = pendingEdges.get(e.eventHash) ?? [];
    pendingEdges.delete(e.eventHash);
    lineage.push(...edges);
    return edges;
  };

  if (e.kind === "Registered") {
    const d = e.details;
    create(
      {
        ...born(e.batchId, {
          registrant: e.actor,
          custodian: e.actor,
          quantity: BigInt(d.quantity),
          unit: d.unit,
          imported: d.imported,
          customsCleared: false,
          head: e.head,
          ancestry: 0,
        }),
        gtin: d.gtin,
        lot: d.lot,
      },
      e,
    );
    return;
  }
  if (e.kind === "Merged") {
    const edges = edgesOf();
    const parents = e.details.parents.map((p) => get(p, e));
    const first = parents[0];
    if (first === undefined || edges.length !== parents.length) {
      throw new IndexInconsistentError(`Merged ${e.eventHash}: ${parents.length} parents but ${edges.length} Lineage events`);
    }
    let imported = false;
    let cleared = true;
    let ancestry = 0;
    for (const p of parents) {
      ancestry += p.ancestry + 1;
      if (p.imported) {
        imported = true;
        cleared = cleared && p.customsCleared;
      }
      p.status = "merged";
      p.head = nextHead(p.head, e.eventHash).toLowerCase();
      p.updatedBlock = e.blockNumber;
    }
    create(
      born(e.batchId, {
        registrant: e.actor,
        custodian: e.actor,
        quantity: BigInt(e.details.quantity),
        unit: first.unit,
        imported,
        customsCleared: imported && cleared,
        head: e.head,
        ancestry,
      }),
      e,
    );
    return;
  }

  const b = get(e.batchId, e);
  b.head = e.head;
  b.updatedBlock = e.blockNumber;
  switch (e.kind) {
    case "PesticideApplied":
    case "Inspected":
      break;
    case "CustomsCleared":
      b.customsCleared = true;
      break;
    case "HandOffOffered":
      b.offerTo = e.details.to;
      break;
    case "HandOffAccepted":
      b.custodian = e.actor;
      b.offerTo = undefined;
      break;
    case "HandOffCancelled":
      b.offerTo = undefined;
      break;
    case "Recalled":
      b.recalled = true;
      break;
    case "Split": {
      const edges = edgesOf();
      if (edges.length !== e.details.children.length) {
        throw new IndexInconsistentError(`Split ${e.eventHash}: ${e.details.children.length} children but ${edges.length} Lineage events`);
      }
      const childHead = nextHead(ZERO_HASH, e.eventHash).toLowerCase();
      for (const child of e.details.children) {
        const edge = edges.find((x) => x.child === child);
        if (edge === undefined) throw new IndexInconsistentError(`Split ${e.eventHash}: no Lineage event for child ${child}`);
        create(
          born(child, {
            registrant: b.registrant,
            custodian: e.actor,
            quantity: edge.quantity,
            unit: b.unit,
            imported: b.imported,
            customsCleared: b.customsCleared,
            head: childHead,
            ancestry: b.ancestry + 1,
          }),
          e,
        );
      }
      b.status = "split";
      break;
    }
  }
}
