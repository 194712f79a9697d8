/**
 * The anchorer: commits the log's (size, root) to the LogAnchor contract, every `every` entries or when the oldest
 * unanchored entry is `intervalMs` old, whichever comes first, and each anchor exactly once across crashes.
 *
 * Exactly once. An anchor is an intent row (store/chain-writers.ts) before it is a transaction:
 *   1. build: read the chain's latest anchor (size m, root) and ONE store checkpoint (size n, root); the consistency
 *      proof goes from the chain's (m, root), never from a remembered or assumed one, to (n, root). Size and root
 *      come from the same checkpoint because a proof binds the size only through the tree's shape (LogAnchor.sol).
 *   2. sign the call with an explicit nonce and store {size, root, previous, nonce, raw tx, tx hash, 'sent'} in one
 *      committed transaction; at most one intent is 'sent' (the store refuses a second).
 *   3. broadcast the stored raw bytes.
 *   4. settle: once the chain holds an anchor of exactly `size` with `root`, K blocks deep -> 'confirmed' (with its
 *      block). If the transaction reverted, or its nonce was consumed by another transaction while it was not
 *      mined -> 'failed', and the next pass builds a new intent from the current log. If the node does not know the
 *      transaction and its nonce is still free -> re-broadcast the SAME raw bytes: same nonce, same hash, so at most
 *      one of the copies can ever be mined.
 * A crash anywhere leaves either no intent (nothing was sent: nothing signed was ever broadcast), or a 'sent' intent
 * whose bytes step 4 settles on the next start, before anything new is signed. So no anchor is lost (the intent is
 * re-sent or rebuilt) and none lands twice (one nonce per intent, a new intent only after the old one can no longer
 * land).
 *
 * Fees. A transaction still pending in the node `feeBumpAfterMs` after it was stored is replaced: the same nonce and
 * call, fees raised by 12.5% (or to the network's current ones), stored in the intent before it is broadcast, at most
 * `maxFeeBumps` times per intent (counted in the intent, so a restart or a new leader continues the count).
 * Whichever of the copies lands anchors the same (size, root), and step 4 settles the intent from the contract's
 * state, so a bump cannot make an anchor land twice.
 *
 * What this does not cover: reorgs deeper than `confirmations` (a confirmed anchor is never re-checked; chain/
 * recovery.ts fails the intents such a reorg, or a lost local chain, took away, and anchoring resumes from the chain); another
 * process anchoring with its own nonces into the same contract (its anchors are simply read as the chain's latest,
 * but two anchorers race each other's proofs; run one).
 */
import { Contract, Interface, hexlify } from "ethers";
import type { Provider, Signer } from "ethers";
import { bytesToHex, EMPTY_ROOT } from "../log/hash.ts";
import { consistencyProof, root as rootOfSize } from "../log/merkle.ts";
import type { AnchorIntent, AnchorStore } from "../store/chain-writers.ts";
import type { LogStore } from "../store/store.ts";
import {
  broadcast,
  FeeBumper,
  decodeRevert,
  providerOf,
  revertDataOf,
  signTx,
  silentLogger,
  sleep,
  systemClock,
} from "./transactions.ts";
import { isFinal, type DurableBlock } from "./finality.ts";
import { PollLoop } from "./poll-loop.ts";
import { assertHoldsRole } from "./transactions.ts";
import type { ChainLogger, Clock, ContractRef } from "./transactions.ts";

export interface AnchorerOptions {
  readonly store: LogStore & AnchorStore;
  readonly anchorContract: ContractRef;
  /** Holds ANCHORER_ROLE; its own account (the anchorer owns every nonce of it), with a local key (a Wallet). */
  readonly signer: Signer;
  /** Anchor once at least this many entries are unanchored ... */
  readonly every: number;
  /** ... or once the oldest unanchored entry is this old (ms), whichever comes first. */
  readonly intervalMs: number;
  /** Blocks (including the anchor's) before an anchor counts as final. */
  readonly confirmations: number;
  readonly logger?: ChainLogger;
  readonly clock?: Clock;
  /** Pause between passes of the background loop. Default: min(1000, intervalMs / 4), at least 20. */
  readonly pollMs?: number;
  /** Replace a transaction still pending this long after it was stored, at higher fees. Default 60 s; 0: never. */
  readonly feeBumpAfterMs?: number;
  /** Most replacements per intent (each raises the fees by 12.5%). Default 8 (about 2.6 times the first fees). */
  readonly maxFeeBumps?: number;
  /** Local chain: the newest block a durable snapshot holds; no anchor after it counts as final (finality.ts). */
  readonly durableBlock?: DurableBlock;
}

/** The chain's latest anchor, or size 0 with the empty root before the first. */
export interface ChainHead {
  readonly size: number;
  readonly root: string;
  readonly anchorIndex: number | undefined;
  readonly blockNumber: number | undefined;
}

export interface AnchorerStatus {
  /** The chain's latest anchored size, as last read. */
  readonly anchoredSize: number;
  readonly logSize: number;
  /** Entries not covered by the chain's latest anchor. */
  readonly lagEntries: number;
  /** Age of the oldest unanchored entry (0 when none). */
  readonly lagMs: number;
  readonly pending: AnchorIntent | undefined;
  readonly running: boolean;
}

/** The log and the chain disagree about history: anchoring must stop until an operator looks. */
export class AnchorMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AnchorMismatchError";
  }
}

interface ValidOptions {
  readonly every: number;
  readonly intervalMs: number;
  readonly confirmations: number;
  readonly pollMs: number;
  readonly feeBumpAfterMs: number;
  readonly maxFeeBumps: number;
}

function validate(o: AnchorerOptions): ValidOptions {
  const posInt = (name: string, v: number, min: number): number => {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`anchorer ${name} must be an integer >= ${min}: ${v}`);
    return v;
  };
  const intervalMs = posInt("intervalMs", o.intervalMs, 1);
  return {
    every: posInt("every", o.every, 1),
    intervalMs,
    confirmations: posInt("confirmations", o.confirmations, 1),
    pollMs: posInt("pollMs", o.pollMs ?? Math.max(20, Math.min(1000, Math.floor(intervalMs / 4))), 1),
    feeBumpAfterMs: posInt("feeBumpAfterMs", o.feeBumpAfterMs ?? 60_000, 0),
    maxFeeBumps: posInt("maxFeeBumps", o.maxFeeBumps ?? 8, 0),
  };
}

const hex = (b: Uint8Array): string => bytesToHex(b).toLowerCase();

export class Anchorer {
  private readonly store: LogStore & AnchorStore;
  private readonly signer: Signer;
  private readonly provider: Provider;
  private readonly iface: Interface;
  private readonly contract: Contract;
  private readonly address: string;
  private readonly logger: ChainLogger;
  private readonly clock: Clock;
  private readonly opts: ValidOptions;

  private head: ChainHead = { size: 0, root: hex(EMPTY_ROOT), anchorIndex: undefined, blockNumber: undefined };
  /** Serializes passes: the loop, anchorNow() and tick() never interleave. */
  private readonly loop: PollLoop;
  private from: string | undefined;
  private readonly feeBumper: FeeBumper;
  private readonly durableBlock: DurableBlock | undefined;

  constructor(options: AnchorerOptions) {
    this.opts = validate(options);
    this.store = options.store;
    this.signer = options.signer;
    this.provider = providerOf(options.signer);
    this.iface = new Interface(options.anchorContract.abi);
    this.address = options.anchorContract.address;
    this.contract = new Contract(this.address, this.iface, this.provider);
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.durableBlock = options.durableBlock;
    this.feeBumper = new FeeBumper(this.signer, { afterMs: this.opts.feeBumpAfterMs, maxBumps: this.opts.maxFeeBumps }, this.clock);
    this.loop = new PollLoop("anchorer", () => this.tick(), this.opts.pollMs, this.logger);
  }

  /**
   * Checks the role, reconciles any stored intent with the chain (before anything new is signed or sent), then runs
   * the anchoring loop in the background. Rejects, without starting the loop, if the signer lacks ANCHORER_ROLE or
   * the chain's latest anchor is not a root of this log.
   */
  async start(): Promise<void> {
    if (this.loop.running) return;
    await assertHoldsRole(this.contract, "ANCHORER_ROLE", await this.sender());
    await this.loop.serialize(() => this.reconcile());
    this.loop.start();
  }

  /** Stops the loop and waits for the running pass. A 'sent' intent stays stored for the next start. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /**
   * One pass: settle the intent in flight; if none is left in flight and the policy says so (or `force` and there
   * is anything unanchored), build, store and broadcast a new one. Does not wait for mining.
   * Returns the intent in flight after the pass, if any.
   */
  tick(options: { force?: boolean } = {}): Promise<AnchorIntent | undefined> {
    return this.loop.serialize(() => this.pass(options.force ?? false));
  }

  /**
   * Anchors everything logged so far, ignoring the policy, and resolves with the confirmed intent covering it (or the
   * chain head if the chain already covers the log). Polls until confirmed or `timeoutMs` passes.
   */
  async anchorNow(timeoutMs = 30_000): Promise<AnchorIntent | ChainHead> {
    const target = (await this.store.checkpoint()).size;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const open = await this.tick({ force: true });
      if (open === undefined && this.head.size >= target) {
        const last = await this.store.lastConfirmedAnchorIntent();
        return last !== undefined && last.size === this.head.size ? last : this.head;
      }
      if (Date.now() > deadline) throw new Error(`anchorNow: size ${target} not confirmed within ${timeoutMs} ms`);
      await sleep(this.opts.pollMs);
    }
  }

  async status(): Promise<AnchorerStatus> {
    const { size: logSize } = await this.store.checkpoint();
    // The store's record too: on an instance that does not run the anchorer (another leads), `head` stays unread.
    const confirmed = (await this.store.lastConfirmedAnchorIntent())?.size ?? 0;
    const anchoredSize = Math.min(Math.max(this.head.size, confirmed), logSize);
    let lagMs = 0;
    if (logSize > anchoredSize) {
      const oldest = await this.store.entry(anchoredSize);
      if (oldest !== undefined) lagMs = Math.max(0, this.clock.now() - oldest.receivedAt);
    }
    return {
      anchoredSize,
      logSize,
      lagEntries: logSize - anchoredSize,
      lagMs,
      pending: await this.store.openAnchorIntent(),
      running: this.loop.running,
    };
  }

  /** The chain's latest anchor (read now). */
  async chainHead(): Promise<ChainHead> {
    const count = Number((await this.contract.getFunction("anchorCount")()) as bigint);
    if (count === 0) return { size: 0, root: hex(EMPTY_ROOT), anchorIndex: undefined, blockNumber: undefined };
    const a = await this.anchorAt(count - 1);
    return { ...a, anchorIndex: count - 1 };
  }

  // ---------------------------------------------------------------------------------------------------------------


  private async sender(): Promise<string> {
    this.from ??= (await this.signer.getAddress()).toLowerCase();
    return this.from;
  }

  private async anchorAt(index: number): Promise<{ size: number; root: string; blockNumber: number }> {
    const a = (await this.contract.getFunction("anchorAt")(index)) as { root: string; size: bigint; blockNumber: bigint };
    return { size: Number(a.size), root: a.root.toLowerCase(), blockNumber: Number(a.blockNumber) };
  }

  /** The anchor of exactly `size`, searching back from the latest (anchors are strictly increasing in size). */
  private async anchorOfSize(size: number): Promise<{ size: number; root: string; blockNumber: number } | undefined> {
    const count = Number((await this.contract.getFunction("anchorCount")()) as bigint);
    for (let i = count - 1; i >= 0; i--) {
      const a = await this.anchorAt(i);
      if (a.size === size) return a;
      if (a.size < size) return undefined;
    }
    return undefined;
  }

  /** Start-up: settle what a previous process left in flight, and check the chain's history is this log's. */
  private async reconcile(): Promise<void> {
    const open = await this.store.openAnchorIntent();
    if (open !== undefined) {
      this.logger.info({ intent: open.id, size: open.size, txHash: open.txHash }, "anchorer: reconciling intent in flight");
      await this.settle(open);
    }
    this.head = await this.chainHead();
    await this.checkHead(this.head, (await this.store.checkpoint()).size);
  }

  /** The chain's anchored root must be this log's root of that size, or the log and the chain disagree. */
  private async checkHead(head: ChainHead, logSize: number): Promise<void> {
    if (head.size === 0) return;
    if (head.size > logSize) {
      throw new AnchorMismatchError(
        `chain anchored size ${head.size} but the log holds only ${logSize} entries (restored an old backup?)`,
      );
    }
    const ours = hex(await rootOfSize(head.size, this.store));
    if (ours !== head.root) {
      throw new AnchorMismatchError(`chain root of size ${head.size} is ${head.root}, the log's is ${ours}`);
    }
  }

  private async pass(force: boolean): Promise<AnchorIntent | undefined> {
    const open = await this.store.openAnchorIntent();
    if (open !== undefined) {
      const still = await this.settle(open);
      if (still !== undefined) return still;
    }
    return this.maybeAnchor(force);
  }

  /**
   * Settles one 'sent' intent against the chain. Returns it if it is still in flight, undefined once it is
   * confirmed or failed. The checks are ordered so a transaction mined between two reads is never declared lost:
   * the account's mined nonce is read BEFORE looking for the anchor and the receipt.
   */
  private async settle(intent: AnchorIntent): Promise<AnchorIntent | undefined> {
    const from = await this.sender();
    const minedNonce = await this.provider.getTransactionCount(from, "latest");
    const anchored = await this.anchorOfSize(intent.size);
    if (anchored !== undefined) {
      if (anchored.root !== intent.root) {
        throw new AnchorMismatchError(
          `chain anchored size ${intent.size} with root ${anchored.root}, the intent has ${intent.root}`,
        );
      }
      const head = await this.provider.getBlockNumber();
      if (!isFinal(anchored.blockNumber, head, this.opts.confirmations, this.durableBlock)) return intent;
      const done = await this.store.settleAnchorIntent(
        intent.id,
        { status: "confirmed", blockNumber: anchored.blockNumber },
        this.clock.now(),
      );
      this.head = await this.chainHead();
      this.logger.info({ intent: done.id, size: done.size, block: done.blockNumber }, "anchor confirmed");
      return undefined;
    }
    const receipt = await this.provider.getTransactionReceipt(intent.txHash);
    if (receipt !== null) {
      if (receipt.status === 0) return this.fail(intent, `transaction reverted in block ${receipt.blockNumber}`);
      // Mined and succeeded, yet no anchor of this size: only a reorg can do that; wait for the chain to settle.
      this.logger.warn({ intent: intent.id, txHash: intent.txHash }, "anchor receipt without anchor; waiting");
      return intent;
    }
    if (minedNonce > intent.nonce) {
      return this.fail(intent, `nonce ${intent.nonce} was consumed by another transaction`);
    }
    if ((await this.provider.getTransaction(intent.txHash)) !== null) return this.bumpIfStuck(intent); // pending in the node
    const err = await broadcast(this.provider, intent.rawTx);
    this.logger.warn(
      { intent: intent.id, txHash: intent.txHash, nonce: intent.nonce, err: err?.message },
      "anchor transaction unknown to the node; re-broadcast the stored bytes",
    );
    return intent;
  }

  /** Replaces a transaction pending for `feeBumpAfterMs` with the same one at higher fees (see the module comment). */
  private async bumpIfStuck(intent: AnchorIntent): Promise<AnchorIntent> {
    let replaced = intent;
    const bumped = await this.feeBumper.bumpIfStuck(intent.feeBumps, intent.rawTx, intent.updatedAt, async (next) => {
      replaced = await this.store.replaceAnchorTx(intent.id, { rawTx: next.raw, txHash: next.hash }, this.clock.now());
    });
    if (bumped) {
      this.logger.warn(
        { intent: intent.id, nonce: intent.nonce, replaced: intent.txHash, txHash: bumped.next.hash, bump: bumped.bump, err: bumped.error?.message },
        "anchor transaction stuck; replaced at higher fees",
      );
    }
    return replaced;
  }

  private async fail(intent: AnchorIntent, failure: string): Promise<undefined> {
    await this.store.settleAnchorIntent(intent.id, { status: "failed", failure }, this.clock.now());
    this.logger.warn({ intent: intent.id, size: intent.size, failure }, "anchor intent failed; a new one follows");
    return undefined;
  }

  private async maybeAnchor(force: boolean): Promise<AnchorIntent | undefined> {
    const head = await this.chainHead();
    this.head = head;
    // ONE checkpoint: size and root of the same tree.
    const cp = await this.store.checkpoint();
    await this.checkHead(head, cp.size);
    const unanchored = cp.size - head.size;
    if (unanchored <= 0) return undefined;
    if (!force && unanchored < this.opts.every) {
      const oldest = await this.store.entry(head.size);
      if (oldest === undefined || this.clock.now() - oldest.receivedAt < this.opts.intervalMs) return undefined;
    }
    const proof = await consistencyProof(head.size, cp.size, this.store);
    const root = hex(cp.root);
    const data = this.iface.encodeFunctionData("anchor", [cp.size, root, proof.map((p) => hexlify(p))]);
    const from = await this.sender();
    const nonce = await this.provider.getTransactionCount(from, "pending");
    let signed;
    try {
      // populateTransaction estimates gas, i.e. simulates the call: a proof the contract would refuse fails here,
      // before anything is stored or sent.
      signed = await signTx(this.signer, { to: this.address, data }, nonce);
    } catch (e) {
      const revert = revertDataOf(e);
      const decoded = revert === undefined ? undefined : decodeRevert(this.iface, revert);
      this.logger.warn({ size: cp.size, previousSize: head.size, error: decoded?.text }, "anchor simulation failed");
      throw e;
    }
    const intent = await this.store.recordAnchorIntent({
      size: cp.size,
      root,
      previousSize: head.size,
      previousRoot: head.root,
      nonce,
      rawTx: signed.raw,
      txHash: signed.hash,
      createdAt: this.clock.now(),
    });
    this.logger.info({ intent: intent.id, size: cp.size, previousSize: head.size, txHash: signed.hash }, "anchoring");
    const err = await broadcast(this.provider, signed.raw);
    if (err !== undefined) {
      this.logger.warn({ intent: intent.id, err: err.message }, "anchor broadcast failed; the next pass settles it");
    }
    return intent;
  }
}
