/**
 * The relay: follows the log in order and submits every lifecycle (non-Observed) entry to ProvenanceLedger with its
 * actor's signature, from one RELAYER_ROLE account that pays the gas, so actors need none. Entries go one per
 * transaction (`groupSize` 1: each its own lifecycle call) or several per transaction through
 * `ProvenanceLedger.relayGroup` (chain/relay-group.ts), which shares a transaction's base cost among them.
 *
 * Per entry, a relay row (store/chain-writers.ts) goes pending -> sent -> confirmed | refused:
 *   - ingest: a pass reads entries from the stored cursor and, in one transaction, inserts a 'pending' row per
 *     lifecycle entry and moves the cursor past them.
 *   - send, in log order: the entry's body gives the struct values (protocol/entry-body.ts); they must hash to the
 *     entry's signed EIP-712 digest, or the row is refused as RelayBodyInvalid without a transaction. Pending rows are
 *     taken in log order into a group of up to `groupSize`. A group of one is sent as its single call: simulated by
 *     eth_estimateGas, a custom error there refuses the row with that error, no gas spent. A larger group is
 *     simulated by eth_call of relayGroup while its gas is estimated: each call the contract would refuse is refused
 *     locally with its error (the same recording as a single call's) and left out, and the estimate bounds the rest
 *     (a group whose limit would pass `maxGroupGas` is cut short; the calls cut off wait for the next pass). A group
 *     the contract refuses as a whole (a call reverting without a reason) is sent entry by entry, as single calls.
 *     The groups of one pass are simulated together and then sent in log order. Either way the transaction is
 *     signed with the next explicit nonce and stored before the broadcast: a single call's row 'sent' {nonce, tx hash,
 *     raw tx}; a group's raw transaction once (a relay group) with every row of it 'sent' {nonce, tx hash, group}, in
 *     one store transaction. Only then are the raw bytes broadcast.
 *   - settle: a mined transaction with `confirmations` blocks (on the local chain also held by a durable snapshot;
 *     finality.ts). A single call: success -> 'confirmed' (block); a revert -> 'refused' with the custom error the
 *     call raises when replayed at that block (e.g. "BatchRecalled(0x.., 0x..)"). A group, from its receipt, all its
 *     rows in one store transaction: each call whose event is in the receipt -> 'confirmed'; each reported by
 *     `GroupCallRefused` -> 'refused' with the decoded reason, saying that the actor's nonce was not spent (e.g. a
 *     recall mined between the simulation and the group). A group that reverted as a whole (out of gas, say) puts
 *     its rows back to 'pending', to be simulated and sent again.
 *
 * Order. Nonces are sequential from one account, so transactions mine in sending order. Up to `maxInFlight`
 * transactions are pipelined, but an entry is only sent (or simulated) once no in-flight transaction carries an
 * entry touching one of its batches (its batch, new batch ids, split children, merge parents): a PesticideApplied is
 * simulated after the Registered of its batch is mined, so a dependent entry is never refused because its
 * predecessor had not landed yet. Within one group, entries may depend on each other: the contract runs a group's
 * calls in order, each seeing the effects of the ones before it, in the simulation as on chain. A refused entry does
 * not stop the ones after it.
 *
 * Crash safety. A crash after broadcast but before the outcome is stored leaves 'sent' rows; on the next start,
 * before sending anything, each transaction (a single call's row, or a group's rows together) is settled from the
 * chain instead of resent blindly: a receipt decides it; a transaction still pending is waited for; one unknown to
 * the node whose nonce is still free is re-broadcast as the SAME bytes (same nonce, so it cannot land twice); one
 * whose nonce another transaction consumed is settled row by row by the actor's `nonceUsed` and the event log: the
 * event with this eventHash on chain -> 'confirmed' (by whoever sent it, e.g. the actor directly), the nonce spent by
 * a different event -> refused NonceAlreadyUsed, the nonce unspent -> back to 'pending' and sent again. In every
 * case the contract's per-actor nonce is the last line of defence: a replayed event reverts with NonceAlreadyUsed
 * (inside a group: is refused with it) and is never applied twice.
 *
 * Fees. A transaction still pending in the node `feeBumpAfterMs` after it was stored is replaced: same nonce and
 * call (a group: the same calls), fees raised by 12.5% (or to the network's current ones), stored before it is
 * broadcast (a group's once, with every row's hash), at most `maxFeeBumps` times per send of a row or per group
 * (counted in the store, so a restart or a new leader continues the count). If the replaced copy lands instead, the
 * new hash never gets a receipt, its nonce is consumed, and the rows are settled from the event log like any
 * transaction whose nonce went elsewhere.
 *
 * Not covered: reorgs deeper than `confirmations` (chain/recovery.ts redoes what such a reorg, or a lost local chain,
 * took away, group or not); a mined revert that replays cleanly (e.g. out of gas) is put back
 * to 'pending' and re-sent, which may then land after entries that followed it in the log.
 */
import { Contract, Interface, getAddress } from "ethers";
import type { FeeData, Log, Provider, Signer, TransactionReceipt } from "ethers";
import { decodeEntry } from "../log/entry.ts";
import type { RelayGroup, RelayRecord, RelaySettlement, RelayStore } from "../store/chain-writers.ts";
import type { LogStore } from "../store/store.ts";
import { isFinal, type DurableBlock } from "./finality.ts";
import { PollLoop } from "./poll-loop.ts";
import { callsOfGroupTx, encodeGroup, gasUsedOnce, groupOutcomes, simulatedCalls, type GroupCall, type SimulatedCall } from "./relay-group.ts";
import { EntryBodyError, decodeEntryBody } from "../protocol/entry-body.ts";
import { Kind, LEDGER_METHODS, batchIdOf, eventHash, ledgerDomain } from "../protocol/typed-data.ts";
import type { EventValues, ValuesOf } from "../protocol/typed-data.ts";
import type { TypedDataDomain } from "ethers";
import {
  broadcast,
  FeeBumper,
  decodeRevert,
  providerOf,
  revertDataOf,
  signTx,
  silentLogger,
  systemClock,
} from "./transactions.ts";
import { assertHoldsRole } from "./transactions.ts";
import type { ChainLogger, Clock, ContractRef, DecodedError } from "./transactions.ts";
import { TimeSlice } from "./time-slice.ts";

/** The contract function that records each lifecycle kind, and the event it emits. */
export const RELAY_CALLS: Readonly<Record<number, { readonly method: string; readonly event: string }>> = Object.freeze(
  Object.fromEntries(
    Object.entries(LEDGER_METHODS).map(([event, method]) => [Kind[event as keyof typeof LEDGER_METHODS], { method, event }]),
  ),
);

export interface RelayOptions {
  readonly store: LogStore & RelayStore;
  readonly ledgerContract: ContractRef;
  /** Holds RELAYER_ROLE; its own account (the relay owns every nonce of it), with a local key (a Wallet). */
  readonly signer: Signer;
  /** Blocks (including the transaction's) before an outcome counts as final. */
  readonly confirmations: number;
  readonly logger?: ChainLogger;
  readonly clock?: Clock;
  /** Most transactions sent and not yet settled (a group counts once). Default 16. */
  readonly maxInFlight?: number;
  /**
   * Most lifecycle entries per transaction. 1 (the default) sends each entry as its own lifecycle call; more sends
   * groups through relayGroup (an entry that ends up alone is still sent as its own call, which costs less gas).
   */
  readonly groupSize?: number;
  /** Highest gas limit of one group's transaction; a group estimated above it is cut short. Default 12,000,000. */
  readonly maxGroupGas?: number;
  /** Pause between passes of the background loop. Default 500 ms. */
  readonly pollMs?: number;
  /**
   * Most log entries ingested per pass (Observed ones count, but cost only the store's scan). Default 5,000, or twice
   * what a pass may send (maxInFlight x groupSize) if that is more.
   */
  readonly ingestBatch?: number;
  /** First block to search for events recorded by someone else (the ledger's deploy block). Default 0. */
  readonly fromBlock?: number;
  /** Replace a transaction still pending this long after it was stored, at higher fees. Default 60 s; 0: never. */
  readonly feeBumpAfterMs?: number;
  /** Most replacements per row or group (each raises the fees by 12.5%). Default 8. */
  readonly maxFeeBumps?: number;
  /** Local chain: the newest block a durable snapshot holds; no outcome after it counts as final (finality.ts). */
  readonly durableBlock?: DurableBlock;
}

/** The relay's lag and whether it is stuck (see Relay.health). */
export interface RelayHealth {
  /** Rows waiting to be sent, and sent but not settled. */
  readonly pending: number;
  readonly sent: number;
  /** Log entries the relay has not looked at yet (Observed ones included). */
  readonly unread: number;
  /** Age of the oldest acknowledged entry still waiting for the relay (0 when none). */
  readonly oldestWaitingMs: number;
  /** When a pass last sent, settled or ingested anything (or when this relay was created). */
  readonly lastProgressAt: number;
  /** The relayer's next nonce on chain (read only while transactions are in flight). */
  readonly chainNonce: number | undefined;
  readonly oldestSentNonce: number | undefined;
  /** Why the relay is stuck, or undefined. */
  readonly stuck: string | undefined;
}

/** What one pass did. */
export interface RelayPass {
  readonly ingested: number;
  readonly sent: number;
  readonly confirmed: number;
  readonly refused: number;
}

/** A lifecycle entry ready to submit. */
interface Prepared extends GroupCall {
  readonly index: number;
  readonly kind: number;
  readonly actor: string;
  readonly values: EventValues;
  readonly eventDigest: string;
  readonly data: string;
  /** The batch ids the entry reads or writes. */
  readonly touched: ReadonlySet<string>;
  /** The batch id the emitted event is indexed by. */
  readonly eventBatchId: string;
}

/** What the sending part of one pass keeps from one transaction to the next. */
interface Sending {
  /** Batches touched by an entry in flight or in a group of this pass: an entry touching one waits. */
  readonly busy: Set<string>;
  /** Transactions that may still be sent in this pass. */
  slots: number;
  /** The next relayer nonce, read once per pass on the first send. */
  nonce: number | undefined;
  /** The network's fees, read once per pass on the first send. */
  fees: FeeData | undefined;
  sent: number;
  refused: number;
  /** Broadcasts under way (each of bytes already stored). */
  readonly broadcasts: Promise<void>[];
}

/** What the contract would do with a group now (Relay.judge). */
type Judged =
  | { readonly kind: "single"; readonly gas: bigint; readonly refusal?: undefined }
  | { readonly kind: "single"; readonly refusal: DecodedError }
  /**
   * `gasLimit`: enough for the calls it records (left out: the ones it refuses); undefined when it could not be
   * found (the estimate was refused).
   */
  | { readonly kind: "group"; readonly calls: readonly SimulatedCall[]; readonly gasLimit: bigint | undefined; readonly data: string }
  | { readonly kind: "whole"; readonly refusal: DecodedError };

/** The entry cannot be relayed as stored; refused locally with `refusal`. */
class Unrelayable extends Error {
  readonly refusal: DecodedError;
  constructor(refusal: DecodedError) {
    super(refusal.text);
    this.refusal = refusal;
  }
}

function posInt(name: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`relay ${name} must be an integer >= ${min}: ${v}`);
  return v;
}

/** The batch ids an event reads or creates, and the one its event is indexed by. */
function batchesOf(kind: number, values: EventValues): { touched: Set<string>; primary: string } {
  const ids: string[] = [];
  let primary: string;
  if (kind === Kind.Registered) {
    const v = values as ValuesOf[Kind.Registered];
    primary = batchIdOf(v.gtin, v.lot);
  } else if (kind === Kind.Merged) {
    const v = values as ValuesOf[Kind.Merged];
    primary = batchIdOf(v.gtin, v.lot);
    ids.push(...v.parents);
  } else {
    primary = (values as { batchId: string }).batchId;
    if (kind === Kind.Split) {
      for (const c of (values as ValuesOf[Kind.Split]).children) ids.push(batchIdOf(c.gtin, c.lot));
    }
  }
  ids.push(primary);
  return { touched: new Set(ids.map((x) => x.toLowerCase())), primary: primary.toLowerCase() };
}

function touches(p: Prepared, busy: ReadonlySet<string>): boolean {
  for (const id of p.touched) if (busy.has(id)) return true;
  return false;
}

function count(tally: { confirmed: number; refused: number }, outcome: string): void {
  if (outcome === "confirmed") tally.confirmed++;
  if (outcome === "refused") tally.refused++;
}

/** The gas limit sent for an estimate: the estimate ran against state that in-flight transactions may still change. */
function withHeadroom(gas: bigint): bigint {
  return (gas * 13n) / 10n + 20_000n;
}

export class Relay {
  private readonly store: LogStore & RelayStore;
  private readonly signer: Signer;
  private readonly provider: Provider;
  private readonly iface: Interface;
  private readonly contract: Contract;
  private readonly address: string;
  private readonly logger: ChainLogger;
  private readonly clock: Clock;
  private readonly confirmations: number;
  private readonly maxInFlight: number;
  private readonly groupSize: number;
  private readonly maxGroupGas: bigint;
  /** Fee bumps of single calls and of groups (their counts are in the store: a row's, a group's). */
  private readonly feeBumper: FeeBumper;
  private readonly pollMs: number;
  private readonly ingestBatch: number;
  private readonly fromBlock: number;
  private readonly durableBlock: DurableBlock | undefined;
  private lastProgressAt: number;
  /** The relay's rows and cursor at the last health check: progress as the store shows it. */
  private progressSeen: string | undefined;

  /** Whether the node answers eth_createAccessList (gasUsedOnce); set false on the first "unsupported". */
  private accessLists = true;
  private domain: TypedDataDomain | undefined;
  private from: string | undefined;
  private readonly prepared = new Map<number, Prepared>();
  private readonly loop: PollLoop;

  constructor(options: RelayOptions) {
    this.store = options.store;
    this.signer = options.signer;
    this.provider = providerOf(options.signer);
    this.iface = new Interface(options.ledgerContract.abi);
    this.address = getAddress(options.ledgerContract.address);
    this.contract = new Contract(this.address, this.iface, this.provider);
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.confirmations = posInt("confirmations", options.confirmations, 1);
    this.maxInFlight = posInt("maxInFlight", options.maxInFlight ?? 16, 1);
    this.groupSize = posInt("groupSize", options.groupSize ?? 1, 1);
    this.maxGroupGas = BigInt(posInt("maxGroupGas", options.maxGroupGas ?? 12_000_000, 100_000));
    this.pollMs = posInt("pollMs", options.pollMs ?? 500, 1);
    this.loop = new PollLoop("relay", () => this.syncOnce(), this.pollMs, this.logger);
    this.ingestBatch = posInt("ingestBatch", options.ingestBatch ?? Math.max(5000, 2 * this.maxInFlight * this.groupSize), 1);
    this.fromBlock = posInt("fromBlock", options.fromBlock ?? 0, 0);
    this.durableBlock = options.durableBlock;
    this.lastProgressAt = this.clock.now();
    const bumps = {
      afterMs: posInt("feeBumpAfterMs", options.feeBumpAfterMs ?? 60_000, 0),
      maxBumps: posInt("maxFeeBumps", options.maxFeeBumps ?? 8, 0),
    };
    this.feeBumper = new FeeBumper(this.signer, bumps, this.clock);
  }

  /**
   * Checks the role, settles every 'sent' row left by a previous process (before sending anything new), then runs
   * passes in the background. Rejects without starting if the signer lacks RELAYER_ROLE.
   */
  async start(): Promise<void> {
    if (this.loop.running) return;
    await this.init();
    await assertHoldsRole(this.contract, "RELAYER_ROLE", await this.sender());
    await this.loop.serialize(() => this.settleSent());
    this.loop.start();
  }

  /** Stops the loop and waits for the running pass. Rows in flight stay 'sent' for the next start to settle. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass: settle what is in flight, ingest new log entries, send what may be sent. */
  syncOnce(): Promise<RelayPass> {
    return this.loop.serialize(async () => {
      await this.init();
      const settled = await this.settleSent();
      const ingested = await this.ingest();
      const sent = await this.sendPending();
      if (ingested + sent.sent + sent.refused + settled.confirmed + settled.refused > 0) this.lastProgressAt = this.now();
      return {
        ingested,
        sent: sent.sent,
        confirmed: settled.confirmed,
        refused: settled.refused + sent.refused,
      };
    });
  }

  /** The relay row of log entry `index` (undefined for Observed entries and entries not ingested yet). */
  status(index: number): Promise<RelayRecord | undefined> {
    return this.store.relayRecord(index);
  }

  /**
   * How far behind the log the relay is, and whether it is stuck: events wait and nothing was sent or settled for
   * `stuckAfterMs` (counted from when the oldest of them arrived, at the earliest), or its oldest sent transaction's
   * nonce is above the relayer's next nonce on chain, so no transaction of it can ever be mined (a nonce gap, e.g.
   * after the chain lost blocks; chain/recovery.ts closes it).
   */
  async health(stuckAfterMs: number): Promise<RelayHealth> {
    const [counts, cursor, size, oldestPending, sentRows] = await Promise.all([
      this.store.relayCounts(),
      this.store.relayCursor(),
      this.store.size(),
      this.store.relayRows("pending", 1),
      this.store.relayRows("sent"),
    ]);
    const waiting = [oldestPending[0]?.index, sentRows[0]?.index, cursor < size ? cursor : undefined].filter(
      (i): i is number => i !== undefined,
    );
    const now = this.now();
    // Progress as the store shows it too, so an instance whose relay does not run (another instance leads) judges
    // the leader's relay as the leader does, instead of reporting it stuck.
    const progress = `${cursor}:${counts.pending}:${counts.sent}:${counts.confirmed}:${counts.refused}`;
    if (progress !== this.progressSeen) {
      if (this.progressSeen !== undefined) this.lastProgressAt = Math.max(this.lastProgressAt, now);
      this.progressSeen = progress;
    }
    const oldest = waiting.length === 0 ? undefined : await this.store.entry(Math.min(...waiting));
    const oldestWaitingMs = oldest === undefined ? 0 : Math.max(0, now - oldest.receivedAt);
    const oldestSentNonce = sentRows.length === 0 ? undefined : Math.min(...sentRows.map((r) => r.nonce!));
    let chainNonce: number | undefined;
    if (oldestSentNonce !== undefined) chainNonce = await this.provider.getTransactionCount(await this.sender(), "pending");
    const nonceGap = oldestSentNonce !== undefined && chainNonce !== undefined && oldestSentNonce > chainNonce;
    const idleMs = oldest === undefined ? 0 : now - Math.max(this.lastProgressAt, oldest.receivedAt);
    let stuck: string | undefined;
    if (nonceGap) {
      stuck = `nonce gap: the oldest sent transaction has nonce ${oldestSentNonce}, the relayer's next nonce on chain is ${chainNonce}`;
    } else if (oldest !== undefined && idleMs > stuckAfterMs) {
      stuck = `nothing relayed for ${Math.round(idleMs / 1000)} s while ${counts.pending + counts.sent + (size - cursor)} entries wait`;
    }
    return {
      pending: counts.pending,
      sent: counts.sent,
      unread: size - cursor,
      oldestWaitingMs,
      lastProgressAt: this.lastProgressAt,
      chainNonce,
      oldestSentNonce,
      stuck,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------


  private async init(): Promise<void> {
    if (this.domain !== undefined) return;
    const { chainId } = await this.provider.getNetwork();
    this.domain = ledgerDomain(chainId, this.address);
  }

  private async sender(): Promise<string> {
    this.from ??= (await this.signer.getAddress()).toLowerCase();
    return this.from;
  }

  private now(): number {
    return this.clock.now();
  }

  private final(block: number, head: number): boolean {
    return isFinal(block, head, this.confirmations, this.durableBlock);
  }

  /** Decodes entry `index` into the call to make; throws Unrelayable if its body does not match what was signed. */
  private async prepare(index: number): Promise<Prepared> {
    const cached = this.prepared.get(index);
    if (cached !== undefined) return cached;
    const entry = await this.store.entry(index);
    if (entry === undefined) throw new Error(`relay: log entry ${index} is missing`);
    const fields = decodeEntry(entry.entry);
    const call = RELAY_CALLS[entry.kind];
    if (call === undefined) throw new Error(`relay: entry ${index} has kind ${entry.kind}, which is not relayed`);
    const invalid = (why: string): Unrelayable =>
      new Unrelayable({ name: "RelayBodyInvalid", text: `RelayBodyInvalid(${JSON.stringify(why)})` });
    let body;
    try {
      body = decodeEntryBody(entry.kind as Kind, entry.body);
    } catch (e) {
      if (e instanceof EntryBodyError) throw invalid(e.message);
      throw e;
    }
    if (body.signer.toLowerCase() !== fields.signer || body.signature !== fields.signature) {
      throw invalid("signer or signature differs from the log entry's");
    }
    const digest = eventHash(this.domain!, entry.kind as Kind, body.values).toLowerCase();
    if (digest !== fields.eventDigest) throw invalid(`values hash to ${digest}, the entry signed ${fields.eventDigest}`);
    const { touched, primary } = batchesOf(entry.kind, body.values);
    const prepared: Prepared = {
      index,
      kind: entry.kind,
      actor: fields.signer,
      values: body.values,
      eventDigest: fields.eventDigest,
      data: this.iface.encodeFunctionData(call.method, [body.values, getAddress(fields.signer), fields.signature]),
      event: call.event,
      touched,
      eventBatchId: primary,
    };
    this.prepared.set(index, prepared);
    return prepared;
  }

  private forget(index: number): void {
    this.prepared.delete(index);
  }

  /** Inserts 'pending' rows for the lifecycle entries after the cursor and moves the cursor past them. */
  private async ingest(): Promise<number> {
    const from = await this.store.relayCursor();
    const size = await this.store.size();
    const to = Math.min(size, from + this.ingestBatch);
    if (to <= from) return 0;
    // Only the lifecycle entries' index, kind and signer: the Observed ones between them never leave the store.
    const heads = await this.store.lifecycleEntries(from, to, to - from);
    const rows = heads.map((e) => ({ index: e.index, kind: e.kind, actor: e.signer }));
    await this.store.advanceRelayCursor(from, to, rows, this.now());
    return rows.length;
  }

  private async nextNonce(): Promise<number> {
    const pending = await this.provider.getTransactionCount(await this.sender(), "pending");
    const stored = await this.store.maxRelayNonce();
    // Never below a stored nonce: a row stored 'sent' whose broadcast a crash cut off is not in the node's count.
    return Math.max(pending, stored === undefined ? 0 : stored + 1);
  }

  private async refuse(index: number, refusal: DecodedError, blockNumber?: number): Promise<void> {
    await this.store.markRelayRefused(index, { errorName: refusal.name, error: refusal.text, blockNumber }, this.now());
    this.forget(index);
    this.logger.warn({ index, error: refusal.text, block: blockNumber }, "relay: event refused");
  }

  /**
   * Sends pending rows in log order, in transactions of up to `groupSize` entries; stops at the first row that must
   * wait for an in-flight transaction. The groups of a pass touch disjoint batches (a row touching an earlier group's
   * batch ends the pass's groups), so they are simulated all at once, against the same state, and then signed,
   * stored and broadcast one by one in log order (nonce order).
   */
  private async sendPending(): Promise<{ sent: number; refused: number }> {
    const inFlight = await this.store.relayRows("sent");
    const busy = new Set<string>();
    const transactions = new Set<string>();
    const slice = new TimeSlice();
    for (const row of inFlight) {
      transactions.add(row.txHash!); // a group's rows share one
      for (const id of (await this.prepare(row.index)).touched) busy.add(id);
      await slice.pause();
    }
    const sending: Sending = { busy, slots: this.maxInFlight - transactions.size, nonce: undefined, fees: undefined, sent: 0, refused: 0, broadcasts: [] };
    if (sending.slots <= 0) return sending;
    const groups: Prepared[][] = [];
    let group: Prepared[] = [];
    const close = (): void => {
      groups.push(group);
      // Every row of the group, refused or not: what follows on its batches waits for the next pass.
      for (const p of group) for (const id of p.touched) busy.add(id);
      group = [];
    };
    for (const row of await this.store.relayRows("pending", sending.slots * this.groupSize + 4 * this.maxInFlight)) {
      await slice.pause();
      let p: Prepared;
      try {
        p = await this.prepare(row.index);
      } catch (e) {
        if (!(e instanceof Unrelayable)) throw e;
        await this.refuse(row.index, e.refusal);
        sending.refused++;
        continue;
      }
      if (touches(p, busy)) break; // keep log order within a batch's history
      group.push(p);
      if (group.length === this.groupSize) {
        close();
        if (groups.length === sending.slots) break;
      }
    }
    if (group.length > 0 && groups.length < sending.slots) close();
    const judged = await Promise.all(groups.map((g) => this.judge(g)));
    try {
      for (const [i, verdict] of judged.entries()) {
        await slice.pause();
        await this.send(groups[i]!, verdict, sending);
      }
    } finally {
      await Promise.all(sending.broadcasts);
    }
    return sending;
  }

  /**
   * What the contract would do with `group` now, without sending anything. A single entry: the gas estimate of its
   * call, or the custom error it would revert with. A group: each call's outcome (eth_call of relayGroup) and a gas
   * limit for the calls it records, found in two executions where the node allows: the gas the whole group uses
   * (gasUsedOnce), then the eth_call at that figure with headroom, which both simulates every call and shows the
   * limit runs the group (a call starved of gas would revert it whole). That limit also covers the group without
   * the calls it refuses (a refused call's effects, warm slots included, are undone; the calls after it see the same
   * state either way). Otherwise, or if that call reverts, an unlimited eth_call and eth_estimateGas, side by side.
   * `whole` is the contract's refusal of the group as a whole (a call reverting without a reason, say).
   */
  private async judge(group: readonly Prepared[]): Promise<Judged> {
    const from = await this.sender();
    if (group.length === 1) {
      try {
        return { kind: "single", gas: await this.provider.estimateGas({ from, to: this.address, data: group[0]!.data }) };
      } catch (e) {
        const decoded = this.decode(e);
        if (decoded === undefined) throw e; // not the contract's answer (node down, ...): retry next pass
        return { kind: "single", refusal: decoded };
      }
    }
    const tx = { from, to: this.address, data: encodeGroup(this.iface, group) };
    const gasUsed = this.accessLists ? await gasUsedOnce(this.provider, tx) : undefined;
    if (gasUsed === "unsupported") {
      this.accessLists = false;
      this.logger.info({}, "relay: the node has no eth_createAccessList; group gas comes from eth_estimateGas");
    }
    if (typeof gasUsed === "bigint") {
      const gasLimit = withHeadroom(gasUsed);
      try {
        const returned = await this.provider.call({ ...tx, gasLimit });
        return { kind: "group", calls: simulatedCalls(this.iface, returned, group.length), gasLimit, data: tx.data };
      } catch (e) {
        if (this.decode(e) === undefined) throw e; // else: judged again below, without a limit
      }
    }
    try {
      const [returned, gas] = await Promise.all([
        this.provider.call(tx),
        this.provider.estimateGas(tx).catch((e: unknown) => {
          if (this.decode(e) === undefined) throw e;
          return undefined; // the contract's refusal: the call above says which
        }),
      ]);
      const gasLimit = gas === undefined ? undefined : withHeadroom(gas);
      return { kind: "group", calls: simulatedCalls(this.iface, returned, group.length), gasLimit, data: tx.data };
    } catch (e) {
      const decoded = this.decode(e);
      if (decoded === undefined) throw e;
      return { kind: "whole", refusal: decoded };
    }
  }

  /** Acts on what `judge` found for `group`: refusals recorded, the rest sent as one transaction. */
  private async send(group: readonly Prepared[], judged: Judged, sending: Sending): Promise<void> {
    if (judged.kind === "single") {
      if (judged.refusal !== undefined) {
        await this.refuse(group[0]!.index, judged.refusal);
        sending.refused++;
      } else await this.sendSingle(group[0]!, judged.gas, sending);
      return;
    }
    if (judged.kind === "whole") {
      // The contract refused the group, not one of its calls: each entry goes as its own call, as with groupSize 1,
      // until one must wait for another just sent.
      this.logger.warn({ first: group[0]!.index, calls: group.length, error: judged.refusal.text }, "relay: group refused as a whole; sending its entries one by one");
      const sent = new Set<string>();
      for (const p of group) {
        if (sending.slots <= 0 || touches(p, sent)) break;
        const verdict = await this.judge([p]);
        await this.send([p], verdict, sending);
        for (const id of p.touched) sent.add(id);
      }
      return;
    }
    let calls: Prepared[] = [];
    for (const [i, verdict] of judged.calls.entries()) {
      if (verdict.recorded) calls.push(group[i]!);
      else {
        // Left out: a refused call has no effect, so the others' simulated outcomes stand without it.
        await this.refuse(group[i]!.index, verdict.refusal);
        sending.refused++;
      }
    }
    if (calls.length === 0) return;
    if (calls.length === 1) return this.send(calls, await this.judge(calls), sending);
    const gasLimit = judged.gasLimit;
    if (gasLimit === undefined) {
      return this.send(calls, { kind: "whole", refusal: { name: "GroupGas", text: "no gas limit runs it whole" } }, sending);
    }
    if (gasLimit > this.maxGroupGas) {
      // Too big for one transaction: a head that fits goes (judged again alone); the tail waits for the next pass.
      const keep = Math.max(1, Math.floor((calls.length * Number(this.maxGroupGas)) / Number(gasLimit)));
      calls = calls.slice(0, Math.min(keep, calls.length - 1));
      return this.send(calls, await this.judge(calls), sending);
    }
    const nonce = await this.nonceFor(sending);
    const data = calls.length === group.length ? judged.data : encodeGroup(this.iface, calls);
    const request = { to: this.address, data, gasLimit, ...(await this.feesFor(sending)) };
    const signed = await signTx(this.signer, request, nonce);
    const id = await this.store.markRelayGroupSent(
      calls.map((p) => p.index),
      { nonce, txHash: signed.hash, rawTx: signed.raw },
      this.now(),
    );
    this.broadcastStored(sending, signed.raw, { group: id });
    this.logger.info({ group: id, calls: calls.length, first: calls[0]!.index, nonce, txHash: signed.hash }, "relay: group sent");
    sending.nonce = nonce + 1;
    sending.slots--;
    sending.sent += calls.length;
  }

  /** Sends one entry as its own lifecycle call, with the gas its estimate found. */
  private async sendSingle(p: Prepared, gas: bigint, sending: Sending): Promise<void> {
    const nonce = await this.nonceFor(sending);
    const signed = await signTx(this.signer, { to: this.address, data: p.data, gasLimit: withHeadroom(gas), ...(await this.feesFor(sending)) }, nonce);
    await this.store.markRelaySent(p.index, { nonce, txHash: signed.hash, rawTx: signed.raw }, this.now());
    this.broadcastStored(sending, signed.raw, { index: p.index });
    this.logger.info({ index: p.index, kind: p.kind, nonce, txHash: signed.hash }, "relay: sent");
    sending.nonce = nonce + 1;
    sending.slots--;
    sending.sent++;
  }

  /**
   * Broadcasts stored bytes without waiting for the node's answer before the next transaction is signed and stored
   * (the pass awaits them all before it ends): the requests leave in nonce order, and a failure only means the
   * settling passes re-broadcast the same bytes.
   */
  private broadcastStored(sending: Sending, raw: string, what: object): void {
    sending.broadcasts.push(
      broadcast(this.provider, raw).then((err) => {
        if (err !== undefined) this.logger.warn({ ...what, err: err.message }, "relay broadcast failed; settle retries");
      }),
    );
  }

  private async nonceFor(sending: Sending): Promise<number> {
    sending.nonce ??= await this.nextNonce();
    return sending.nonce;
  }

  /**
   * The network's fees and the chain id, read once per pass for every transaction it signs (rather than once per
   * transaction by the signer); none on a network without EIP-1559 fees, where the signer fills in the gas price.
   */
  private async feesFor(sending: Sending): Promise<{ chainId?: bigint; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint }> {
    sending.fees ??= await this.provider.getFeeData();
    const { maxFeePerGas, maxPriorityFeePerGas } = sending.fees;
    const chainId = BigInt(this.domain!.chainId!);
    return maxFeePerGas !== null && maxPriorityFeePerGas !== null ? { chainId, maxFeePerGas, maxPriorityFeePerGas } : {};
  }

  private decode(e: unknown): DecodedError | undefined {
    const data = revertDataOf(e);
    return data === undefined ? undefined : decodeRevert(this.iface, data);
  }

  /** Settles every 'sent' row from the chain, a group's rows together; see the module comment for the rules. */
  private async settleSent(): Promise<{ confirmed: number; refused: number }> {
    const rows = await this.store.relayRows("sent");
    const tally = { confirmed: 0, refused: 0 };
    if (rows.length === 0) return tally;
    // Read the mined nonce BEFORE any receipt: a transaction without a receipt after its nonce was consumed can
    // never be mined any more.
    const minedNonce = await this.provider.getTransactionCount(await this.sender(), "latest");
    const head = await this.provider.getBlockNumber();
    // Every receipt at once (one round trip for the node), then each transaction settled in turn.
    const hashes = [...new Set(rows.map((row) => row.txHash!))];
    const found = await Promise.all(hashes.map((hash) => this.provider.getTransactionReceipt(hash)));
    const receipts = new Map(hashes.map((hash, i) => [hash, found[i] ?? null]));
    const groups = new Map<number, RelayRecord[]>();
    const slice = new TimeSlice();
    for (const row of rows) {
      await slice.pause();
      if (row.group !== undefined) {
        const members = groups.get(row.group) ?? [];
        members.push(row);
        groups.set(row.group, members);
        continue;
      }
      count(tally, await this.settleOne(row, receipts.get(row.txHash!) ?? null, minedNonce, head));
    }
    for (const [group, members] of groups) {
      await slice.pause();
      const settled = await this.settleGroup(group, members, receipts.get(members[0]!.txHash!) ?? null, minedNonce, head);
      tally.confirmed += settled.confirmed;
      tally.refused += settled.refused;
    }
    return tally;
  }

  /** Settles the 'sent' rows of relay group `group` from its transaction; see the module comment. */
  private async settleGroup(
    group: number,
    rows: readonly RelayRecord[],
    receipt: TransactionReceipt | null,
    minedNonce: number,
    head: number,
  ): Promise<{ confirmed: number; refused: number }> {
    const tally = { confirmed: 0, refused: 0 };
    const txHash = rows[0]!.txHash!;
    const nonce = rows[0]!.nonce!;
    if (receipt !== null) {
      if (!this.final(receipt.blockNumber, head)) return tally;
      const calls = callsOfGroupTx(this.iface, (await this.storedGroup(group)).rawTx);
      const prepared = await Promise.all(rows.map((row) => this.prepare(row.index)));
      const settlements: RelaySettlement[] = [];
      if (receipt.status === 1) {
        for (const o of groupOutcomes(this.iface, this.address, calls, prepared, receipt.logs)) {
          if (o.outcome === "recorded") {
            settlements.push({ index: o.index, status: "confirmed", blockNumber: receipt.blockNumber });
            tally.confirmed++;
          } else if (o.outcome === "refused") {
            const error =
              `${o.refusal.text}; refused as call ${o.position + 1} of ${calls.length} of relayGroup transaction ${txHash}, ` +
              `so the actor's nonce was not spent`;
            settlements.push({ index: o.index, status: "refused", refusal: { errorName: o.refusal.name, error, blockNumber: receipt.blockNumber } });
            tally.refused++;
            this.logger.warn({ index: o.index, error, block: receipt.blockNumber }, "relay: event refused in its group");
          } else {
            const reason = `relayGroup transaction ${txHash} was mined in block ${receipt.blockNumber} without this event or its refusal`;
            settlements.push({ index: o.index, status: "pending", reason });
            this.logger.error({ index: o.index, txHash }, `relay: ${reason}; sending it again`);
          }
        }
      } else {
        const why = await this.replay(encodeGroup(this.iface, calls.map((data) => ({ data }))), receipt.blockNumber);
        const reason = `relayGroup transaction ${txHash} reverted in block ${receipt.blockNumber} (${why?.text ?? "without a contract error: out of gas?"})`;
        for (const row of rows) settlements.push({ index: row.index, status: "pending", reason });
        this.logger.warn({ group, txHash, reason }, "relay: group reverted as a whole; its events go back to pending");
      }
      await this.store.settleRelayRows(settlements, this.now());
      for (const row of rows) this.prepared.delete(row.index);
      return tally;
    }
    if (minedNonce > nonce) {
      // Lost (its nonce went to another transaction): each row is settled from the chain as a lost single row is.
      for (const row of rows) count(tally, await this.settleLost(row, head));
      return tally;
    }
    if ((await this.provider.getTransaction(txHash)) !== null) {
      await this.bumpGroupIfStuck(group, rows[0]!);
      return tally;
    }
    const err = await broadcast(this.provider, (await this.storedGroup(group)).rawTx);
    this.logger.warn({ group, txHash, nonce, err: err?.message }, "relay: group transaction unknown to the node; re-broadcast the stored bytes");
    return tally;
  }

  private async storedGroup(group: number): Promise<RelayGroup> {
    const stored = await this.store.relayGroup(group);
    if (stored === undefined) throw new Error(`relay: relay group ${group} is missing from the store`);
    return stored;
  }

  /** A group's transaction pending for `feeBumpAfterMs` is replaced, once for all its rows (see the module comment). */
  private async bumpGroupIfStuck(group: number, row: RelayRecord): Promise<void> {
    const stored = await this.storedGroup(group);
    const bumped = await this.feeBumper.bumpIfStuck(stored.feeBumps, stored.rawTx, stored.updatedAt, (next) =>
      this.store.replaceRelayTx(row.index, { rawTx: next.raw, txHash: next.hash }, this.now()),
    );
    if (bumped) {
      this.logger.warn(
        { group, calls: stored.calls, nonce: stored.nonce, replaced: stored.txHash, txHash: bumped.next.hash, bump: bumped.bump, err: bumped.error?.message },
        "relay: group transaction stuck; replaced at higher fees",
      );
    }
  }

  private async settleOne(row: RelayRecord, receipt: TransactionReceipt | null, minedNonce: number, head: number): Promise<string> {
    const txHash = row.txHash!;
    const nonce = row.nonce!;
    if (receipt !== null) {
      if (!this.final(receipt.blockNumber, head)) return "waiting";
      if (receipt.status === 1) {
        const p = await this.prepare(row.index);
        if (!receipt.logs.some((log) => this.isEventOf(p, log))) {
          this.logger.error({ index: row.index, txHash }, "relay: receipt lacks the expected event");
        }
        await this.store.markRelayConfirmed(row.index, receipt.blockNumber, this.now());
        this.forget(row.index);
        return "confirmed";
      }
      const p = await this.prepare(row.index);
      const replayed = await this.replay(p.data, receipt.blockNumber);
      if (replayed !== undefined) {
        await this.refuse(row.index, replayed, receipt.blockNumber);
        return "refused";
      }
      await this.store.resetRelay(row.index, `reverted in block ${receipt.blockNumber} without a contract error`, this.now());
      this.logger.warn({ index: row.index, txHash }, "relay: reverted without a contract error (out of gas?); resending");
      return "pending";
    }
    if (minedNonce > nonce) return this.settleLost(row, head);
    if ((await this.provider.getTransaction(txHash)) !== null) {
      await this.bumpIfStuck(row);
      return "waiting";
    }
    const err = await broadcast(this.provider, row.rawTx!);
    this.logger.warn(
      { index: row.index, txHash, nonce, err: err?.message },
      "relay: transaction unknown to the node; re-broadcast the stored bytes",
    );
    return "waiting";
  }

  /** Replaces a transaction pending for `feeBumpAfterMs` with the same one at higher fees (see the module comment). */
  private async bumpIfStuck(row: RelayRecord): Promise<void> {
    const bumped = await this.feeBumper.bumpIfStuck(row.feeBumps, row.rawTx!, row.updatedAt, (next) =>
      this.store.replaceRelayTx(row.index, { rawTx: next.raw, txHash: next.hash }, this.now()),
    );
    if (bumped) {
      this.logger.warn(
        { index: row.index, nonce: row.nonce, replaced: row.txHash, txHash: bumped.next.hash, bump: bumped.bump, err: bumped.error?.message },
        "relay: transaction stuck; replaced at higher fees",
      );
    }
  }

  /** Our transaction can never be mined (its nonce went to another one). Did the event reach the chain anyway? */
  private async settleLost(row: RelayRecord, head: number): Promise<string> {
    const p = await this.prepare(row.index);
    const used = (await this.contract.getFunction("nonceUsed")(p.actor, p.values.nonce)) as boolean;
    if (!used) {
      await this.store.resetRelay(row.index, `nonce ${row.nonce} was consumed by another transaction`, this.now());
      this.logger.warn({ index: row.index, txHash: row.txHash }, "relay: transaction lost; resending");
      return "pending";
    }
    const log = await this.findEvent(p);
    if (log === undefined) {
      await this.refuse(row.index, {
        name: "NonceAlreadyUsed",
        text: `NonceAlreadyUsed(${p.actor}, ${p.values.nonce})`,
      });
      return "refused";
    }
    if (!this.final(log.blockNumber, head)) return "waiting";
    await this.store.markRelayConfirmed(row.index, log.blockNumber, this.now(), log.transactionHash);
    this.forget(row.index);
    this.logger.info({ index: row.index, txHash: log.transactionHash }, "relay: event was recorded by another transaction");
    return "confirmed";
  }

  private isEventOf(p: Prepared, log: Log): boolean {
    if (log.address.toLowerCase() !== this.address.toLowerCase()) return false;
    let parsed;
    try {
      parsed = this.iface.parseLog(log);
    } catch {
      return false;
    }
    return (
      parsed !== null &&
      parsed.name === RELAY_CALLS[p.kind]?.event &&
      String(parsed.args.getValue("eventHash")).toLowerCase() === p.eventDigest
    );
  }

  private async findEvent(p: Prepared): Promise<Log | undefined> {
    const event = this.iface.getEvent(RELAY_CALLS[p.kind]!.event);
    if (event === null) return undefined;
    const logs = await this.provider.getLogs({
      address: this.address,
      topics: [event.topicHash, p.eventBatchId],
      fromBlock: this.fromBlock,
      toBlock: "latest",
    });
    return logs.find((log) => this.isEventOf(p, log));
  }

  /** The custom error the call `data` raises at the state after `blockNumber` (where the transaction reverted). */
  private async replay(data: string, blockNumber: number): Promise<DecodedError | undefined> {
    try {
      await this.provider.call({ from: await this.sender(), to: this.address, data, blockTag: blockNumber });
      return undefined;
    } catch (e) {
      return this.decode(e);
    }
  }
}
