/**
 * One log entry as the answers show it (protocol/answer.ts TimelineEntry): its signed document and values, its
 * signer as shoppers see them, its inclusion proof to the anchor the caller chose, and where a lifecycle entry stands
 * on chain. The provenance answer and the observation pages both build their entries here.
 */
import type { Actor, ChainRecord, TimelineEntry } from "../protocol/answer.ts";
import type { AnchorRow, BatchEventRow, LifecycleEventRow, StoredEntry } from "../store/store.ts";
import { bodyOf, kindName, type QueryContext } from "./batch-state.ts";
import { proofFor } from "./views.ts";

export type ActorOf = (address: string) => Promise<Actor>;

export async function timelineEntry(
  ctx: QueryContext,
  entry: StoredEntry,
  relation: TimelineEntry["relation"],
  chainByHash: ReadonlyMap<string, BatchEventRow>,
  anchor: AnchorRow | undefined,
  relayCursor: number,
  actorOf: ActorOf,
): Promise<TimelineEntry> {
  const { store } = ctx;
  const body = bodyOf(entry);
  const kind = kindName(entry);
  const [signer, proof, chain] = await Promise.all([
    actorOf(body.signer),
    proofFor(store, entry, anchor),
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
export async function chainRecord(
  ctx: QueryContext,
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

