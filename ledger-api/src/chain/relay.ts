/**
 * The relay: follows the log in order and submits every lifecycle (non-Observed) entry to ProvenanceLedger with its
 * actor's signature, from one RELAYER_ROLE account that pays the gas, so actors need none.
 *
 * Per entry, a relay row (store/chain-writers.ts) goes pending -> sent -> confirmed | refused:
 *   - ingest: a pass reads entries from the stored cursor and, in one transaction, inserts a 'pending' row per
 *     lifecycle entry and moves the cursor past them.
 *   - send, in log order: the entry's body gives the struct values (protocol/entry-body.ts); they must hash to the entry's
 *     signed EIP-712 digest, or the row is refused as RelayBodyInvalid without a transaction. The call is simulated
 *     (eth_estimateGas): a custom error there refuses the row with that error, no gas spent. Otherwise the call is
 *     signed with the next explicit nonce, the row is stored 'sent' {nonce, tx hash, raw tx}, and only then the raw
 *     bytes are broadcast.
 *   - settle: a mined success with `confirmations` blocks (on the local chain also held by a durable snapshot;
 *     finality.ts) -> 'confirmed' (block). A mined revert -> 'refused' with the
 *     custom error the call raises when replayed at that block (e.g. "BatchRecalled(0x.., 0x..)").
 *
 * Order. Nonces are sequential from one account, so transactions mine in log order. Up to `maxInFlight` transactions
 * are pipelined, but an entry is only sent (or simulated) once no in-flight entry touches one of its batches (its
 * batch, new batch ids, split children, merge parents): a PesticideApplied is simulated after the Registered of its
 * batch is mined, so a dependent entry is never refused because its predecessor had not landed yet. A refused entry
 * does not stop the ones after it.
 *
 * Crash safety. A crash after broadcast but before the outcome is stored leaves a 'sent' row; on the next start,
 * before sending anything, each is settled from the chain instead of resent blindly: a receipt decides it; a
 * transaction still pending is waited for; one unknown to the node whose nonce is still free is re-broadcast as the
 * SAME bytes (same nonce, so it cannot land twice); one whose nonce another transaction consumed is settled by the
 * actor's `nonceUsed` and the event log: the event with this eventHash on chain -> 'confirmed' (by whoever sent it,
 * e.g. the actor directly), the nonce spent by a different event -> refused NonceAlreadyUsed, the nonce unspent ->
 * back to 'pending' and sent again. In every case the contract's per-actor nonce is the last line of defence: a
 * replayed event reverts with NonceAlreadyUsed and is never applied twice.
 *
 * Fees. A transaction still pending in the node `feeBumpAfterMs` after it was stored is replaced: same nonce and
 * call, fees raised by 12.5% (or to the network's current ones), stored in the row before it is broadcast, at most
 * `maxFeeBumps` times per row in this process. If the replaced copy lands instead, the new hash never gets a receipt,
 * its nonce is consumed, and the row is settled from the event log like any transaction whose nonce went elsewhere.
 *
 * Not covered: reorgs deeper than `confirmations` (chain/recovery.ts redoes what such a reorg, or a lost local chain,
 * took away); a mined revert that replays cleanly (e.g. out of gas) is put back
 * to 'pending' and re-sent, which may then land after entries that followed it in the log.
 */
import { Contract, Interface, getAddress } from "ethers";
import type { Log, Provider, Signer } from "ethers";
import { decodeEntry } from "../log/entry.ts";
import type { RelayRecord, RelayStore } from "../store/chain-writers.ts";
import type { LogStore } from "../store/store.ts";
import { isFinal, type DurableBlock } from "./finality.ts";
import { PollLoop } from "./poll-loop.ts";
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
  /** Most transactions sent and not yet settled. Default 16. */
  readonly maxInFlight?: number;
  /** Pause between passes of the background loop. Default 500 ms. */
  readonly pollMs?: number;
  /** Most log entries ingested per pass (Observed ones count, but cost only the store's scan). Default 5,000. */
  readonly ingestBatch?: number;
  /** First block to search for events recorded by someone else (the ledger's deploy block). Default 0. */
  readonly fromBlock?: number;
  /** Replace a transaction still pending this long after it was stored, at higher fees. Default 60 s; 0: never. */
  readonly feeBumpAfterMs?: number;
  /** Most replacements per row (each raises the fees by 12.5%). Default 8. */
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
interface Prepared {
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
  private readonly feeBumper: FeeBumper;
  private readonly pollMs: number;
  private readonly ingestBatch: number;
  private readonly fromBlock: number;
  private readonly durableBlock: DurableBlock | undefined;
  private lastProgressAt: number;

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
    this.pollMs = posInt("pollMs", options.pollMs ?? 500, 1);
    this.loop = new PollLoop("relay", () => this.syncOnce(), this.pollMs, this.logger);
    this.ingestBatch = posInt("ingestBatch", options.ingestBatch ?? 5000, 1);
    this.fromBlock = posInt("fromBlock", options.fromBlock ?? 0, 0);
    this.durableBlock = options.durableBlock;
    this.lastProgressAt = this.clock.now();
    this.feeBumper = new FeeBumper(
      this.signer,
      { afterMs: posInt("feeBumpAfterMs", options.feeBumpAfterMs ?? 60_000, 0), maxBumps: posInt("maxFeeBumps", options.maxFeeBumps ?? 8, 0) },
      this.clock,
    );
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
      touched,
      eventBatchId: primary,
    };
    this.prepared.set(index, prepared);
    return prepared;
  }

  private forget(index: number): void {
    this.prepared.delete(index);
    this.feeBumper.forget(index);
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

  /** Sends pending rows in log order; stops at the first one that must wait for an in-flight transaction. */
  private async sendPending(): Promise<{ sent: number; refused: number }> {
    const inFlight = await this.store.relayRows("sent", this.maxInFlight);
    const busy = new Set<string>();
    for (const row of inFlight) for (const id of (await this.prepare(row.index)).touched) busy.add(id);
    let slots = this.maxInFlight - inFlight.length;
    let sent = 0;
    let refused = 0;
    let nonce: number | undefined;
    const from = await this.sender();
    for (const row of await this.store.relayRows("pending", 4 * this.maxInFlight)) {
      if (slots <= 0) break;
      let p: Prepared;
      try {
        p = await this.prepare(row.index);
      } catch (e) {
        if (!(e instanceof Unrelayable)) throw e;
        await this.refuse(row.index, e.refusal);
        refused++;
        continue;
      }
      if ([...p.touched].some((id) => busy.has(id))) break; // keep log order within a batch's history
      let gas: bigint;
      try {
        gas = await this.provider.estimateGas({ from, to: this.address, data: p.data });
      } catch (e) {
        const decoded = this.decode(e);
        if (decoded === undefined) throw e; // not the contract's answer (node down, ...): retry next pass
        await this.refuse(row.index, decoded);
        refused++;
        continue;
      }
      nonce ??= await this.nextNonce();
      // Headroom: the estimate ran against state that in-flight transactions of other batches may still change.
      const signed = await signTx(this.signer, { to: this.address, data: p.data, gasLimit: (gas * 13n) / 10n + 20_000n }, nonce);
      await this.store.markRelaySent(row.index, { nonce, txHash: signed.hash, rawTx: signed.raw }, this.now());
      const err = await broadcast(this.provider, signed.raw);
      if (err !== undefined) this.logger.warn({ index: row.index, err: err.message }, "relay broadcast failed; settle retries");
      this.logger.info({ index: row.index, kind: p.kind, nonce, txHash: signed.hash }, "relay: sent");
      for (const id of p.touched) busy.add(id);
      nonce++;
      slots--;
      sent++;
    }
    return { sent, refused };
  }

  private decode(e: unknown): DecodedError | undefined {
    const data = revertDataOf(e);
    return data === undefined ? undefined : decodeRevert(this.iface, data);
  }

  /** Settles every 'sent' row from the chain; see the module comment for the rules. */
  private async settleSent(): Promise<{ confirmed: number; refused: number }> {
    const rows = await this.store.relayRows("sent");
    let confirmed = 0;
    let refused = 0;
    if (rows.length === 0) return { confirmed, refused };
    // Read the mined nonce BEFORE any receipt: a transaction without a receipt after its nonce was consumed can
    // never be mined any more.
    const minedNonce = await this.provider.getTransactionCount(await this.sender(), "latest");
    const head = await this.provider.getBlockNumber();
    for (const row of rows) {
      const outcome = await this.settleOne(row, minedNonce, head);
      if (outcome === "confirmed") confirmed++;
      if (outcome === "refused") refused++;
    }
    return { confirmed, refused };
  }

  private async settleOne(row: RelayRecord, minedNonce: number, head: number): Promise<string> {
    const txHash = row.txHash!;
    const nonce = row.nonce!;
    const receipt = await this.provider.getTransactionReceipt(txHash);
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
      const replayed = await this.replay(p, receipt.blockNumber);
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
    const bumped = await this.feeBumper.bumpIfStuck(row.index, row.rawTx!, row.updatedAt, (next) =>
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

  /** The custom error the call raises at the state after `blockNumber` (where the transaction reverted). */
  private async replay(p: Prepared, blockNumber: number): Promise<DecodedError | undefined> {
    try {
      await this.provider.call({ from: await this.sender(), to: this.address, data: p.data, blockTag: blockNumber });
      return undefined;
    } catch (e) {
      return this.decode(e);
    }
  }
}
