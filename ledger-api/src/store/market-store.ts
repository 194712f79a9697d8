/**
 * What the market screens (market/: the safety centre, the stall displays, recall reach) keep in and read from the
 * store. Seven methods over a projection of the log (migration "market") and the chain index; a driver implements
 * them with plain SQL (SQLite: sqlite-market.ts). Every read is one or a few indexed statements, so the safety
 * centre answers for a market of 500 stalls and 50,000 lots in well under 100 ms (scripts/bench-market.ts).
 *
 * The projection holds, per log entry of the kinds the screens chart, the facts they need, parsed once when the
 * entry is indexed (market/projection.ts), never per request:
 * - a row per lot with its origin (product, country, region, farm, harvest date; a split lot takes its parent's, a
 *   merged lot its first parent's) and who holds it since when, as the log tells it;
 * - an arrival per accepted hand-off (receiver, day, and the lot's origin, copied in so supply is one grouped read);
 * - a row per lab test (day, verdict, the analytes over their limits) and per pesticide application (day, its
 *   pre-harvest interval, the harvest date, and whether the interval was broken);
 * - a row per recall acknowledgement (protocol/recall-ack.ts).
 * Like the EPCIS index it is written behind its own cursor, in its own transactions, and can be rebuilt from the log.
 *
 * Who holds a lot NOW is the chain index's `batches.custodian` (what the contract says); the projection's holder
 * only supplies "since when", and only where it names the same holder.
 */
import type { ActorProfile } from "./index-store.ts";

/** A lot's origin and holding as the projection keeps it. Times are unix ms; `day` values are whole UTC days since 1970. */
export interface MarketLotRow {
  readonly batchId: string;
  readonly product: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  readonly region: string;
  readonly farm: string;
  /** YYYY-MM-DD. */
  readonly harvestDate: string;
  readonly imported: boolean;
  /** Who the log says took the lot last (registrant, splitter, merger, or the receiver of an accepted hand-off). */
  readonly holder: string;
  /** occurredAt of the event that made `holder` the holder. */
  readonly heldSince: number;
  /** Event hash of that event (the Registered, Split, Merged or HandOffAccepted). */
  readonly heldEvent: string;
}

/** An accepted hand-off: `receiver` took `batchId` on `day`; the lot's origin copied in. */
export interface MarketArrivalRow {
  readonly index: number;
  readonly batchId: string;
  readonly receiver: string;
  readonly day: number;
  readonly country: string;
  readonly region: string;
}

/** One lab analyte over its limit. */
export interface FailedAnalyte {
  readonly name: string;
  readonly value: number;
  readonly limit: number;
  readonly unit: string;
}

export interface MarketTestRow {
  readonly index: number;
  readonly batchId: string;
  readonly day: number;
  readonly passed: boolean;
  readonly lab: string;
  readonly failed: readonly FailedAnalyte[];
}

export interface MarketPesticideRow {
  readonly index: number;
  readonly batchId: string;
  readonly day: number;
  readonly substance: string;
  readonly preHarvestIntervalDays: number;
  /** The lot's harvest date (YYYY-MM-DD), undefined when the projection does not know the lot's origin. */
  readonly harvestDate: string | undefined;
  /** Whole days from the application to the harvest; undefined without a harvest date. */
  readonly daysBeforeHarvest: number | undefined;
  /** Applied less than preHarvestIntervalDays before the harvest. */
  readonly violation: boolean;
}

export interface MarketAckRow {
  readonly index: number;
  readonly batchId: string;
  readonly recallEventHash: string;
  readonly signer: string;
  readonly eventHash: string;
  readonly at: number;
}

/** What entries [from, to) add to the projection. Lots are upserts (final state after the range); the rest insert. */
export interface MarketDelta {
  readonly lots: readonly MarketLotRow[];
  readonly arrivals: readonly MarketArrivalRow[];
  readonly tests: readonly MarketTestRow[];
  readonly pesticides: readonly MarketPesticideRow[];
  readonly acks: readonly MarketAckRow[];
}

/** Which lots `lotHoldings` returns: every filter given must hold. */
export interface HoldingFilter {
  /** Current custodians (the chain index's). */
  readonly custodians?: readonly string[];
  readonly batchIds?: readonly string[];
  readonly country?: string;
  readonly region?: string;
  /** Only imported lots, cleared by customs or not yet. */
  readonly customs?: "cleared" | "pending";
  /** Only lots still active (not split or merged away). Default true. */
  readonly activeOnly?: boolean;
}

/** A lot with its current custodian (chain index) and its origin and "since" (projection). */
export interface LotHolding {
  readonly batchId: string;
  readonly gtin: string | undefined;
  readonly lot: string | undefined;
  readonly custodian: string;
  /** The custodian's profile name and retail flag (ActorRegistry), when it has a profile. */
  readonly custodianName: string | undefined;
  readonly custodianRetail: boolean;
  readonly quantity: bigint;
  readonly unit: string;
  readonly status: "active" | "split" | "merged";
  readonly imported: boolean;
  readonly customsCleared: boolean;
  /** Recalled itself (an inherited recall is found through lineage, not here). */
  readonly recalled: boolean;
  readonly product: string | undefined;
  readonly country: string | undefined;
  readonly region: string | undefined;
  readonly farm: string | undefined;
  readonly harvestDate: string | undefined;
  /** Since when the custodian holds it: set only where the projection's holder is the custodian. */
  readonly since: { readonly at: number; readonly eventHash: string; readonly blockNumber: number | undefined } | undefined;
}

/** The safety centre's aggregates (market/overview.ts shapes them). Days are whole UTC days since 1970. */
export interface MarketFigures {
  /** Active lots per custodian among `accounts`. */
  readonly holdings: readonly { readonly account: string; readonly lots: number; readonly imported: number }[];
  /** Arrivals at `accounts` per day, origin country and region, over the `supplyDays` days up to the latest arrival. */
  readonly supply: readonly { readonly day: number; readonly country: string; readonly region: string; readonly lots: number }[];
  /** Lab tests per day (ledger-wide: lots are tested upstream, before they reach a stall). */
  readonly tests: readonly { readonly day: number; readonly tests: number; readonly passed: number }[];
  /** The latest failed tests, newest first, at most `limit`. */
  readonly failedTests: readonly MarketTestRow[];
  /** Pre-harvest interval violations per day (ledger-wide), and the latest ones, newest first, at most `limit`. */
  readonly violationsByDay: readonly { readonly day: number; readonly violations: number }[];
  readonly violations: readonly MarketPesticideRow[];
  /** Active imported lots, ledger-wide and held by `accounts`, by clearance. */
  readonly imports: {
    readonly cleared: number;
    readonly pending: number;
    readonly clearedInMarket: number;
    readonly pendingInMarket: number;
  };
  /** Lots recalled themselves (the sources of the open recalls), in id order. */
  readonly recalled: readonly string[];
}

export interface MarketStore {
  /** The next log index the market projection lacks. */
  marketCursor(): Promise<number>;
  /**
   * Writes what entries [from, to) add and moves the cursor from `from` to `to`, in one transaction. Resolves false,
   * writing nothing, when the cursor is no longer at `from` (another instance indexed them first).
   */
  indexMarket(from: number, to: number, delta: MarketDelta): Promise<boolean>;
  /** The projection's rows of these lots (those it has), for the projection's own reads. */
  marketLots(batchIds: readonly string[]): Promise<MarketLotRow[]>;
  /** Every profile with the retail flag: the candidates for a market's stalls (market/members.ts picks). */
  retailProfiles(): Promise<ActorProfile[]>;
  /** Lots matching `filter`, custodian then batch id order, at most `limit`. */
  lotHoldings(filter: HoldingFilter, limit: number): Promise<LotHolding[]>;
  /**
   * The safety centre's aggregates for the stalls `accounts`, each list at most `limit` rows, supply over the
   * `supplyDays` days that end on the day of the latest arrival at one of them.
   */
  marketFigures(accounts: readonly string[], limit: number, supplyDays: number): Promise<MarketFigures>;
  /** Acknowledgements recorded on these lots, in log order. */
  recallAcks(batchIds: readonly string[]): Promise<MarketAckRow[]>;
}
