/**
 * What the two chain writers (chain/anchorer.ts, chain/relay.ts) persist: the anchorer's intents and the relay's
 * cursor and per-entry rows. `Store` extends both interfaces; drivers implement them next to the log.
 *
 * Durability is the log's: when a write method resolves, the row is committed and survives a process crash and a
 * power loss (SQLite: WAL + synchronous=FULL). Every state change is a compare-and-set on the row's current status,
 * so a transition from a state the caller did not expect rejects with ChainWriterStateError instead of overwriting
 * what another code path recorded. Hex values (roots, hashes, raw transactions, addresses) are lower-case 0x strings.
 */

/**
 * The anchor intent state machine:
 *
 *   (none) --recordAnchorIntent--> sent --settle--> confirmed   (anchor of `size` with `root` on chain, K confirmations)
 *                                       \--settle--> failed      (the tx reverted, or its nonce was consumed by another
 *                                                                 tx: it can never land; a new intent is built)
 *
 * At most one intent is 'sent' at any time (the store refuses a second one), which is what makes "never two anchors
 * in flight" hold across processes sharing a database file and across restarts.
 */
export type AnchorIntentStatus = "sent" | "confirmed" | "failed";

export interface AnchorIntent {
  readonly id: number;
  /** Tree size being anchored. */
  readonly size: number;
  /** Root of the tree of `size` leaves, taken from the same store checkpoint as `size`. */
  readonly root: string;
  /** The chain's latest anchored size when the intent was built (the consistency proof's old size). */
  readonly previousSize: number;
  readonly previousRoot: string;
  /** Account nonce the raw transaction carries. */
  readonly nonce: number;
  /** The signed raw transaction; re-broadcasting these exact bytes can never land twice (same nonce, same hash). */
  readonly rawTx: string;
  readonly txHash: string;
  readonly status: AnchorIntentStatus;
  /** Block that recorded the anchor (confirmed only). */
  readonly blockNumber: number | undefined;
  /** Why the intent failed (failed only). */
  readonly failure: string | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type NewAnchorIntent = Omit<AnchorIntent, "id" | "status" | "blockNumber" | "failure" | "updatedAt">;

export type AnchorOutcome =
  | { readonly status: "confirmed"; readonly blockNumber: number }
  | { readonly status: "failed"; readonly failure: string };

export interface AnchorStore {
  /**
   * Stores a new intent as 'sent' in one transaction. Call it BEFORE broadcasting `rawTx`: once it resolves, a
   * restarted anchorer knows the nonce and the exact bytes it may have broadcast. Rejects with
   * AnchorIntentOpenError when another intent is still 'sent'.
   */
  recordAnchorIntent(intent: NewAnchorIntent): Promise<AnchorIntent>;
  /** The intent in flight ('sent'), if any. */
  openAnchorIntent(): Promise<AnchorIntent | undefined>;
  /** Moves a 'sent' intent to 'confirmed' or 'failed'; ChainWriterStateError if it is not 'sent'. */
  settleAnchorIntent(id: number, outcome: AnchorOutcome, at: number): Promise<AnchorIntent>;
  /**
   * Replaces a 'sent' intent's transaction with one of the same nonce and call at higher fees (a fee bump). Call it
   * BEFORE broadcasting the new bytes. Either transaction may still land, and both anchor the same (size, root): the
   * intent is settled from the contract's state, not from a hash. ChainWriterStateError if it is not 'sent'.
   */
  replaceAnchorTx(id: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<AnchorIntent>;
  /** The confirmed intent of the largest size, if any. */
  lastConfirmedAnchorIntent(): Promise<AnchorIntent | undefined>;
  /** Every intent, oldest first (operations and tests; the table grows by one row per anchor). */
  anchorIntents(): Promise<AnchorIntent[]>;
  /**
   * Recovery (chain/recovery.ts), after the chain lost blocks: marks the intents `ids` (confirmed or sent) 'failed'
   * with `failure`, in one transaction, so the anchorer anchors again from the chain's latest anchor.
   * ChainWriterStateError, changing nothing, if one of them is already failed or unknown.
   */
  failAnchorIntents(ids: readonly number[], failure: string, at: number): Promise<void>;
}

/**
 * The relay row state machine, one row per lifecycle log entry:
 *
 *   pending --markRelaySent--> sent --settle--> confirmed   (the contract recorded the event; K confirmations)
 *      |   \-markRelayGroupSent-/ |  \--settle--> refused     (mined but reverted with a custom error, refused inside
 *      |                        |                            its group (GroupCallRefused), or the actor's nonce was
 *      |                        |                            spent by a different event)
 *      |                        \--resetRelay--> pending    (the tx can no longer land and the event is not on chain)
 *      \--markRelayRefused--> refused                       (the pre-send simulation, or decoding the body, refused it)
 *
 * "settle" is markRelayConfirmed / markRelayRefused / resetRelay for one row, or settleRelayRows for many at once (a
 * group's receipt settles all its rows in one transaction).
 *
 * Groups. A row is sent either as its own transaction (a single lifecycle call; the row holds the raw transaction)
 * or as one call of a `relayGroup` transaction carrying several rows. A group's raw transaction is stored once, in a
 * relay group (RelayGroup), and each of its rows points at it (`group`) and holds its nonce and hash; `rawTx` is then
 * undefined on the row, so listing in-flight rows does not copy a group's bytes once per row.
 */
export type RelayStatus = "pending" | "sent" | "confirmed" | "refused";

export interface RelayRecord {
  /** The log index of the entry. */
  readonly index: number;
  readonly kind: number;
  /** The actor (signer) of the event, lower-case. */
  readonly actor: string;
  readonly status: RelayStatus;
  /** The relayer account nonce of the transaction (sent and later). */
  readonly nonce: number | undefined;
  readonly txHash: string | undefined;
  readonly rawTx: string | undefined;
  /** Block that recorded the event, or mined the reverted transaction. */
  readonly blockNumber: number | undefined;
  /** Custom error name of a refusal, e.g. "BatchRecalled". */
  readonly errorName: string | undefined;
  /** The refusal with its decoded arguments, e.g. "BatchRecalled(0x12.., 0x12..)". */
  readonly error: string | undefined;
  /**
   * The relay group whose transaction carries (or carried) this row, when it was sent in one; its raw transaction is
   * the group's (relayGroup). Undefined for a row sent as a single call, and for a row never sent.
   */
  readonly group: number | undefined;
  readonly updatedAt: number;
}

/** One `relayGroup` transaction, stored once before it is broadcast, for every row it carries. */
export interface RelayGroup {
  readonly id: number;
  readonly nonce: number;
  readonly txHash: string;
  /** The signed raw transaction (after a fee bump, the latest copy; every copy carries the same calls). */
  readonly rawTx: string;
  /** Lifecycle calls it carries, one per row. */
  readonly calls: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** How settleRelayRows leaves one 'sent' row (the same transitions as the single-row methods). */
export type RelaySettlement =
  /** As markRelayConfirmed. */
  | { readonly index: number; readonly status: "confirmed"; readonly blockNumber: number; readonly txHash?: string }
  /** As markRelayRefused. */
  | { readonly index: number; readonly status: "refused"; readonly refusal: RelayRefusal }
  /** As resetRelay. */
  | { readonly index: number; readonly status: "pending"; readonly reason: string };

export interface NewRelayRow {
  readonly index: number;
  readonly kind: number;
  readonly actor: string;
}

export interface RelaySent {
  readonly nonce: number;
  readonly txHash: string;
  readonly rawTx: string;
}

export interface RelayRefusal {
  readonly errorName: string;
  readonly error: string;
  readonly blockNumber?: number;
}

/** What recovery (chain/recovery.ts) does to a relay row whose chain history changed. */
export type RelayRewrite =
  /** The event is not on chain (any more): send it again, with a fresh nonce. `reason` is kept as the row's error. */
  | { readonly index: number; readonly status: "pending"; readonly reason: string }
  /** The event is on chain, recorded in `blockNumber` by `txHash` (the row must hold a transaction of its own). */
  | { readonly index: number; readonly status: "confirmed"; readonly blockNumber: number; readonly txHash: string };

export interface RelayStore {
  /** The next log index the relay has not looked at (0 at first). */
  relayCursor(): Promise<number>;
  /**
   * In one transaction: inserts a 'pending' row per lifecycle entry in [from, to) and moves the cursor from `from`
   * to `to`. ChainWriterStateError if the cursor is not at `from` (someone else advanced it).
   */
  advanceRelayCursor(from: number, to: number, rows: readonly NewRelayRow[], at: number): Promise<void>;
  /** Rows in `status`, in log order: at most `limit`, all of them when it is omitted. */
  relayRows(status: RelayStatus, limit?: number): Promise<RelayRecord[]>;
  relayRecord(index: number): Promise<RelayRecord | undefined>;
  /** The highest relayer nonce any row was ever sent with. */
  maxRelayNonce(): Promise<number | undefined>;
  /**
   * Replaces a 'sent' row's transaction with one of the same nonce and call at higher fees (a fee bump). Call it
   * BEFORE broadcasting the new bytes. Either copy may land; settling finds the event on chain by its hash, whichever
   * transaction carried it. For a row sent in a group, the group's transaction is replaced, and with it the hash of
   * every 'sent' row of the group, in one transaction. ChainWriterStateError if the row is not 'sent'.
   */
  replaceRelayTx(index: number, tx: { readonly rawTx: string; readonly txHash: string }, at: number): Promise<void>;
  /** pending -> sent. Call BEFORE broadcasting `rawTx`. */
  markRelaySent(index: number, sent: RelaySent, at: number): Promise<void>;
  /**
   * pending -> sent for every row of `indices` (in call order, at least two), carried by one relayGroup transaction:
   * in one write transaction, stores the group (its raw transaction once) and points each row at it with the
   * group's nonce and hash. Call it BEFORE broadcasting `sent.rawTx`. Resolves with the group's id.
   * ChainWriterStateError, storing nothing, if a row is not 'pending'.
   */
  markRelayGroupSent(indices: readonly number[], sent: RelaySent, at: number): Promise<number>;
  /** The relay group `id`, with its current raw transaction. */
  relayGroup(id: number): Promise<RelayGroup | undefined>;
  /**
   * Settles many 'sent' rows in one write transaction (a group's receipt settles all its rows at once), each as the
   * single-row method of its status would. ChainWriterStateError, changing nothing, if a row is not 'sent'.
   */
  settleRelayRows(settlements: readonly RelaySettlement[], at: number): Promise<void>;
  /**
   * sent -> confirmed. `txHash` replaces the stored hash when another transaction recorded the event (e.g. the actor
   * called the contract directly while ours was lost).
   */
  markRelayConfirmed(index: number, blockNumber: number, at: number, txHash?: string): Promise<void>;
  /** pending | sent -> refused. */
  markRelayRefused(index: number, refusal: RelayRefusal, at: number): Promise<void>;
  /**
   * sent -> pending (the transaction can never land; `reason` is kept as the row's error until it is re-sent). The
   * row keeps its nonce and no longer points at a group.
   */
  resetRelay(index: number, reason: string, at: number): Promise<void>;
  /** Rows per status (health and metrics). */
  relayCounts(): Promise<Readonly<Record<RelayStatus, number>>>;
  /**
   * Recovery (chain/recovery.ts), after the chain lost blocks: applies every rewrite in one transaction, whatever
   * the rows' statuses were (the chain, not the row's history, decides). A row back to 'pending' loses its nonce,
   * transaction, group and block, so the relay's next nonce comes from the chain's account nonce again. A 'confirmed'
   * rewrite of a row sent in a group keeps its group (the transaction's bytes stay on record). Rows not named are
   * untouched. ChainWriterStateError, changing nothing, if a row is missing or a 'confirmed' rewrite names a row
   * that never held a transaction.
   */
  rewriteRelayRows(rewrites: readonly RelayRewrite[], at: number): Promise<void>;
}

/** A chain-writer row was not in the state a transition expected. */
export class ChainWriterStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChainWriterStateError";
  }
}

/** An anchor intent is still in flight; settle it before recording another. */
export class AnchorIntentOpenError extends Error {
  readonly openId: number;
  constructor(openId: number) {
    super(`anchor intent ${openId} is still in flight`);
    this.name = "AnchorIntentOpenError";
    this.openId = openId;
  }
}
