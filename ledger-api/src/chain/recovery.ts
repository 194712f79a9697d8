/**
 * Recovery from a chain that lost blocks the ledger had counted final: a local chain restored from an old snapshot or
 * wiped, a remote chain rolled back deeper than CONFIRMATIONS. The log is the source of truth (every entry is a
 * signed event that can be replayed), so recovery works out what the chain no longer holds and puts the ledger's
 * writers back to the point where they redo it:
 *
 * - **Relay rows.** A row whose event is not on chain any more goes back to 'pending' with its nonce cleared, so the
 *   relay sends it again in log order with fresh nonces from the relayer's account nonce on chain (no nonce gap). A
 *   'sent' row whose transaction is not mined goes back too. A refusal judged by a block the chain lost, or judged
 *   (by the pre-send simulation) after the first lost event, is judged again. A row whose event is on chain under
 *   another transaction is confirmed with that one. RelayBodyInvalid refusals stand: they never depended on the chain.
 *   Rows sent in a relay group are judged one by one like the others (each holds its group's nonce and hash): a lost
 *   group's rows all go back to 'pending' and are regrouped when sent again; a call of it refused on chain
 *   (GroupCallRefused) in a block the chain lost is judged again.
 *   An event whose signature deadline has passed is then refused by the contract (DeadlinePassed) and recorded so.
 * - **Anchor intents** the chain does not hold are failed, and the anchorer anchors again from the chain's latest
 *   anchor (LogAnchor accepts the new root with a consistency proof from that one).
 * - **The index** is rebuilt from the deploy block when its cursor block is gone or changed.
 * - **The contracts**, when gone (a wiped local chain), are redeployed by `redeploy` (local mode: the same deployer
 *   from nonce 0, so the same addresses and the same EIP-712 domain); a remote chain needs an operator.
 *
 * Cheap when nothing was lost: if the index's cursor block is still on chain with its hash and every block a row
 * calls final is at or below it, and no stored nonce is above the chain's, nothing final was lost and no chain logs
 * are scanned. Otherwise the ledger's events are read from the chain once (eth_getLogs in ranges).
 *
 * Run it with the relay, anchorer and indexer stopped (services.ts does; scripts/recover.ts runs alone). Applying is
 * idempotent: a crash halfway and a second run finish the job.
 */
import { Contract } from "ethers";
import type { Provider } from "ethers";
import { bytesToHex } from "../log/hash.ts";
import { root as rootOfSize } from "../log/merkle.ts";
import type { AnchorIntentStatus, RelayRecord, RelayRewrite, RelayStatus, Store } from "../store/store.ts";
import { contractSetKey } from "../store/store.ts";
import { EventDecoder } from "./chain-events.ts";
import { abiOf, type Deployments } from "./contracts.ts";
import { silentLogger, type ChainLogger } from "./transactions.ts";

export interface RecoveryContext {
  readonly store: Store;
  readonly provider: Provider;
  readonly deployments: Deployments;
  /** The relayer's and the anchorer's accounts. */
  readonly relayer: string;
  readonly anchorer: string;
  /** Local mode: redeploys the contracts when the chain lost them (same deployer and nonces: same addresses). */
  readonly redeploy?: () => Promise<Deployments>;
  readonly logger?: ChainLogger;
  /** Blocks per eth_getLogs request. Default 5000. */
  readonly logRange?: number;
}

/** The chain and the log disagree in a way a replay cannot fix (another log, another contract set). */
export class RecoveryError extends Error {
  override readonly name = "RecoveryError";
}

export interface RelayRedo {
  readonly index: number;
  readonly was: RelayStatus;
  readonly rewrite: RelayRewrite;
}

export interface AnchorDrop {
  readonly id: number;
  readonly size: number;
  readonly was: AnchorIntentStatus;
}

export interface RecoveryPlan {
  readonly chainHead: number;
  /** Why a full comparison with the chain's logs was made; undefined when the quick checks found nothing lost. */
  readonly suspicion: string | undefined;
  /** No code at the ledger or anchor address: the chain holds none of the ledger's history. */
  readonly contractsMissing: boolean;
  readonly index: { readonly cursorBlock: number | undefined; readonly rebuild: boolean; readonly reason: string | undefined };
  readonly relay: {
    readonly rowsChecked: number;
    /** The relayer's mined nonce on chain: the first nonce the re-sent events will use. */
    readonly relayerNonce: number;
    readonly redo: readonly RelayRedo[];
  };
  readonly anchors: {
    /** The chain's latest anchored tree size (0 before any). */
    readonly chainAnchoredSize: number;
    readonly logSize: number;
    readonly drop: readonly AnchorDrop[];
  };
  /** Nothing to do. */
  readonly clean: boolean;
}

interface OnChain {
  readonly blockNumber: number;
  readonly txHash: string;
}

const ALL_STATUSES: readonly RelayStatus[] = ["pending", "sent", "confirmed", "refused"];

/** Works out what the chain lost; changes nothing. */
export async function planRecovery(ctx: RecoveryContext): Promise<RecoveryPlan> {
  const { store, provider, deployments } = ctx;
  const head = await provider.getBlockNumber();
  const [ledgerCode, anchorCode] = await Promise.all([provider.getCode(deployments.ledger), provider.getCode(deployments.anchor)]);
  const contractsMissing = ledgerCode === "0x" || anchorCode === "0x";
  const relayerNonce = await provider.getTransactionCount(ctx.relayer, "latest");
  const anchorerNonce = await provider.getTransactionCount(ctx.anchorer, "latest");
  const logSize = (await store.checkpoint()).size;

  // --- the index: is its cursor block still the chain's?
  const cursor = await store.cursor();
  const key = contractSetKey(deployments.chainId, deployments.ledger, deployments.anchor);
  if (cursor !== undefined && cursor.contracts !== key) {
    throw new RecoveryError(`the store indexes ${cursor.contracts}, the deployments name ${key}: not a rollback; point the service at the right data directory`);
  }
  let indexReason: string | undefined;
  if (contractsMissing) indexReason = "the contracts are gone from the chain";
  else if (cursor !== undefined) {
    const block = await provider.getBlock(cursor.blockNumber);
    if (block === null) indexReason = `the chain has no block ${cursor.blockNumber} (the index's cursor) any more`;
    else if (block.hash?.toLowerCase() !== cursor.blockHash) indexReason = `block ${cursor.blockNumber} changed under the index`;
  }

  const rows: RelayRecord[] = [];
  for (const status of ALL_STATUSES) rows.push(...(await store.relayRows(status)));
  rows.sort((a, b) => a.index - b.index);
  const intents = await store.anchorIntents();

  // --- quick checks: nothing final newer than a canonical cursor, no stored nonce above the chain's.
  const finalBlocks = [
    ...rows.filter((r) => r.status !== "pending" && r.status !== "sent" && r.blockNumber !== undefined).map((r) => r.blockNumber!),
    ...intents.filter((i) => i.status === "confirmed").map((i) => i.blockNumber ?? 0),
  ];
  const newestFinal = finalBlocks.length === 0 ? undefined : Math.max(...finalBlocks);
  const settledNonces = rows.filter((r) => r.status !== "sent" && r.nonce !== undefined).map((r) => r.nonce!);
  const sentNonces = rows.filter((r) => r.status === "sent").map((r) => r.nonce!);
  const openIntent = intents.find((i) => i.status === "sent");
  let suspicion: string | undefined = indexReason;
  if (suspicion === undefined && newestFinal !== undefined && (cursor === undefined || cursor.blockNumber < newestFinal)) {
    suspicion = `rows call block ${newestFinal} final but the index cannot vouch for it (cursor ${cursor?.blockNumber ?? "none"})`;
  }
  if (suspicion === undefined && settledNonces.some((n) => n >= relayerNonce)) {
    suspicion = `a settled relay row holds nonce ${Math.max(...settledNonces)}, the relayer's nonce on chain is ${relayerNonce}`;
  }
  if (suspicion === undefined && sentNonces.length > 0 && Math.min(...sentNonces) > relayerNonce) {
    suspicion = `the oldest sent relay transaction has nonce ${Math.min(...sentNonces)}, the chain is at ${relayerNonce} (a nonce gap)`;
  }
  if (suspicion === undefined && openIntent !== undefined && openIntent.nonce > anchorerNonce) {
    suspicion = `the anchor in flight has nonce ${openIntent.nonce}, the chain is at ${anchorerNonce} (a nonce gap)`;
  }

  // The chain's latest anchor must be a root of this log, whatever else happened.
  const anchorContract = new Contract(deployments.anchor, abiOf("LogAnchor"), provider);
  let chainAnchoredSize = 0;
  if (!contractsMissing) {
    const count = Number((await anchorContract.getFunction("anchorCount")()) as bigint);
    if (count > 0) {
      const latest = (await anchorContract.getFunction("anchorAt")(count - 1)) as { root: string; size: bigint };
      chainAnchoredSize = Number(latest.size);
      if (chainAnchoredSize > logSize) {
        throw new RecoveryError(`the chain anchored ${chainAnchoredSize} entries but the log holds ${logSize}: the store is older than the chain (restored a backup?)`);
      }
      const ours = bytesToHex(await rootOfSize(chainAnchoredSize, store)).toLowerCase();
      if (ours !== latest.root.toLowerCase()) {
        throw new RecoveryError(`the chain's root of size ${chainAnchoredSize} is ${latest.root}, the log's is ${ours}: another log`);
      }
    }
  }

  const plan = (redo: RelayRedo[], drop: AnchorDrop[]): RecoveryPlan => ({
    chainHead: head,
    suspicion,
    contractsMissing,
    index: { cursorBlock: cursor?.blockNumber, rebuild: indexReason !== undefined, reason: indexReason },
    relay: { rowsChecked: rows.length, relayerNonce, redo },
    anchors: { chainAnchoredSize, logSize, drop },
    clean: indexReason === undefined && redo.length === 0 && drop.length === 0,
  });
  if (suspicion === undefined) return plan([], []);

  // --- full comparison: every event and anchor the chain holds now.
  const { lifecycle, anchorSizes } = contractsMissing
    ? { lifecycle: new Map<string, OnChain>(), anchorSizes: new Set<number>() }
    : await chainHistory(ctx, head);
  const redo: RelayRedo[] = [];
  const mined = async (txHash: string | undefined): Promise<boolean> =>
    txHash !== undefined && !contractsMissing && (await provider.getTransactionReceipt(txHash)) !== null;
  let firstLost = Number.POSITIVE_INFINITY;
  const pendingBehind: RelayRecord[] = [];
  for (const row of rows) {
    const entry = await store.entry(row.index);
    if (entry === undefined) throw new RecoveryError(`relay row ${row.index} has no log entry`);
    const found = lifecycle.get(entry.key.toLowerCase());
    const toPending = (reason: string) => redo.push({ index: row.index, was: row.status, rewrite: { index: row.index, status: "pending", reason } });
    const toConfirmed = (at: OnChain) =>
      redo.push({ index: row.index, was: row.status, rewrite: { index: row.index, status: "confirmed", blockNumber: at.blockNumber, txHash: at.txHash } });
    switch (row.status) {
      case "confirmed":
        if (found === undefined) {
          toPending(`its event was recorded in block ${row.blockNumber}, which the chain lost`);
          firstLost = Math.min(firstLost, row.index);
        } else if (found.txHash !== row.txHash || found.blockNumber !== row.blockNumber) toConfirmed(found);
        break;
      case "refused":
        if (row.errorName === "RelayBodyInvalid") break;
        if (found !== undefined) {
          // Only a row that held a transaction of its own (a single call's, or its group's) can be confirmed by one.
          if (row.rawTx !== undefined || row.group !== undefined) toConfirmed(found);
        } else if (row.blockNumber !== undefined) {
          if (!(await mined(row.txHash))) {
            toPending(`refused (${row.errorName}) in block ${row.blockNumber}, which the chain lost; judged again`);
            firstLost = Math.min(firstLost, row.index);
          }
        } else pendingBehind.push(row);
        break;
      case "sent":
        if (found === undefined && !(await mined(row.txHash))) {
          toPending(`transaction ${row.txHash} (nonce ${row.nonce}) is not on chain; sent again with a fresh nonce`);
        }
        break;
      case "pending":
        if (row.nonce !== undefined && row.nonce >= relayerNonce) toPending("a stale nonce above the chain's cleared");
        break;
    }
  }
  // Refusals by the pre-send simulation after the first lost event were judged against a state the chain lost.
  for (const row of pendingBehind) {
    if (row.index > firstLost) {
      redo.push({ index: row.index, was: row.status, rewrite: { index: row.index, status: "pending", reason: `refused (${row.errorName}) against a chain state that was lost; judged again` } });
    }
  }
  redo.sort((a, b) => a.index - b.index);

  const drop: AnchorDrop[] = [];
  for (const intent of intents) {
    if (intent.status === "failed" || anchorSizes.has(intent.size)) continue;
    if (intent.status === "sent" && intent.nonce <= anchorerNonce && (await mined(intent.txHash))) continue; // the anchorer settles it
    drop.push({ id: intent.id, size: intent.size, was: intent.status });
  }
  return plan(redo, drop);
}

/** The lifecycle events (by event hash) and the anchor sizes the chain holds, from the deploy block to `head`. */
async function chainHistory(ctx: RecoveryContext, head: number): Promise<{ lifecycle: Map<string, OnChain>; anchorSizes: Set<number> }> {
  const { provider, deployments } = ctx;
  const decoder = new EventDecoder(deployments.ledger, deployments.anchor);
  const range = ctx.logRange ?? 5000;
  const lifecycle = new Map<string, OnChain>();
  const anchorSizes = new Set<number>();
  for (let from = deployments.deployBlock; from <= head; from += range) {
    const logs = await provider.getLogs({ address: [deployments.ledger, deployments.anchor], fromBlock: from, toBlock: Math.min(head, from + range - 1) });
    for (const log of logs) {
      const event = decoder.decode(log);
      if (event?.type === "Lifecycle") lifecycle.set(event.eventHash, { blockNumber: event.blockNumber, txHash: event.txHash });
      else if (event?.type === "Anchored") anchorSizes.add(event.size);
    }
  }
  return { lifecycle, anchorSizes };
}

/**
 * Applies a plan: redeploys missing contracts (when `redeploy` is given; otherwise refuses), rewrites the relay rows,
 * fails the lost anchor intents and resets the index, each in one store transaction. The writers and the indexer
 * redo the rest when they start.
 */
export async function applyRecovery(ctx: RecoveryContext, plan: RecoveryPlan): Promise<void> {
  const logger = ctx.logger ?? silentLogger;
  if (plan.clean) return;
  if (plan.contractsMissing) {
    if (ctx.redeploy === undefined) {
      throw new RecoveryError(
        `no contract code at ${ctx.deployments.ledger} / ${ctx.deployments.anchor}: redeploy the contracts at the same ` +
          `addresses (the same deployer account from the same nonce) and grant the roles again, then run this again`,
      );
    }
    const again = await ctx.redeploy();
    if (again.ledger.toLowerCase() !== ctx.deployments.ledger.toLowerCase() || again.anchor.toLowerCase() !== ctx.deployments.anchor.toLowerCase()) {
      throw new RecoveryError(
        `the contracts were redeployed at ${again.ledger} / ${again.anchor}, not ${ctx.deployments.ledger} / ${ctx.deployments.anchor}: ` +
          `every signed event names the old ledger address, so the log cannot be replayed onto them`,
      );
    }
    logger.warn({ ledger: again.ledger, anchor: again.anchor }, "recovery: contracts redeployed at their addresses");
  }
  const now = Date.now();
  if (plan.relay.redo.length > 0) await ctx.store.rewriteRelayRows(plan.relay.redo.map((r) => r.rewrite), now);
  if (plan.anchors.drop.length > 0) {
    await ctx.store.failAnchorIntents(
      plan.anchors.drop.map((d) => d.id),
      `lost in a chain rollback; anchored again from the chain's anchor of size ${plan.anchors.chainAnchoredSize}`,
      now,
    );
  }
  if (plan.index.rebuild) await ctx.store.resetIndex();
  logger.warn(
    { resend: plan.relay.redo.filter((r) => r.rewrite.status === "pending").length, anchorsDropped: plan.anchors.drop.length, indexRebuilt: plan.index.rebuild },
    "recovery: applied; the relay re-sends, the anchorer re-anchors and the indexer rebuilds",
  );
}

/** Plans, then applies when `apply` (and anything was lost). */
export async function recover(ctx: RecoveryContext, options: { readonly apply: boolean }): Promise<RecoveryPlan> {
  const plan = await planRecovery(ctx);
  if (options.apply) await applyRecovery(ctx, plan);
  return plan;
}

/** The plan in plain words, one line per fact, for operators (scripts/recover.ts) and logs. */
export function describeRecovery(plan: RecoveryPlan): string[] {
  const lines = [`chain head: block ${plan.chainHead}${plan.contractsMissing ? "; the ledger's contracts are GONE from the chain" : ""}`];
  if (plan.clean) {
    lines.push("nothing to redo: the chain holds every event, anchor and indexed block the store calls final");
    return lines;
  }
  if (plan.suspicion !== undefined) lines.push(`checked against the chain's logs because ${plan.suspicion}`);
  lines.push(
    plan.index.rebuild
      ? `index: rebuild from the deploy block (${plan.index.reason})`
      : `index: keep (cursor block ${plan.index.cursorBlock ?? "none"} is on chain)`,
  );
  const resend = plan.relay.redo.filter((r) => r.rewrite.status === "pending");
  const confirm = plan.relay.redo.filter((r) => r.rewrite.status === "confirmed");
  const byWas = (list: readonly RelayRedo[]) =>
    ALL_STATUSES.map((s) => [s, list.filter((r) => r.was === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
  lines.push(
    `relay: ${plan.relay.rowsChecked} rows checked; ${resend.length} events to send again in log order from relayer nonce ` +
      `${plan.relay.relayerNonce}${resend.length > 0 ? ` (were ${byWas(resend)})` : ""}` +
      (confirm.length > 0 ? `; ${confirm.length} rows confirmed by the transaction the chain holds (were ${byWas(confirm)})` : ""),
  );
  for (const r of plan.relay.redo.slice(0, 20)) {
    lines.push(`  entry ${r.index} (${r.was}) -> ${r.rewrite.status}${r.rewrite.status === "pending" ? `: ${r.rewrite.reason}` : ` in block ${r.rewrite.blockNumber}`}`);
  }
  if (plan.relay.redo.length > 20) lines.push(`  ... and ${plan.relay.redo.length - 20} more`);
  lines.push(
    `anchors: the chain's latest anchor covers ${plan.anchors.chainAnchoredSize} of ${plan.anchors.logSize} entries; ` +
      (plan.anchors.drop.length > 0
        ? `${plan.anchors.drop.length} anchor intents the chain lacks are dropped (sizes ${plan.anchors.drop.map((d) => d.size).join(", ")}); `
        : "") +
      `the anchorer anchors from size ${plan.anchors.chainAnchoredSize}`,
  );
  return lines;
}
