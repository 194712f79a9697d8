/**
 * What the provenance answer and the trace share: naming a batch (any of the forms docs/ARCHITECTURE.md
 * "Identifiers" allows), its current state (from the chain index, or from its logged Registered document while that
 * is still on its way to the chain), its recall (own or inherited, with the Recalled document's reason), and actors
 * as shoppers see them.
 *
 * Everything here reads the store only: no RPC per request. A query is as fresh as the index's cursor and the log.
 */
import type { Actor, QuantityView, RecallView } from "../protocol/answer.ts";
import { actorView } from "./views.ts";
import { Kind, KIND_NAMES, ZERO_HASH } from "../protocol/typed-data.ts";
import { formatDigitalLink, parseBatchRef, parseDigitalLink, batchRefFromQuery, type BatchRef } from "../gs1/digital-link.ts";
import { Gs1Error } from "../gs1/keys.ts";
import { ApiError } from "../http/errors.ts";
import type { BatchStatus, IndexedBatch, Store, StoredEntry } from "../store/store.ts";

/** Read-only context of every query. */
export interface QueryContext {
  readonly store: Store;
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
 * the rules' LedgerBatch is the contract's record, with the contract's status names). `onChain` false means the chain index does not know it yet (the relay has not landed its
 * Registered event); the state is then what its logged Registered document asserts, which the contract may still refuse.
 */
export interface KnownBatch extends Omit<IndexedBatch, "createdBlock" | "createdTx" | "updatedBlock" | "ancestry"> {
  readonly onChain: boolean;
  readonly createdBlock: number | null;
  readonly createdTx: string | null;
  /** The block of its newest indexed event: its state (and head) stand as of this block. */
  readonly updatedBlock: number | null;
}

/**
 * The batch's state from the index, else from its logged Registered document; undefined when neither knows it.
 * `entries` are the batch's own log entries when the caller already read them.
 */
export async function batchState(store: Store, batchId: string, entries?: readonly StoredEntry[]): Promise<KnownBatch | undefined> {
  const indexed = await store.batch(batchId);
  if (indexed) {
    const { ancestry: _a, ...rest } = indexed;
    return { ...rest, onChain: true };
  }
  const own = entries ?? (await store.entriesOfBatch(batchId));
  const registered = own.find((e) => e.kind === Kind.Registered);
  if (!registered) return undefined;
  const { doc, signer } = bodyOf(registered);
  const batch = doc.batch as { gtin: string; lot: string };
  const quantity = doc.quantity as { value: number; unit: string };
  const imported = doc.imported === true;
  return {
    batchId: batchId.toLowerCase(),
    gtin: batch.gtin,
    lot: batch.lot,
    registrant: signer.toLowerCase(),
    custodian: signer.toLowerCase(),
    quantity: BigInt(quantity.value),
    unit: quantity.unit,
    status: "active" satisfies BatchStatus,
    recalled: false,
    imported,
    customsCleared: false,
    offerTo: undefined,
    // No event of it is on chain yet: its hash chain is still at its start.
    head: ZERO_HASH,
    onChain: false,
    createdBlock: null,
    createdTx: null,
    updatedBlock: null,
  };
}

/** Throws UNKNOWN_BATCH when neither the index nor the log knows the batch. */
export async function requireBatch(store: Store, ref: BatchRef, entries?: readonly StoredEntry[]): Promise<KnownBatch> {
  const state = await batchState(store, ref.batchId, entries);
  if (!state) {
    const name = ref.keys ? `/01/${ref.keys.gtin}/10/${ref.keys.lot} (${ref.batchId})` : ref.batchId;
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
