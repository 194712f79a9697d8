/**
 * Ingest: from signed event documents to durable log entries (docs/ARCHITECTURE.md "The data path").
 *
 * `submit(events)` either logs every event of the request or none, and refuses with an ApiError naming the first
 * offending event (`index`) and what to fix. Checks, cheapest first:
 *   1. each document's identifiers and internal consistency (typed-values.ts), its deadline and signature format;
 *   2. events already in the log are answered with their existing receipt (resubmission is idempotent);
 *   3. signatures, recovered in one batch on the worker pool (off the event loop) and matched to `signer`;
 *   4. the ledger's rules, as the contract will apply them (rules.ts), against the indexed chain state overlaid
 *      with every lifecycle event already accepted but not yet on chain, so a batch registered a moment ago can
 *      take its next event at once, and a doomed relay is refused before it is logged;
 *   5. the append: all events of the request in one group commit (Appender.addAll).
 *
 * What a resolved submit guarantees: every returned receipt's entry is committed (see Appender). What it does not:
 * that the chain will accept the relayed event. Steps 4-5 run under one lock in arrival order, so two requests never
 * both spend one custody or one nonce; the commit itself is awaited outside it, so concurrent requests share a
 * group commit. If a group fails, its events leave the pending overlay again.
 */
import { TypedDataEncoder, type TypedDataDomain } from "ethers";
import type { Appender, Receipt } from "../log/appender.ts";
import type { Store } from "../store/store.ts";
import { ApiError } from "../http/errors.ts";
import type { SignedEvent } from "../protocol/documents.ts";
import { DocumentError, deriveEvent, type DerivedEvent } from "../protocol/typed-values.ts";
import type { SignaturePool } from "./signatures.ts";
import { Kind, TYPES } from "../protocol/typed-data.ts";
import { decodeEntryBody, encodeEntryBody } from "../protocol/entry-body.ts";
import type { LedgerEvent, Verdict } from "./rules.ts";
import type { LayeredView } from "./ledger-view.ts";
import { OBSERVER_ROLES, ROLE_NAMES } from "../protocol/roles.ts";
import { PendingOverlay } from "./pending-overlay.ts";
import { CanonicalJsonError } from "../protocol/canonical.ts";

export interface IngestReceipt extends Receipt {
  readonly eventHash: string;
  readonly batchId: string;
  readonly kind: string;
}

export interface IngestorOptions {
  readonly store: Store;
  readonly appender: Appender;
  readonly signatures: SignaturePool;
  /** The ledger contract's EIP-712 domain. */
  readonly domain: TypedDataDomain;
  /** Unix seconds; injectable for tests. */
  readonly now?: () => number;
}

/** A lifecycle event in the log that the chain has not recorded yet. */
interface PendingEvent {
  /** Log index; -1 while its group commits. */
  index: number;
  readonly eventHash: string;
  readonly event: LedgerEvent;
}

/** How often pending events are checked against the index and the relay. */
const PRUNE_EVERY_MS = 250;

interface Prepared {
  readonly position: number;
  readonly signed: SignedEvent;
  readonly derived: DerivedEvent;
  readonly eventHash: string;
}

function refusal(position: number, err: ApiError): ApiError {
  return new ApiError(err.code, `event ${position}: ${err.message}`, { ...err.details, index: position });
}

/** Translates a rules refusal into the API's stable codes. */
function verdictError(verdict: Extract<Verdict, { ok: false }>): ApiError {
  switch (verdict.rule) {
    case "AccessControlUnauthorizedAccount": {
      const role = ROLE_NAMES.get(String(verdict.args[1]).toLowerCase()) ?? String(verdict.args[1]);
      return new ApiError("SIGNER_LACKS_ROLE", `the signer does not hold the ${role} role this event needs`, { role });
    }
    case "UnknownBatch":
      return new ApiError("UNKNOWN_BATCH", verdict.message, { rule: verdict.rule });
    case "NonceAlreadyUsed":
      return new ApiError("NONCE_REUSED", verdict.message, { rule: verdict.rule });
    case "DeadlinePassed":
      return new ApiError("SIGNATURE_EXPIRED", verdict.message, { rule: verdict.rule });
    case "GtinMalformed":
    case "GtinCheckDigitMismatch":
    case "LotLengthInvalid":
    case "LotCharacterInvalid":
      return new ApiError("INVALID_IDENTIFIER", verdict.message, { rule: verdict.rule });
    default:
      return new ApiError("RULE_VIOLATION", verdict.message, { rule: verdict.rule });
  }
}

export class Ingestor {
  private readonly store: Store;
  private readonly appender: Appender;
  private readonly signatures: SignaturePool;
  private readonly domain: TypedDataDomain;
  private readonly now: () => number;
  /** Lifecycle events logged but not yet seen on chain (nor refused), in log order. */
  private pending: PendingEvent[] = [];
  /** The index with `pending` laid over it, kept across requests (pending-overlay.ts). */
  private readonly overlay: PendingOverlay;
  private lastPrune = 0;
  private lock: Promise<void> = Promise.resolve();

  constructor(options: IngestorOptions) {
    this.store = options.store;
    this.overlay = new PendingOverlay(options.store);
    this.appender = options.appender;
    this.signatures = options.signatures;
    this.domain = options.domain;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** The EIP-712 hash (the log key) of a signed event, or a refusal naming what is wrong with it. */
  prepare(signed: SignedEvent, position: number): Prepared {
    let derived: DerivedEvent;
    try {
      derived = deriveEvent(signed.doc, { nonce: signed.nonce, deadline: signed.deadline });
    } catch (err) {
      if (err instanceof DocumentError) throw refusal(position, new ApiError(err.code, err.message));
      if (err instanceof CanonicalJsonError) throw refusal(position, new ApiError("SCHEMA_VIOLATION", err.message));
      throw err;
    }
    if (BigInt(signed.nonce) >= 2n ** 256n) {
      throw refusal(position, new ApiError("SCHEMA_VIOLATION", "nonce must fit in uint256"));
    }
    if (signed.deadline < this.now()) {
      throw refusal(position, new ApiError("SIGNATURE_EXPIRED", `the signature's deadline ${signed.deadline} has passed`));
    }
    const v = Number.parseInt(signed.signature.slice(-2), 16);
    if (v !== 27 && v !== 28) {
      // The contract's ECDSA takes only 27 / 28; one signature must have one byte form in the log.
      throw refusal(position, new ApiError("BAD_SIGNATURE", `signature v must be 27 or 28, got ${v}`));
    }
    const eventHash = TypedDataEncoder.hash(
      this.domain,
      TYPES[derived.kind] as Record<string, { name: string; type: string }[]>,
      derived.values as unknown as Record<string, unknown>,
    );
    return { position, signed, derived, eventHash };
  }

  async submit(events: readonly SignedEvent[]): Promise<IngestReceipt[]> {
    const prepared = events.map((e, i) => this.prepare(e, i));

    // Resubmissions of logged events get their receipts back without any further check.
    const existing = await Promise.all(prepared.map((p) => this.store.entryByKey(p.eventHash)));
    // A copy of an event earlier in the same request is a resubmission too: it gets the first copy's receipt.
    const firstOf = new Map<string, number>();
    prepared.forEach((p, i) => firstOf.has(p.eventHash) || firstOf.set(p.eventHash, i));
    const fresh = prepared.filter((p, i) => existing[i] === undefined && firstOf.get(p.eventHash) === i);

    const recovered = await this.signatures.recover(
      fresh.map((p) => ({ digest: p.eventHash, signature: p.signed.signature })),
    );
    fresh.forEach((p, i) => {
      const signer = recovered[i];
      if (signer === null || signer === undefined) {
        throw refusal(p.position, new ApiError("BAD_SIGNATURE", "the signature is malformed or not canonical (high s)"));
      }
      if (signer.toLowerCase() !== p.signed.signer.toLowerCase()) {
        throw refusal(
          p.position,
          new ApiError("BAD_SIGNATURE", `the signature was made by ${signer}, not by the signer ${p.signed.signer}`),
        );
      }
    });

    const receipts = await this.admitAndAppend(fresh);
    return prepared.map((p, i) => {
      const old = existing[i];
      const copy = firstOf.get(p.eventHash) !== i;
      const first = receipts.get(p.eventHash);
      const receipt: Receipt = old
        ? { index: old.index, leafHash: "0x" + Buffer.from(old.leafHash).toString("hex"), prevIndex: old.prevIndex, duplicate: true }
        : { ...(first as Receipt), duplicate: copy || (first as Receipt).duplicate };
      return { ...receipt, eventHash: p.eventHash, batchId: p.derived.batchId, kind: p.derived.kindName };
    });
  }

  /**
   * Rebuilds the pending overlay after a restart: lifecycle entries the relay has not settled (all of them, however
   * long the queue), and entries it has not looked at yet. Entries it confirmed are in the index already: services.ts
   * lets the indexer catch up before this runs, and the relay counts a transaction confirmed at the same depth at
   * which the indexer reads its block.
   */
  async init(): Promise<void> {
    const [pending, sent, cursor, size] = await Promise.all([
      this.store.relayRows("pending"),
      this.store.relayRows("sent"),
      this.store.relayCursor(),
      this.store.size(),
    ]);
    const indices = [...pending, ...sent].map((r) => r.index);
    for (let i = cursor; i < size; i++) indices.push(i);
    indices.sort((a, b) => a - b);
    const events: PendingEvent[] = [];
    for (const index of indices) {
      const entry = await this.store.entry(index);
      if (entry === undefined || entry.kind === Kind.Observed) continue;
      const body = decodeEntryBody(entry.kind as Kind, entry.body);
      events.push({
        index,
        eventHash: entry.key,
        event: { kind: entry.kind, values: body.values, actor: body.signer, eventHash: entry.key } as LedgerEvent,
      });
    }
    this.pending = events;
    this.lastPrune = 0;
    await this.prune();
  }

  /** Drops pending events the index has recorded or the relay has settled as refused. */
  private async prune(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS || this.pending.length === 0) return;
    this.lastPrune = now;
    const done = await Promise.all(
      this.pending.map(async (p) => {
        if (p.index < 0) return false;
        if ((await this.store.lifecycleEvent(p.eventHash)) !== undefined) return true;
        return (await this.store.relayRecord(p.index))?.status === "refused";
      }),
    );
    this.pending = this.pending.filter((_, i) => !done[i]);
  }

  /** Steps 4 and 5 under the lock; resolves once the group is committed. */
  private async admitAndAppend(fresh: readonly Prepared[]): Promise<Map<string, Receipt>> {
    if (fresh.length === 0) return new Map();
    let release!: () => void;
    const previous = this.lock;
    this.lock = new Promise((resolve) => (release = resolve));
    await previous;
    let committed: Promise<Receipt[]>;
    const added: PendingEvent[] = [];
    try {
      await this.prune();
      const now = BigInt(this.now());
      const inFlight = new Set(this.pending.map((p) => p.eventHash));
      // Judged against the index with every pending event laid over it, in log order (kept across requests).
      await this.overlay.judge(this.pending, now, (overlay) => {
        for (const p of fresh) this.judge(overlay, p, inFlight, now);
      });
      for (const p of fresh) {
        if (p.derived.kind === Kind.Observed || inFlight.has(p.eventHash)) continue;
        inFlight.add(p.eventHash);
        added.push({ index: -1, eventHash: p.eventHash, event: toLedgerEvent(p) });
      }
      // Queued under the lock, so log order is admission order; committed outside it, so requests share a group.
      committed = this.appender.addAll(fresh.map(logItem));
      this.pending.push(...added);
    } finally {
      release();
    }
    let receipts: Receipt[];
    try {
      receipts = await committed;
    } catch (err) {
      this.pending = this.pending.filter((p) => !added.includes(p));
      throw new ApiError("INTERNAL", `the log could not commit the events: ${(err as Error).message}`);
    }
    const byHash = new Map<string, Receipt>();
    fresh.forEach((p, i) => byHash.set(p.eventHash, receipts[i] as Receipt));
    for (const p of added) p.index = (byHash.get(p.eventHash) as Receipt).index;
    return byHash;
  }

  /** Admits one event to the overlay or throws the refusal; an event already in flight is a resubmission. */
  private judge(overlay: LayeredView, p: Prepared, inFlight: ReadonlySet<string>, now: bigint): void {
    if (inFlight.has(p.eventHash)) return;
    const event = toLedgerEvent(p);
    if (p.derived.kind === Kind.Observed) {
      if (!OBSERVER_ROLES.some((role) => overlay.hasRole(role, event.actor))) {
        throw refusal(
          p.position,
          new ApiError("SIGNER_LACKS_ROLE", "only a supply-chain actor (producer, importer, inspector, handler) may record observations", { role: "HANDLER" }),
        );
      }
      if (overlay.batch(p.derived.batchId) === undefined) {
        throw refusal(p.position, new ApiError("UNKNOWN_BATCH", `no batch ${p.derived.batchId} is registered`));
      }
      return;
    }
    const verdict = overlay.admit(event, now);
    if (!verdict.ok) throw refusal(p.position, verdictError(verdict));
  }
}

function logItem(p: Prepared) {
  return {
    key: p.eventHash,
    batchId: p.derived.batchId,
    kind: p.derived.kind,
    eventDigest: p.eventHash,
    docHash: p.derived.values.docHash,
    signer: p.signed.signer,
    signature: p.signed.signature,
    body: encodeEntryBody(p.derived.kind, {
      doc: p.signed.doc,
      values: p.derived.values,
      signer: p.signed.signer,
      signature: p.signed.signature,
    }),
  };
}

function toLedgerEvent(p: Prepared): LedgerEvent {
  return { kind: p.derived.kind, values: p.derived.values, actor: p.signed.signer, eventHash: p.eventHash } as LedgerEvent;
}

