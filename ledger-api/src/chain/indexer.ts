/**
 * The chain indexer: follows the ProvenanceLedger and LogAnchor events (roles on both, profiles, every lifecycle event
 * and its lineage, anchors) into the store's index, which ingest and queries read instead of the chain.
 *
 * What it guarantees:
 * - Only confirmed blocks are indexed: a block is indexed once `confirmations` blocks sit on top of it
 *   (block <= head - confirmations) and, on the local chain, once a durable snapshot holds it (finality.ts). A reorg
 *   no deeper than `confirmations`, or a crash of the local chain, therefore never touches indexed data.
 * - The index moves forward one block range at a time (`batchBlocks` blocks, one `eth_getLogs` for both contracts),
 *   each applied with its cursor in ONE store transaction: after a crash the index is exactly "every event up to the
 *   cursor block", and a restarted indexer continues after the cursor, indexing nothing twice.
 * - The cursor stores its block's hash. Every poll first checks that the chain still has that block with that hash,
 *   and every range checks that it links to the cursor (its first block's parentHash) and that the chain did not
 *   change under the range while it was read. On any mismatch, i.e. a reorg deeper than `confirmations`, a chain
 *   reset (a wiped local node), another chain behind the RPC URL or another contract set in the store, the indexer
 *   HALTS: it writes nothing more, `status().error` names what happened, `syncOnce` rejects with IndexerHaltedError,
 *   and it stays halted until an operator acts (see the error's message) or, in local mode, the recovery
 *   (chain/recovery.ts, through `onHalt` and `resume`) rebuilds the index. It never indexes a forked history silently
 *   and never rewinds on its own: rows derived from a dropped block would otherwise be served as facts.
 *
 * Transient failures (an RPC timeout, a refused connection) are not halts: the poll is retried at the next interval
 * and `status().lastPollError` shows it. Nothing is written by a failed poll except whole ranges completed before it.
 *
 * Cost: per range, one eth_getLogs, three block headers (range start, range end before and after the logs), one
 * eth_getTransactionByHash per transaction that recorded a lifecycle event (for the actor's nonce and the GS1 keys
 * of split / merged children, which the events do not carry) and one header per block holding an anchor (its
 * timestamp). Batch state is derived from the events by the contract's rules (index-reducer.ts), never read back.
 */
import type { Block, Log, Provider, TransactionResponse } from "ethers";
import type { ChainBatch, ChainCursor, IndexedBatch, IndexStore } from "../store/store.ts";
import { contractSetKey, IndexCursorConflictError } from "../store/store.ts";
import { EventDecoder } from "./chain-events.ts";
import type { ChainEvent, DecodedCall } from "./chain-events.ts";
import type { Deployments } from "./contracts.ts";
import { batchesNeeded, IndexInconsistentError, reduceRange } from "./index-reducer.ts";
import { finalBlock, type DurableBlock } from "./finality.ts";
import { ledgerDomain } from "../protocol/typed-data.ts";
import { TimeSlice } from "./time-slice.ts";

/** pino-compatible (Fastify's `app.log` fits), so the service passes its own logger. */
export interface IndexerLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface IndexerOptions {
  readonly provider: Provider;
  readonly deployments: Deployments;
  readonly store: IndexStore;
  /** Blocks that must sit on top of a block before it is indexed; the deepest reorg tolerated. */
  readonly confirmations: number;
  /** Pause between polls of `start()`. */
  readonly pollIntervalMs: number;
  /** Most blocks per eth_getLogs range (and per store transaction). */
  readonly batchBlocks: number;
  readonly logger?: IndexerLogger;
  /** Local chain: the newest block a durable snapshot holds; nothing after it is indexed (finality.ts). */
  readonly durableBlock?: DurableBlock;
  /** Called once when the indexer halts (e.g. so local mode can recover; see chain/recovery.ts). */
  readonly onHalt?: (err: IndexerHaltedError) => void;
}

/** Why the indexer halted. */
export type IndexerHaltCode =
  /** The cursor block's hash changed: a reorg deeper than `confirmations` replaced indexed blocks. */
  | "REORG_BELOW_CURSOR"
  /** The chain no longer reaches the cursor block: a reset (wiped local node) or a rollback. */
  | "CHAIN_BEHIND_CURSOR"
  /** The chain changed under a range while it was read (a reorg deeper than `confirmations`, in flight). */
  | "RANGE_NOT_CANONICAL"
  /** The RPC endpoint serves another chain id than the deployments file names. */
  | "WRONG_CHAIN"
  /** The store indexes another contract set than the deployments file names. */
  | "OTHER_CONTRACTS"
  /** No contract code at a deployments address. */
  | "NO_CONTRACT_CODE"
  /** Another indexer moved the cursor of this store. */
  | "CURSOR_CONFLICT"
  /** The events contradict the stored index (e.g. they name a batch it does not hold). */
  | "INDEX_INCONSISTENT";

export class IndexerHaltedError extends Error {
  readonly code: IndexerHaltCode;
  constructor(code: IndexerHaltCode, message: string) {
    super(`indexer halted (${code}): ${message}`);
    this.name = "IndexerHaltedError";
    this.code = code;
  }
}

export interface IndexerStatus {
  readonly running: boolean;
  /** Last indexed block (and its hash); undefined before the first range. */
  readonly cursor: ChainCursor | undefined;
  /** Chain head at the last poll. */
  readonly head: number | undefined;
  /** Newest indexable block at the last poll: head - confirmations. */
  readonly safeHead: number | undefined;
  /** Confirmed blocks not indexed yet: safeHead - cursor (0 when caught up). */
  readonly lag: number | undefined;
  /** Set once the indexer halted; it indexes nothing more until restarted after an operator's fix. */
  readonly error: { readonly code: IndexerHaltCode; readonly message: string; readonly at: number } | undefined;
  /** The last transient poll failure, cleared by the next successful poll. */
  readonly lastPollError: string | undefined;
}

export interface SyncResult {
  /** Block ranges applied by this call. */
  readonly ranges: number;
  readonly events: number;
  readonly cursor: ChainCursor | undefined;
}

const SILENT: IndexerLogger = { info() {}, warn() {}, error() {} };

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`indexer: ${name} must be an integer >= ${min}, got ${value}`);
}

export class Indexer {
  private readonly provider: Provider;
  private readonly deployments: Deployments;
  private readonly store: IndexStore;
  private readonly confirmations: number;
  private readonly pollIntervalMs: number;
  private readonly batchBlocks: number;
  private readonly log: IndexerLogger;
  private readonly decoder: EventDecoder;
  private readonly contracts: string;
  private readonly durableBlock: DurableBlock | undefined;
  private readonly onHalt: ((err: IndexerHaltedError) => void) | undefined;

  private checkedSetup = false;
  private halted: IndexerHaltedError | undefined;
  private haltedAt = 0;
  private lastPollError: string | undefined;
  private head: number | undefined;
  private cursorCache: ChainCursor | undefined;
  /** The running sync; syncs never overlap. */
  private syncing: Promise<SyncResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(options: IndexerOptions) {
    checkInt("confirmations", options.confirmations, 0);
    checkInt("pollIntervalMs", options.pollIntervalMs, 1);
    checkInt("batchBlocks", options.batchBlocks, 1);
    checkInt("deployments.deployBlock", options.deployments.deployBlock, 0);
    this.provider = options.provider;
    this.deployments = options.deployments;
    this.store = options.store;
    this.confirmations = options.confirmations;
    this.pollIntervalMs = options.pollIntervalMs;
    this.batchBlocks = options.batchBlocks;
    this.log = options.logger ?? SILENT;
    this.durableBlock = options.durableBlock;
    this.onHalt = options.onHalt;
    this.decoder = new EventDecoder(options.deployments.ledger, options.deployments.anchor);
    this.contracts = contractSetKey(options.deployments.chainId, options.deployments.ledger, options.deployments.anchor);
  }

  status(): IndexerStatus {
    const safeHead = this.head === undefined ? undefined : finalBlock(this.head, this.confirmations, this.durableBlock);
    const from = this.cursorCache?.blockNumber ?? this.deployments.deployBlock - 1;
    return {
      running: this.running,
      cursor: this.cursorCache,
      head: this.head,
      safeHead,
      lag: safeHead === undefined ? undefined : Math.max(0, safeHead - from),
      error: this.halted && { code: this.halted.code, message: this.halted.message, at: this.haltedAt },
      lastPollError: this.lastPollError,
    };
  }

  /** Polls every `pollIntervalMs` until `stop()` or a halt. Resolves at once; check `status()` for progress. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = async (): Promise<void> => {
      this.timer = undefined;
      try {
        await this.syncOnce();
      } catch (e) {
        if (e instanceof IndexerHaltedError) {
          this.running = false;
          return; // logged by halt(); polling stops for good
        }
        this.lastPollError = e instanceof Error ? e.message : String(e);
        this.log.warn({ err: this.lastPollError }, "indexer poll failed; retrying at the next interval");
      }
      if (this.running) this.timer = setTimeout(() => void (this.loop = tick()), this.pollIntervalMs);
    };
    this.loop = tick();
  }

  /**
   * Clears a halt once its cause is fixed (chain/recovery.ts rebuilt the index for the chain as it is now): the next
   * sync checks the chain, the contracts and the cursor again from scratch. Only while stopped.
   */
  resume(): void {
    if (this.running) throw new Error("indexer: resume() while running; stop() first");
    this.halted = undefined;
    this.haltedAt = 0;
    this.checkedSetup = false;
    this.cursorCache = undefined;
    this.head = undefined;
  }

  /** Stops polling and waits for a running range to finish (ranges are never cut short). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.loop;
    await this.syncing?.catch(() => undefined);
  }

  /**
   * Indexes every block confirmed now, range by range, and resolves with what it applied. Rejects with
   * IndexerHaltedError once halted (then and on every later call), or with the RPC / store error of a transient
   * failure (ranges completed before it stay applied). Concurrent calls share one sync.
   */
  syncOnce(): Promise<SyncResult> {
    if (this.syncing === undefined) {
      this.syncing = this.sync().finally(() => {
        this.syncing = undefined;
      });
    }
    return this.syncing;
  }

  private async sync(): Promise<SyncResult> {
    if (this.halted) throw this.halted;
    let cursor = await this.store.cursor();
    this.cursorCache = cursor;
    if (!this.checkedSetup) await this.checkSetup(cursor);
    const head = await this.provider.getBlockNumber();
    this.head = head;
    if (cursor !== undefined) await this.checkCursor(cursor, head);
    const safeHead = finalBlock(head, this.confirmations, this.durableBlock);
    let ranges = 0;
    let events = 0;
    let from = cursor === undefined ? this.deployments.deployBlock : cursor.blockNumber + 1;
    while (from <= safeHead) {
      const to = Math.min(from + this.batchBlocks - 1, safeHead);
      const batch = await this.readRange(cursor, from, to);
      try {
        await this.store.applyChainBatch(batch);
      } catch (e) {
        if (e instanceof IndexCursorConflictError) throw this.halt("CURSOR_CONFLICT", `${e.message}; is a second indexer writing to this store?`);
        throw e;
      }
      const n = batch.events.length + batch.anchors.length + batch.roleChanges.length + batch.profiles.length;
      this.log.info({ from, to, events: n, blockHash: batch.cursor.blockHash }, "indexed block range");
      cursor = batch.cursor;
      this.cursorCache = cursor;
      ranges++;
      events += n;
      from = to + 1;
    }
    this.lastPollError = undefined;
    return { ranges, events, cursor };
  }

  /** Once per instance: the RPC serves the deployments' chain, the store indexes these contracts, code exists. */
  private async checkSetup(cursor: ChainCursor | undefined): Promise<void> {
    const { chainId } = await this.provider.getNetwork();
    if (Number(chainId) !== this.deployments.chainId) {
      throw this.halt("WRONG_CHAIN", `the RPC endpoint serves chain ${chainId}, the deployments file names chain ${this.deployments.chainId}`);
    }
    if (cursor !== undefined && cursor.contracts !== this.contracts) {
      throw this.halt(
        "OTHER_CONTRACTS",
        `the store indexes ${cursor.contracts}, the deployments file names ${this.contracts}; ` +
          `point the service at the data directory of these contracts, or reset the index to rebuild it for them`,
      );
    }
    for (const [name, address] of [["ledger", this.deployments.ledger], ["anchor", this.deployments.anchor]] as const) {
      const code = await this.provider.getCode(address);
      if (code === "0x") {
        // With a cursor, a missing contract means the chain was reset under the index; say so rather than "no code".
        if (cursor !== undefined) await this.checkCursor(cursor, await this.provider.getBlockNumber());
        throw this.halt("NO_CONTRACT_CODE", `no contract code at the ${name} address ${address} on chain ${chainId}; is the deployments file for this chain?`);
      }
    }
    this.checkedSetup = true;
  }

  /** The chain still holds the cursor block with the stored hash. */
  private async checkCursor(cursor: ChainCursor, head: number): Promise<void> {
    const remedy =
      `The index was not changed. If the chain lost these blocks (a reset, a rollback, a reorg this deep), stop the ` +
      `service and run \`npm run recover\` (local mode recovers by itself): it rebuilds the index from block ` +
      `${this.deployments.deployBlock} and has the relay and the anchorer redo what the chain lost; if reorgs this deep ` +
      `are expected, also raise CONFIRMATIONS (now ${this.confirmations}).`;
    if (head < cursor.blockNumber) {
      throw this.halt(
        "CHAIN_BEHIND_CURSOR",
        `the chain's head is block ${head}, but the index already holds block ${cursor.blockNumber} (${cursor.blockHash}): ` +
          `the chain was reset or rolled back under the index. ${remedy}`,
      );
    }
    const block = await this.provider.getBlock(cursor.blockNumber);
    if (block === null) {
      throw this.halt("CHAIN_BEHIND_CURSOR", `the chain has no block ${cursor.blockNumber}, which the index holds (${cursor.blockHash}). ${remedy}`);
    }
    if (block.hash?.toLowerCase() !== cursor.blockHash) {
      throw this.halt(
        "REORG_BELOW_CURSOR",
        `block ${cursor.blockNumber} is now ${block.hash}, but the index holds ${cursor.blockHash}: a reorg deeper than ` +
          `${this.confirmations} confirmations (or a reset chain) replaced indexed blocks. ${remedy}`,
      );
    }
  }

  /** Reads and reduces blocks [from, to] into one ChainBatch built on `previous`. */
  private async readRange(previous: ChainCursor | undefined, from: number, to: number): Promise<ChainBatch> {
    const [first, last] = await Promise.all([this.block(from), this.block(to)]);
    if (previous !== undefined && first.parentHash.toLowerCase() !== previous.blockHash) {
      throw this.halt(
        "REORG_BELOW_CURSOR",
        `block ${from}'s parent is ${first.parentHash}, but the index holds block ${previous.blockNumber} as ${previous.blockHash}`,
      );
    }
    const logs = await this.provider.getLogs({
      address: [this.deployments.ledger, this.deployments.anchor],
      fromBlock: from,
      toBlock: to,
    });
    const lastAgain = await this.block(to);
    const known = new Map<number, string>([
      [from, this.hashOf(first)],
      [to, this.hashOf(last)],
    ]);
    if (this.hashOf(lastAgain) !== this.hashOf(last)) {
      throw this.halt("RANGE_NOT_CANONICAL", `block ${to} changed from ${last.hash} to ${lastAgain.hash} while blocks ${from}..${to} were read`);
    }
    const events: ChainEvent[] = [];
    for (const log of this.sorted(logs)) {
      this.checkLog(log, from, to, known);
      const event = this.decoder.decode(log);
      if (event !== undefined) events.push(event);
    }
    const calls = await this.decodeCalls(events);
    const blockTimes = new Map<number, number>();
    const anchorBlocks = [...new Set(events.filter((e) => e.type === "Anchored").map((e) => e.blockNumber))];
    for (const block of await Promise.all(anchorBlocks.map((n) => this.block(n)))) {
      this.checkBlock(block, known);
      blockTimes.set(block.number, block.timestamp);
    }
    const stored = new Map<string, IndexedBatch>();
    for (const id of batchesNeeded(events)) {
      const b = await this.store.batch(id);
      if (b !== undefined) stored.set(id, b);
    }
    const cursor: ChainCursor = { contracts: this.contracts, blockNumber: to, blockHash: this.hashOf(last) };
    try {
      return reduceRange({ previous, cursor, events, calls, blockTimes, stored });
    } catch (e) {
      if (e instanceof IndexInconsistentError) throw this.halt("INDEX_INCONSISTENT", e.message);
      throw e;
    }
  }

  /** Decodes the calldata of every lifecycle transaction of the range, fetched concurrently (one JSON-RPC batch). */
  private async decodeCalls(events: readonly ChainEvent[]): Promise<Map<string, DecodedCall>> {
    const lifecycle = events.filter((e) => e.type === "Lifecycle");
    const hashes = [...new Set(lifecycle.map((e) => e.txHash))];
    const txs = new Map<string, TransactionResponse>();
    await Promise.all(
      hashes.map(async (h) => {
        const tx = await this.provider.getTransaction(h);
        if (tx === null) throw this.halt("RANGE_NOT_CANONICAL", `transaction ${h} of an indexed log is unknown to the chain`);
        txs.set(h, tx);
      }),
    );
    const domain = ledgerDomain(BigInt(this.deployments.chainId), this.deployments.ledger);
    const calls = new Map<string, DecodedCall>();
    const slice = new TimeSlice();
    for (const e of lifecycle) {
      await slice.pause();
      const call = this.decoder.decodeCall(txs.get(e.txHash)!, domain, e.eventHash);
      if (call !== undefined) calls.set(e.eventHash, call);
      else this.log.warn({ eventHash: e.eventHash, txHash: e.txHash }, "lifecycle call not decodable (made through a contract?): nonce and child GS1 keys unknown");
    }
    return calls;
  }

  private sorted(logs: readonly Log[]): Log[] {
    return [...logs].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  }

  /** A log is inside the range and agrees with every block hash seen for its height. */
  private checkLog(log: Log, from: number, to: number, known: Map<number, string>): void {
    if (log.removed) throw this.halt("RANGE_NOT_CANONICAL", `eth_getLogs returned a removed log in block ${log.blockNumber}`);
    if (log.blockNumber < from || log.blockNumber > to) {
      throw new Error(`eth_getLogs for blocks ${from}..${to} returned a log of block ${log.blockNumber}`);
    }
    const hash = log.blockHash.toLowerCase();
    const seen = known.get(log.blockNumber);
    if (seen === undefined) known.set(log.blockNumber, hash);
    else if (seen !== hash) {
      throw this.halt("RANGE_NOT_CANONICAL", `block ${log.blockNumber} was seen as ${seen} and as ${hash} while blocks ${from}..${to} were read`);
    }
  }

  private checkBlock(block: Block, known: Map<number, string>): void {
    const seen = known.get(block.number);
    if (seen !== undefined && seen !== this.hashOf(block)) {
      throw this.halt("RANGE_NOT_CANONICAL", `block ${block.number} was seen as ${seen} and as ${block.hash}`);
    }
  }

  private async block(n: number): Promise<Block> {
    const block = await this.provider.getBlock(n);
    if (block === null) throw new Error(`the chain has no block ${n} although its head was past it`);
    return block;
  }

  private hashOf(block: Block): string {
    if (block.hash === null) throw new Error(`block ${block.number} has no hash (pending?)`);
    return block.hash.toLowerCase();
  }

  private halt(code: IndexerHaltCode, message: string): IndexerHaltedError {
    if (this.halted === undefined) {
      this.halted = new IndexerHaltedError(code, message);
      this.haltedAt = Date.now();
      this.log.error({ code, cursor: this.cursorCache, head: this.head }, this.halted.message);
      this.onHalt?.(this.halted);
    }
    return this.halted;
  }
}
