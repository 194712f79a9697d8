/**
 * What the provenance answer and the trace share: naming a batch (any of the forms docs/ARCHITECTURE.md
 * "Identifiers" allows), its current state (from the chain index, or from the log while the event that creates it
 * is still on its way to the chain: its Registered document, or the Split or Merge that makes it), its recall (own
 * or inherited, with the Recalled document's reason), and actors as shoppers see them.
 *
 * Everything here reads the store only: no RPC per request. A query is as fresh as the index's cursor and the log.
 */
import type { Actor, QuantityView, RecallView } from "../protocol/answer.ts";
import { actorView } from "./views.ts";
import { batchIdOf, Kind, KIND_NAMES, ZERO_HASH } from "../protocol/typed-data.ts";
import { formatDigitalLink, parseBatchRef, parseDigitalLink, batchRefFromQuery, type BatchRef } from "../gs1/digital-link.ts";
import { Gs1Error } from "../gs1/keys.ts";
import { ApiError } from "../http/errors.ts";
import type { BatchStatus, IndexedBatch, Store, StoredEntry } from "../store/store.ts";

/** Read-only context of every query. */
export interface QueryContext {
  readonly store: Store;
  /** Lots created by a logged Split the index does not hold yet; without it such a lot answers only once indexed. */
  readonly pendingLots?: PendingLots;
  /** Base of the QR codes' Digital Link URLs (config.publicBaseUrl). */
  readonly publicBaseUrl: string;
}

/** A batch reference resolved: its id, and its GS1 keys when the caller gave them. */
export function resolveRef(id: string): BatchRef {
  return asIdentifier(() => parseBatchRef(id));
}

export function resolveQueryRef(query: { readonly gtin?: unknown; readonly lot?: unknown }): BatchRef {
  return asIdentifier(() => batchRefFromQuery(query));
}

function asIdentifier(fn: () => BatchRef): BatchRef {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Gs1Error) throw new ApiError("INVALID_IDENTIFIER", err.message);
    throw err;
  }
}

/** The Digital Link URL and its canonical path for a batch's keys; null for a batch whose keys the index lacks. */
export function linkOf(publicBaseUrl: string, gtin: string | undefined, lot: string | undefined): { link: string | null; path: string | null } {
  if (gtin === undefined || lot === undefined) return { link: null, path: null };
  const link = formatDigitalLink(publicBaseUrl, { gtin, lot });
  return { link, path: parseDigitalLink(link).path };
}

/** One request's actor lookups, each address read once. */
export function actorCache(store: Store): (address: string) => Promise<Actor> {
  const seen = new Map<string, Promise<Actor>>();
  return (address) => {
    const key = address.toLowerCase();
    let view = seen.get(key);
    if (view === undefined) {
      view = actorView(store, key);
      seen.set(key, view);
    }
    return view;
  };
}

/** The stored JSON body of a log entry (protocol/entry-body.ts), in its JSON form: integers as decimal strings. */
export interface LoggedBody {
  readonly doc: Readonly<Record<string, unknown>>;
  readonly values: Readonly<Record<string, unknown>>;
  readonly signer: string;
  readonly signature: string;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The body as logged. Ingest wrote it through encodeEntryBody, so a body of another shape means a damaged store. */
export function bodyOf(entry: StoredEntry): LoggedBody {
  const parsed: unknown = JSON.parse(entry.body);
  if (
    !isRecord(parsed) ||
    !isRecord(parsed.doc) ||
    !isRecord(parsed.values) ||
    typeof parsed.signer !== "string" ||
    typeof parsed.signature !== "string"
  ) {
    throw new ApiError("INTERNAL", `log entry ${entry.index} does not hold a signed event body`);
  }
  return { doc: parsed.doc, values: parsed.values, signer: parsed.signer, signature: parsed.signature };
}

export function kindName(entry: StoredEntry): string {
  return KIND_NAMES[entry.kind] ?? String(entry.kind);
}

function text(doc: Readonly<Record<string, unknown>>, field: string): string | null {
  const v = doc[field];
  return typeof v === "string" ? v : null;
}

/**
 * A batch the index or the log knows, with its state as the answers show it (statuses in the index's lower case;
 * the rules' LedgerBatch is the contract's record, with the contract's status names). `onChain` false means the
 * chain index does not know it yet: the event that creates it (its Registered document, the Split that cuts it from
 * its parent, the Merge that makes it) is logged but not yet mined and indexed. The state is then what the log asserts, pending: the creating document, with the lot's later logged
 * hand-offs and customs clearance laid over it, none of which the contract has accepted yet.
 */
export interface KnownBatch extends Omit<IndexedBatch, "createdBlock" | "createdTx" | "updatedBlock" | "ancestry"> {
  readonly onChain: boolean;
  readonly createdBlock: number | null;
  readonly createdTx: string | null;
  /** The block of its newest indexed event: its state (and head) stand as of this block. */
  readonly updatedBlock: number | null;
}

/**
 * Lots the log creates that the chain index does not hold yet, by the log index of the Split that creates each (a
 * Split is filed under its parent, so nothing filed under the child leads to it). ingest/ingestor.ts keeps them.
 */
export interface PendingLots {
  /** The log index of a Split logged but not yet indexed (nor refused) that creates `batchId`, if any. */
  splitCreating(batchId: string): number | undefined;
}

/** How a lot the index does not know came to be, per the log. */
export interface LoggedCreation {
  /** Registered or Merged (filed under the lot: relation own), or Split (filed under its parent: created). */
  readonly entry: StoredEntry;
  readonly relation: "own" | "created";
  /** The lots it comes from: the Split's parent, the Merge's parents; none for a registration. */
  readonly parents: readonly string[];
  /** The contract's refusal of the creating event: the lot will never be on chain. */
  readonly refused: string | undefined;
}

/** Split and merge chains a pending lot's state is derived through; the contract caps ancestry at 32. */
const MAX_PENDING_DEPTH = 32;

/** The creating entry of a lot the index does not hold, from the log; undefined when the log has none. */
export async function loggedCreation(
  store: Store,
  batchId: string,
  own: readonly StoredEntry[],
  pending?: PendingLots,
): Promise<LoggedCreation | undefined> {
  const id = batchId.toLowerCase();
  let found: Omit<LoggedCreation, "refused"> | undefined;
  const first = own.find((e) => e.kind === Kind.Registered || e.kind === Kind.Merged);
  if (first?.kind === Kind.Registered) found = { entry: first, relation: "own", parents: [] };
  else if (first?.kind === Kind.Merged) {
    const parents = (bodyOf(first).doc.parents as { gtin: string; lot: string }[]).map((k) => batchIdOf(k.gtin, k.lot));
    found = { entry: first, relation: "own", parents };
  } else {
    const index = pending?.splitCreating(id);
    const entry = index === undefined ? undefined : await store.entry(index);
    // Only a Split that names the lot: the pending list is ingest's word, the log entry is the record.
    if (entry?.kind === Kind.Split && splitChild(entry, id) !== undefined) found = { entry, relation: "created", parents: [entry.batchId] };
  }
  if (found === undefined) return undefined;
  const relay = await store.relayRecord(found.entry.index);
  return { ...found, refused: relay?.status === "refused" ? (relay.error ?? "refused by the contract") : undefined };
}

function splitChild(entry: StoredEntry, batchId: string): { gtin: string; lot: string; quantity: { value: number; unit: string } } | undefined {
  const children = bodyOf(entry).doc.children as { gtin: string; lot: string; quantity: { value: number; unit: string } }[];
  return children.find((c) => batchIdOf(c.gtin, c.lot) === batchId);
}

/**
 * The batch's state from the index, else from the log (see KnownBatch); undefined when neither knows it, or the
 * contract refused the event that creates it. `entries` are the batch's own log entries when the caller already read
 * them; `pending` finds the lots a Split creates before the index does.
 */
export async function batchState(
  store: Store,
  batchId: string,
  entries?: readonly StoredEntry[],
  pending?: PendingLots,
): Promise<KnownBatch | undefined> {
  return (await stateOf(store, batchId, entries, pending, 0)).state;
}

async function stateOf(
  store: Store,
  batchId: string,
  entries: readonly StoredEntry[] | undefined,
  pending: PendingLots | undefined,
  depth: number,
): Promise<{ state?: KnownBatch; refused?: string }> {
  const indexed = await store.batch(batchId);
  if (indexed) {
    const { ancestry: _a, ...rest } = indexed;
    return { state: { ...rest, onChain: true } };
  }
  if (depth > MAX_PENDING_DEPTH) return {};
  const own = entries ?? (await store.entriesOfBatch(batchId));
  const creation = await loggedCreation(store, batchId, own, pending);
  if (creation === undefined) return {};
  if (creation.refused !== undefined) return { refused: creation.refused };
  const { doc, signer } = bodyOf(creation.entry);
  const actor = signer.toLowerCase();
  const parents: KnownBatch[] = [];
  for (const parent of creation.parents) {
    const { state } = await stateOf(store, parent, undefined, pending, depth + 1);
    if (state) parents.push(state);
  }
  const id = batchId.toLowerCase();
  const base = {
    batchId: id,
    custodian: actor,
    status: "active" satisfies BatchStatus,
    recalled: false,
    offerTo: undefined,
    // No event of it is on chain yet: its hash chain is still at its start.
    head: ZERO_HASH,
    onChain: false,
    createdBlock: null,
    createdTx: null,
    updatedBlock: null,
  } as const;
  let state: KnownBatch;
  if (creation.entry.kind === Kind.Registered) {
    const batch = doc.batch as { gtin: string; lot: string };
    const quantity = doc.quantity as { value: number; unit: string };
    const imported = doc.imported === true;
    state = { ...base, gtin: batch.gtin, lot: batch.lot, registrant: actor, quantity: BigInt(quantity.value), unit: quantity.unit, imported, customsCleared: false };
  } else if (creation.entry.kind === Kind.Merged) {
    // As the contract merges: the parents' quantities summed, customs cleared only if every imported parent was.
    const batch = doc.batch as { gtin: string; lot: string };
    const imported = parents.some((p) => p.imported);
    state = {
      ...base,
      gtin: batch.gtin,
      lot: batch.lot,
      registrant: actor,
      quantity: parents.reduce((sum, p) => sum + p.quantity, 0n),
      unit: parents[0]?.unit ?? "",
      imported,
      customsCleared: imported && parents.every((p) => !p.imported || p.customsCleared),
    };
  } else {
    // As the contract splits: the child keeps its parent's registrant, unit and customs state.
    const child = splitChild(creation.entry, id);
    if (child === undefined) return {};
    const parent = parents[0];
    state = {
      ...base,
      gtin: child.gtin,
      lot: child.lot,
      registrant: parent?.registrant ?? actor,
      quantity: BigInt(child.quantity.value),
      unit: parent?.unit ?? child.quantity.unit,
      imported: parent?.imported ?? false,
      customsCleared: parent?.customsCleared ?? false,
    };
  }
  return { state: await laterLogged(store, state, own.filter((e) => e.index > creation.entry.index)) };
}

/** A pending lot's later logged events laid over its state, in log order; those the contract refused are skipped. */
async function laterLogged(store: Store, state: KnownBatch, later: readonly StoredEntry[]): Promise<KnownBatch> {
  let s = state;
  for (const entry of later) {
    if (entry.kind === Kind.Observed || (await store.relayRecord(entry.index))?.status === "refused") continue;
    const { doc, signer } = bodyOf(entry);
    switch (entry.kind) {
      case Kind.HandOffOffered:
        s = { ...s, offerTo: String(doc.to).toLowerCase() };
        break;
      case Kind.HandOffAccepted:
        s = { ...s, custodian: signer.toLowerCase(), offerTo: undefined };
        break;
      case Kind.HandOffCancelled:
        s = { ...s, offerTo: undefined };
        break;
      case Kind.CustomsCleared:
        s = { ...s, customsCleared: true };
        break;
      case Kind.Split:
        s = { ...s, status: "split" };
        break;
    }
  }
  return s;
}

/**
 * Throws UNKNOWN_BATCH when neither the index nor the log knows the batch, or the contract refused the event that
 * would create it (then the message says so: the lot will never be on chain).
 */
export async function requireBatch(
  store: Store,
  ref: BatchRef,
  entries?: readonly StoredEntry[],
  pending?: PendingLots,
): Promise<KnownBatch> {
  const { state, refused } = await stateOf(store, ref.batchId, entries, pending, 0);
  if (!state) {
    const name = ref.keys ? `/01/${ref.keys.gtin}/10/${ref.keys.lot} (${ref.batchId})` : ref.batchId;
    if (refused !== undefined) {
      throw new ApiError("UNKNOWN_BATCH", `batch ${name} was logged, but the contract refused the event that creates it (${refused}): it is not on chain`);
    }
    throw new ApiError("UNKNOWN_BATCH", `no batch ${name} is logged or on chain`);
  }
  return state;
}

/**
 * The recall that applies to `batchId`, own or inherited (ProvenanceLedger.isRecalled: the recalled batch its
 * depth-first walk up the lineage finds first), with the reason from the recalled batch's Recalled document; null when none applies.
 */
export async function recallOf(
  store: Store,
  batchId: string,
  actorOf: (address: string) => Promise<Actor>,
  sources: Map<string, Promise<RecallView>> = new Map(),
): Promise<RecallView | null> {
  const source = await store.recalledAncestor(batchId);
  if (source === undefined) return null;
  let view = sources.get(source);
  if (view === undefined) {
    view = recallSource(store, source, actorOf);
    sources.set(source, view);
  }
  const recall = await view;
  return { ...recall, inherited: source !== batchId.toLowerCase() };
}

async function recallSource(store: Store, source: string, actorOf: (address: string) => Promise<Actor>): Promise<RecallView> {
  const [batch, events] = await Promise.all([store.batch(source), store.lifecycleEventsOfBatch(source)]);
  const event = events.find((e) => e.kind === "Recalled" && e.batchId === source);
  const entry = event ? await store.entryByKey(event.eventHash) : undefined;
  // The document says why; when the regulator called the contract directly there is no document, only the event's reason.
  const doc = entry ? bodyOf(entry).doc : undefined;
  const chainReason = event && typeof event.details.reason === "string" ? event.details.reason : null;
  return {
    batchId: source,
    gtin: batch?.gtin ?? null,
    lot: batch?.lot ?? null,
    inherited: false,
    reason: doc ? text(doc, "reason") : chainReason,
    reference: doc ? text(doc, "reference") : null,
    recalledAt: doc ? text(doc, "occurredAt") : null,
    eventHash: event?.eventHash ?? null,
    by: event ? await actorOf(event.actor) : null,
  };
}

export function quantityOf(value: bigint, unit: string): QuantityView {
  return { value: value.toString(10), unit };
}
