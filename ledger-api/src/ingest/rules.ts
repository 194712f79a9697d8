/**
 * The ProvenanceLedger contract's rules, mirrored off chain, so ingest can refuse a lifecycle event that the contract
 * would revert before the event is logged and relayed.
 *
 * Guarantees (pinned by test/api/ingest/rules.differential.test.ts against the real contract):
 * - `checkEvent(view, event, now)` accepts exactly when the contract, holding the state `view` describes at block
 *   time `now`, would record the event sent directly by `event.actor`; on a refusal, `rule` is the name of the custom
 *   error the contract reverts with and `args` are its arguments. The checks run in the contract's order, so when an
 *   event breaks several rules the first one reported is the contract's.
 * - On acceptance, `effects` are the full new states of every batch the event creates or changes, in the order the
 *   contract writes them, plus the spent nonce: a reader that lays them over `view` sees the contract's new state.
 * - Pure and synchronous: no I/O, no clock; the view and `now` are the only inputs.
 *
 * Traps:
 * - Authentication is not mirrored: the caller has verified the signature (or that the sender is the actor), and
 *   a relayed call additionally needs RELAYER_ROLE for msg.sender, which is the relayer's business.
 * - The verdict is only as fresh as the view. Between acceptance here and mining, another event (a recall, a
 *   competing hand-off, a role revoked) can still make the contract refuse; see {@link Overlay} for events accepted
 *   but not yet mined.
 * - GS1 keys are checked as the contract checks them: exactly 14 ASCII digits for a GTIN (no GTIN-8/12/13 padding, as
 *   gs1/keys.ts `normaliseGtin` does for documents) and lot / unit lengths in UTF-8 bytes, not UTF-16 code units.
 * - Quantities are uint256: a split whose children sum past 2^256 - 1, or a merge whose parents do, reverts with the
 *   compiler's arithmetic Panic (0x11), reported here as rule `Panic`, not as QuantityNotConserved.
 * - Recalls are inherited on read: `recalledAncestor` walks parents exactly as the contract's bounded depth-first
 *   walk does, so it reports the same ancestor first.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import {
  Kind,
  ZERO_HASH,
  batchIdOf,
  gtinCheckDigit,
  isValidLot,
  nextHead,
} from "../protocol/typed-data.ts";
import type { Address, Bytes32, ChildLot, ValuesOf } from "../protocol/typed-data.ts";

/** Most children of one split and most parents of one merge (ProvenanceLedger.MAX_LINEAGE). */
export const MAX_LINEAGE = 32;
/** Most ancestors, counted per lineage path, a batch may have (ProvenanceLedger.MAX_ANCESTRY). */
export const MAX_ANCESTRY = 32;
/** Longest unit string in UTF-8 bytes (ProvenanceLedger.MAX_UNIT_LENGTH). */
export const MAX_UNIT_LENGTH = 32;
/** Length of a GTIN-14 (GS1.GTIN_LENGTH). */
export const GTIN_LENGTH = 14;
/** Longest lot in bytes (GS1.MAX_LOT_LENGTH). */
export const MAX_LOT_LENGTH = 20;

const MAX_UINT256 = (1n << 256n) - 1n;
/** Solidity's Panic codes for checked arithmetic and array bounds. */
export const PANIC_OVERFLOW = 0x11n;
export const PANIC_OUT_OF_BOUNDS = 0x32n;

export type RoleName =
  | "DEFAULT_ADMIN"
  | "REGULATOR"
  | "PRODUCER"
  | "IMPORTER"
  | "INSPECTOR"
  | "HANDLER"
  | "RELAYER"
  | "ANCHORER";

/** The bytes32 id of each role as AccessControl stores it: keccak256 of "<NAME>_ROLE", the admin role zero. */
export const ROLE_IDS: { readonly [R in RoleName]: Bytes32 } = Object.freeze({
  DEFAULT_ADMIN: ZERO_HASH,
  REGULATOR: keccak256(toUtf8Bytes("REGULATOR_ROLE")),
  PRODUCER: keccak256(toUtf8Bytes("PRODUCER_ROLE")),
  IMPORTER: keccak256(toUtf8Bytes("IMPORTER_ROLE")),
  INSPECTOR: keccak256(toUtf8Bytes("INSPECTOR_ROLE")),
  HANDLER: keccak256(toUtf8Bytes("HANDLER_ROLE")),
  RELAYER: keccak256(toUtf8Bytes("RELAYER_ROLE")),
  ANCHORER: keccak256(toUtf8Bytes("ANCHORER_ROLE")),
});

/** The roles that may hold custody (ActorRegistry._isCustodyRole). */
export const CUSTODY_ROLES: readonly RoleName[] = Object.freeze(["HANDLER", "PRODUCER", "IMPORTER"] as const);

/** A batch's place in its life; unknown ids have no state at all (the contract's Status.None). */
export type BatchStatus = "Active" | "Split" | "Merged";

/** The contract's `Status` numbering, as carried by BatchNotActive. */
export const STATUS_CODE: { readonly [S in BatchStatus]: bigint } = Object.freeze({ Active: 1n, Split: 2n, Merged: 3n });

/** The on-chain record of one batch (LifecycleTypes.Batch). */
export interface BatchState {
  readonly registrant: Address;
  readonly custodian: Address;
  readonly quantity: bigint;
  readonly unit: string;
  readonly status: BatchStatus;
  /** Recalled itself; inherited recalls come from {@link recalledAncestor}. */
  readonly recalled: boolean;
  readonly imported: boolean;
  readonly customsCleared: boolean;
  /** The receiver of the open hand-off offer; undefined when none (the contract's address(0)). */
  readonly offerTo: Address | undefined;
  readonly parents: readonly Bytes32[];
  readonly ancestry: number;
  readonly head: Bytes32;
}

/** What the rules read: the ledger's state as of some block (indexed chain state, possibly with an overlay). */
export interface LedgerView {
  batch(batchId: Bytes32): BatchState | undefined;
  hasRole(role: RoleName, account: Address): boolean;
  /** The `retail` flag of the account's profile (false without a profile). */
  isRetail(account: Address): boolean;
  nonceUsed(actor: Address, nonce: bigint): boolean;
}

/** One event as the rules see it: its kind and signed values, its authenticated actor and its EIP-712 hash. */
export type LedgerEvent = {
  readonly [K in Kind]: {
    readonly kind: K;
    readonly values: ValuesOf[K];
    readonly actor: Address;
    readonly eventHash: Bytes32;
  };
}[Kind];

/** A change an accepted event makes: a batch's full new state, or a spent nonce. */
export type BatchEffect =
  | { readonly type: "batch"; readonly batchId: Bytes32; readonly state: BatchState }
  | { readonly type: "nonce"; readonly actor: Address; readonly nonce: bigint };

/** The contract's custom errors the rules can report, plus the compiler's Panic. */
export type RuleName =
  | "DeadlinePassed"
  | "NonceAlreadyUsed"
  | "AccessControlUnauthorizedAccount"
  | "GtinMalformed"
  | "GtinCheckDigitMismatch"
  | "LotLengthInvalid"
  | "LotCharacterInvalid"
  | "ZeroQuantity"
  | "UnitInvalid"
  | "BatchExists"
  | "UnknownBatch"
  | "BatchNotActive"
  | "BatchRecalled"
  | "AlreadyRecalled"
  | "NotCustodian"
  | "NotCustodyHolder"
  | "OfferAlreadyOpen"
  | "SelfHandOff"
  | "RetailBeforeClearance"
  | "NoOpenOffer"
  | "NotOfferRecipient"
  | "CustodianMismatch"
  | "OfferMismatch"
  | "NotImported"
  | "NotRegistrant"
  | "AlreadyCleared"
  | "LineageSizeInvalid"
  | "AncestryTooDeep"
  | "QuantityNotConserved"
  | "DuplicateParent"
  | "MergeIntoParent"
  | "UnitMismatch"
  | "Panic";

/** A custom error argument: addresses, hashes and strings as strings, integers (and enum values) as bigints. */
export type RuleArg = string | bigint;

export type Verdict =
  | { readonly ok: true; readonly effects: readonly BatchEffect[] }
  | { readonly ok: false; readonly rule: RuleName; readonly message: string; readonly args: readonly RuleArg[] };

/** The verdict of a refusal; thrown inside the checks as the contract reverts, caught once at the top. */
class Refusal extends Error {
  readonly rule: RuleName;
  readonly args: readonly RuleArg[];

  constructor(rule: RuleName, args: readonly RuleArg[], message: string) {
    super(`${rule}: ${message}`);
    this.rule = rule;
    this.args = args;
  }
}

function refuse(rule: RuleName, args: readonly RuleArg[], message: string): never {
  throw new Refusal(rule, args, message);
}

const ZERO_ADDRESS = "0x" + "00".repeat(20);

function sameAddress(a: Address | undefined, b: Address | undefined): boolean {
  return (a ?? ZERO_ADDRESS).toLowerCase() === (b ?? ZERO_ADDRESS).toLowerCase();
}

function key(hex: string): string {
  return hex.toLowerCase();
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * The writes of one call, over the view: reads see earlier writes of the same call (a merge may consume a batch it
 * has just created; a split's second child with the first's id is BatchExists), and a refusal drops them all, as a
 * revert does.
 */
class Call {
  readonly #view: LedgerView;
  readonly #writes = new Map<string, { batchId: Bytes32; state: BatchState }>();
  #nonce: { actor: Address; nonce: bigint } | undefined;

  constructor(view: LedgerView) {
    this.#view = view;
  }

  get view(): LedgerView {
    return this.#view;
  }

  batch(batchId: Bytes32): BatchState | undefined {
    return this.#writes.get(key(batchId))?.state ?? this.#view.batch(batchId);
  }

  put(batchId: Bytes32, state: BatchState): void {
    const k = key(batchId);
    const earlier = this.#writes.get(k);
    this.#writes.set(k, { batchId: earlier?.batchId ?? batchId, state });
  }

  spend(actor: Address, nonce: bigint): void {
    this.#nonce = { actor, nonce };
  }

  effects(): BatchEffect[] {
    const out: BatchEffect[] = [];
    if (this.#nonce) out.push({ type: "nonce", ...this.#nonce });
    for (const { batchId, state } of this.#writes.values()) out.push({ type: "batch", batchId, state });
    return out;
  }
}

// ----------------------------------------------------------------------------------------------------------------
// GS1 (contracts/lib/GS1.sol)
// ----------------------------------------------------------------------------------------------------------------

/** GS1.checkGtin: 14 ASCII digits (GtinMalformed), then the mod-10 check digit. */
function checkGtin(gtin: string): void {
  if (!/^[0-9]{14}$/.test(gtin)) {
    refuse("GtinMalformed", [gtin], `GTIN "${gtin}" is not 14 ASCII digits`);
  }
  const expected = gtinCheckDigit(gtin.slice(0, GTIN_LENGTH - 1));
  const actual = Number(gtin[GTIN_LENGTH - 1]);
  if (expected !== actual) {
    refuse(
      "GtinCheckDigitMismatch",
      [gtin, BigInt(expected), BigInt(actual)],
      `GTIN ${gtin} ends in check digit ${actual}, expected ${expected}`,
    );
  }
}

/** GS1.checkLot: 1..20 bytes (LotLengthInvalid), then each byte in character set 82, first bad byte reported. */
function checkLot(lot: string): void {
  const bytes = Buffer.from(lot, "utf8");
  if (bytes.length === 0 || bytes.length > MAX_LOT_LENGTH) {
    refuse("LotLengthInvalid", [lot, BigInt(bytes.length)], `lot "${lot}" is ${bytes.length} bytes, not 1 to ${MAX_LOT_LENGTH}`);
  }
  if (isValidLot(lot)) return;
  // A lot is checked byte by byte; a one-character string of one byte is in set 82 exactly when it is a valid lot.
  const position = bytes.findIndex((b) => b > 0x7f || !isValidLot(String.fromCharCode(b)));
  refuse(
    "LotCharacterInvalid",
    [lot, BigInt(position)],
    `lot "${lot}" has a character outside GS1 character set 82 at byte ${position}`,
  );
}

/** GS1.checkedBatchId. */
function checkedBatchId(gtin: string, lot: string): Bytes32 {
  checkGtin(gtin);
  checkLot(lot);
  return batchIdOf(gtin, lot);
}

// ----------------------------------------------------------------------------------------------------------------
// The contract's private helpers, one function each, same names
// ----------------------------------------------------------------------------------------------------------------

function checkRole(view: LedgerView, role: RoleName, account: Address): void {
  if (!view.hasRole(role, account)) {
    refuse("AccessControlUnauthorizedAccount", [account, ROLE_IDS[role]], `${account} does not hold ${role}_ROLE`);
  }
}

function isCustodyRole(view: LedgerView, account: Address): boolean {
  return CUSTODY_ROLES.some((role) => view.hasRole(role, account));
}

/** _authorize without the signature: deadline, then the nonce, which it spends. */
function authorize(call: Call, actor: Address, nonce: bigint, deadline: bigint, now: bigint): void {
  if (now > deadline) refuse("DeadlinePassed", [deadline, now], `the deadline ${deadline} passed at block time ${now}`);
  if (call.view.nonceUsed(actor, nonce)) {
    refuse("NonceAlreadyUsed", [actor, nonce], `${actor} already spent nonce ${nonce}`);
  }
  call.spend(actor, nonce);
}

function knownBatch(call: Call, batchId: Bytes32): BatchState {
  const b = call.batch(batchId);
  if (b === undefined) refuse("UnknownBatch", [batchId], `no batch has id ${batchId}`);
  return b;
}

function activeBatch(call: Call, batchId: Bytes32): BatchState {
  const b = knownBatch(call, batchId);
  if (b.status !== "Active") {
    refuse("BatchNotActive", [batchId, STATUS_CODE[b.status]], `batch ${batchId} is ${b.status}, not Active`);
  }
  const recalled = walkForRecall((id) => call.batch(id), batchId);
  if (recalled !== undefined) {
    const why = key(recalled) === key(batchId) ? "is recalled" : `descends from the recalled batch ${recalled}`;
    refuse("BatchRecalled", [batchId, recalled], `batch ${batchId} ${why}`);
  }
  return b;
}

function heldBatch(call: Call, batchId: Bytes32, actor: Address): BatchState {
  const b = activeBatch(call, batchId);
  if (!sameAddress(b.custodian, actor)) {
    refuse("NotCustodian", [batchId, b.custodian, actor], `${actor} is not the custodian of ${batchId} (${b.custodian} is)`);
  }
  if (!isCustodyRole(call.view, actor)) {
    refuse("NotCustodyHolder", [actor], `${actor} holds none of PRODUCER_ROLE, IMPORTER_ROLE, HANDLER_ROLE`);
  }
  if (b.offerTo !== undefined) {
    refuse("OfferAlreadyOpen", [batchId, b.offerTo], `batch ${batchId} already has an open offer to ${b.offerTo}`);
  }
  return b;
}

function checkReceiver(call: Call, batchId: Bytes32, b: BatchState, to: Address): void {
  if (!isCustodyRole(call.view, to)) {
    refuse("NotCustodyHolder", [to], `${to} holds none of PRODUCER_ROLE, IMPORTER_ROLE, HANDLER_ROLE`);
  }
  if (b.imported && !b.customsCleared && call.view.isRetail(to)) {
    refuse("RetailBeforeClearance", [batchId, to], `imported batch ${batchId} may not go to retail ${to} before customs clearance`);
  }
}

/** _create: a new Active batch; BatchExists if the id is taken. The caller checks the unit when it comes from calldata. */
function create(call: Call, batchId: Bytes32, custodian: Address, quantity: bigint, unit: string): BatchState {
  if (call.batch(batchId) !== undefined) refuse("BatchExists", [batchId], `a batch with id ${batchId} already exists`);
  const b: BatchState = {
    registrant: ZERO_ADDRESS,
    custodian,
    quantity,
    unit,
    status: "Active",
    recalled: false,
    imported: false,
    customsCleared: false,
    offerTo: undefined,
    parents: [],
    ancestry: 0,
    head: ZERO_HASH,
  };
  call.put(batchId, b);
  return b;
}

function checkUnit(unit: string): void {
  const len = utf8Length(unit);
  if (len === 0 || len > MAX_UNIT_LENGTH) {
    refuse("UnitInvalid", [unit], `unit "${unit}" is ${len} bytes, not 1 to ${MAX_UNIT_LENGTH}`);
  }
}

/** Writes `b` with its head extended by `eventHash` (_extend). */
function extend(call: Call, batchId: Bytes32, b: BatchState, eventHash: Bytes32, changes: Partial<BatchState> = {}): void {
  call.put(batchId, { ...b, ...changes, head: nextHead(b.head, eventHash) });
}

function addUint256(a: bigint, b: bigint, what: string): bigint {
  const sum = a + b;
  if (sum > MAX_UINT256) refuse("Panic", [PANIC_OVERFLOW], `${what} overflows uint256`);
  return sum;
}

// ----------------------------------------------------------------------------------------------------------------
// One function per lifecycle function of the contract
// ----------------------------------------------------------------------------------------------------------------

type Event<K extends Kind> = Extract<LedgerEvent, { kind: K }>;

function register(call: Call, { values: e, actor, eventHash }: Event<Kind.Registered>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, e.imported ? "IMPORTER" : "PRODUCER", actor);
  const batchId = checkedBatchId(e.gtin, e.lot);
  if (e.quantity === 0n) refuse("ZeroQuantity", [], `batch ${e.gtin}/${e.lot} has quantity zero`);
  checkUnit(e.unit);
  const b = create(call, batchId, actor, e.quantity, e.unit);
  extend(call, batchId, b, eventHash, { registrant: actor, imported: e.imported });
}

function recordPesticide(call: Call, { values: e, actor, eventHash }: Event<Kind.PesticideApplied>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, "PRODUCER", actor);
  const b = activeBatch(call, e.batchId);
  if (!sameAddress(b.custodian, actor)) {
    refuse("NotCustodian", [e.batchId, b.custodian, actor], `${actor} is not the custodian of ${e.batchId} (${b.custodian} is)`);
  }
  extend(call, e.batchId, b, eventHash);
}

function recordInspection(call: Call, { values: e, actor, eventHash }: Event<Kind.Inspected>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, "INSPECTOR", actor);
  extend(call, e.batchId, activeBatch(call, e.batchId), eventHash);
}

function clearCustoms(call: Call, { values: e, actor, eventHash }: Event<Kind.CustomsCleared>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, "IMPORTER", actor);
  const b = activeBatch(call, e.batchId);
  if (!b.imported) refuse("NotImported", [e.batchId], `batch ${e.batchId} was not imported`);
  if (!sameAddress(b.registrant, actor)) {
    refuse("NotRegistrant", [e.batchId, b.registrant, actor], `${actor} is not the importer of record of ${e.batchId} (${b.registrant} is)`);
  }
  if (b.customsCleared) refuse("AlreadyCleared", [e.batchId], `batch ${e.batchId} was already cleared`);
  extend(call, e.batchId, b, eventHash, { customsCleared: true });
}

function offerHandOff(call: Call, { values: e, actor, eventHash }: Event<Kind.HandOffOffered>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  const b = heldBatch(call, e.batchId, actor);
  if (sameAddress(e.to, actor)) refuse("SelfHandOff", [e.batchId, actor], `${actor} offered batch ${e.batchId} to itself`);
  checkReceiver(call, e.batchId, b, e.to);
  // An offer "to" address(0) is no offer: the contract stores zero, which reads as none.
  extend(call, e.batchId, b, eventHash, { offerTo: sameAddress(e.to, ZERO_ADDRESS) ? undefined : e.to });
}

function acceptHandOff(call: Call, { values: e, actor, eventHash }: Event<Kind.HandOffAccepted>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  const b = activeBatch(call, e.batchId);
  const offeredTo = b.offerTo;
  if (offeredTo === undefined) refuse("NoOpenOffer", [e.batchId], `batch ${e.batchId} has no open offer`);
  if (!sameAddress(offeredTo, actor)) {
    refuse("NotOfferRecipient", [e.batchId, offeredTo, actor], `batch ${e.batchId} is offered to ${offeredTo}, not ${actor}`);
  }
  if (!sameAddress(e.from, b.custodian)) {
    refuse("CustodianMismatch", [e.batchId, b.custodian, e.from], `the acceptance names ${e.from} but ${b.custodian} holds ${e.batchId}`);
  }
  checkReceiver(call, e.batchId, b, actor);
  extend(call, e.batchId, b, eventHash, { custodian: actor, offerTo: undefined });
}

function cancelHandOff(call: Call, { values: e, actor, eventHash }: Event<Kind.HandOffCancelled>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  const b = activeBatch(call, e.batchId);
  if (!sameAddress(b.custodian, actor)) {
    refuse("NotCustodian", [e.batchId, b.custodian, actor], `${actor} is not the custodian of ${e.batchId} (${b.custodian} is)`);
  }
  if (b.offerTo === undefined) refuse("NoOpenOffer", [e.batchId], `batch ${e.batchId} has no open offer`);
  if (!sameAddress(b.offerTo, e.to)) {
    refuse("OfferMismatch", [e.batchId, b.offerTo, e.to], `batch ${e.batchId} is offered to ${b.offerTo}, not ${e.to}`);
  }
  extend(call, e.batchId, b, eventHash, { offerTo: undefined });
}

function split(call: Call, { values: e, actor, eventHash }: Event<Kind.Split>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  const parent = heldBatch(call, e.batchId, actor);
  createChildren(call, e.batchId, e.children, parent, actor, eventHash);
  extend(call, e.batchId, parent, eventHash, { status: "Split" });
}

function createChildren(
  call: Call,
  parentId: Bytes32,
  children: readonly ChildLot[],
  parent: BatchState,
  actor: Address,
  eventHash: Bytes32,
): void {
  const n = children.length;
  if (n < 2 || n > MAX_LINEAGE) refuse("LineageSizeInvalid", [BigInt(n)], `a split needs 2 to ${MAX_LINEAGE} children, got ${n}`);
  if (parent.ancestry + 1 > MAX_ANCESTRY) {
    refuse("AncestryTooDeep", [BigInt(parent.ancestry + 1), BigInt(MAX_ANCESTRY)], `the children would have ${parent.ancestry + 1} ancestors, more than ${MAX_ANCESTRY}`);
  }
  let total = 0n;
  for (const c of children) {
    const id = checkedBatchId(c.gtin, c.lot);
    if (c.quantity === 0n) refuse("ZeroQuantity", [], `child ${c.gtin}/${c.lot} has quantity zero`);
    const child = create(call, id, actor, c.quantity, parent.unit);
    call.put(id, {
      ...child,
      registrant: parent.registrant,
      imported: parent.imported,
      customsCleared: parent.customsCleared,
      ancestry: parent.ancestry + 1,
      parents: [parentId],
      head: nextHead(ZERO_HASH, eventHash),
    });
    total = addUint256(total, c.quantity, "the sum of the children's quantities");
  }
  if (total !== parent.quantity) {
    refuse("QuantityNotConserved", [parentId, parent.quantity, total], `the children of ${parentId} sum to ${total}, not its ${parent.quantity}`);
  }
}

function merge(call: Call, { values: e, actor, eventHash }: Event<Kind.Merged>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  const n = e.parents.length;
  if (n < 2 || n > MAX_LINEAGE) refuse("LineageSizeInvalid", [BigInt(n)], `a merge needs 2 to ${MAX_LINEAGE} parents, got ${n}`);
  const batchId = checkedBatchId(e.gtin, e.lot);
  for (const parent of e.parents) {
    if (key(parent) === key(batchId)) refuse("MergeIntoParent", [batchId], `the new lot ${batchId} is one of its own parents`);
  }
  // The child's unit is read from the first parent before anything else checks it: "" when that parent is unknown.
  create(call, batchId, actor, 0n, call.batch(e.parents[0] as Bytes32)?.unit ?? "");
  consumeParents(call, e.parents, actor, batchId, eventHash);
  const child = knownBatch(call, batchId);
  call.put(batchId, { ...child, head: nextHead(ZERO_HASH, eventHash) });
}

function consumeParents(call: Call, parents: readonly Bytes32[], actor: Address, childId: Bytes32, eventHash: Bytes32): void {
  checkDistinct(parents);
  let quantity = 0n;
  let ancestry = 0;
  let imported = false;
  let cleared = true;
  for (const id of parents) {
    const p = heldBatch(call, id, actor);
    // Re-read: the child is storage in the contract, and consuming a parent may have written it (a parent id equal
    // to the child's, when that id was unknown before this merge created it).
    const unit = knownBatch(call, childId).unit;
    if (p.unit !== unit) refuse("UnitMismatch", [id, p.unit, unit], `parent ${id} is in "${p.unit}", the merge in "${unit}"`);
    extend(call, id, p, eventHash, { status: "Merged" });
    quantity = addUint256(quantity, p.quantity, "the sum of the parents' quantities");
    ancestry += p.ancestry + 1;
    if (p.imported) {
      imported = true;
      cleared = cleared && p.customsCleared;
    }
  }
  if (ancestry > MAX_ANCESTRY) {
    refuse("AncestryTooDeep", [BigInt(ancestry), BigInt(MAX_ANCESTRY)], `the merged batch would have ${ancestry} ancestors, more than ${MAX_ANCESTRY}`);
  }
  const child = knownBatch(call, childId);
  call.put(childId, {
    ...child,
    registrant: actor,
    quantity,
    ancestry,
    imported,
    customsCleared: imported && cleared,
    parents: [...parents],
  });
}

function checkDistinct(ids: readonly Bytes32[]): void {
  for (let i = 1; i < ids.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = ids[i] as Bytes32;
      if (key(ids[j] as Bytes32) === key(a)) refuse("DuplicateParent", [a], `parent ${a} appears twice`);
    }
  }
}

function recall(call: Call, { values: e, actor, eventHash }: Event<Kind.Recalled>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, "REGULATOR", actor);
  const b = knownBatch(call, e.batchId);
  if (b.recalled) refuse("AlreadyRecalled", [e.batchId], `batch ${e.batchId} was already recalled`);
  extend(call, e.batchId, b, eventHash, { recalled: true });
}

// ----------------------------------------------------------------------------------------------------------------
// Public API
// ----------------------------------------------------------------------------------------------------------------

/**
 * The contract's verdict on `event`, sent directly by its actor at block time `now` (unix seconds) against the
 * state `view` describes. `Observed` events have no on-chain rule and are always accepted with no effects.
 */
export function checkEvent(view: LedgerView, event: LedgerEvent, now: bigint): Verdict {
  const call = new Call(view);
  try {
    switch (event.kind) {
      case Kind.Registered:
        register(call, event, now);
        break;
      case Kind.PesticideApplied:
        recordPesticide(call, event, now);
        break;
      case Kind.Inspected:
        recordInspection(call, event, now);
        break;
      case Kind.CustomsCleared:
        clearCustoms(call, event, now);
        break;
      case Kind.HandOffOffered:
        offerHandOff(call, event, now);
        break;
      case Kind.HandOffAccepted:
        acceptHandOff(call, event, now);
        break;
      case Kind.HandOffCancelled:
        cancelHandOff(call, event, now);
        break;
      case Kind.Split:
        split(call, event, now);
        break;
      case Kind.Merged:
        merge(call, event, now);
        break;
      case Kind.Recalled:
        recall(call, event, now);
        break;
      case Kind.Observed:
        return { ok: true, effects: [] };
      default: {
        const never: never = event;
        throw new TypeError(`unknown event kind ${String((never as { kind: unknown }).kind)}`);
      }
    }
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, rule: e.rule, message: e.message, args: e.args };
    throw e;
  }
  return { ok: true, effects: call.effects() };
}

/** The contract's _recalledAncestor over any batch reader. */
function walkForRecall(read: (batchId: Bytes32) => BatchState | undefined, batchId: Bytes32): Bytes32 | undefined {
  const b = read(batchId);
  if (b === undefined) return undefined;
  if (b.recalled) return batchId;
  if (b.ancestry === 0) return undefined;
  // Depth-first with the contract's fixed-size stack (ancestry entries), so the same ancestor is found first and a
  // lineage that would overflow that stack fails here as it panics there.
  const capacity = b.ancestry;
  const stack: Bytes32[] = [];
  const push = (ids: readonly Bytes32[]): void => {
    for (const id of ids) {
      if (stack.length >= capacity) {
        refuse("Panic", [PANIC_OUT_OF_BOUNDS], `the recall walk from ${batchId} overflows its stack of ${capacity}`);
      }
      stack.push(id);
    }
  };
  push(b.parents);
  while (stack.length > 0) {
    const id = stack.pop() as Bytes32;
    const a = read(id);
    if (a?.recalled) return id;
    push(a?.parents ?? []);
  }
  return undefined;
}

/** Thrown by {@link recalledAncestor} where the contract's isRecalled reverts. */
export class RecallWalkError extends Error {
  override readonly name = "RecallWalkError";
}

/**
 * The first recalled batch among `batchId` and its ancestors, in the contract's walk order, or undefined: what the
 * contract's `isRecalled` answers (true exactly when this is defined). Throws RecallWalkError where isRecalled reverts
 * (a lineage that overflows the walk's bounded stack).
 */
export function recalledAncestor(view: LedgerView, batchId: Bytes32): Bytes32 | undefined {
  try {
    return walkForRecall((id) => view.batch(id), batchId);
  } catch (e) {
    if (e instanceof Refusal) throw new RecallWalkError(e.message);
    throw e;
  }
}

/**
 * A ledger view with the effects of accepted-but-unmined events laid over a base view (indexed chain state), so
 * that a run of events submitted before the first is mined is judged as the contract will judge them in order.
 *
 * Roles and profiles always come from the base: lifecycle events never change them.
 *
 * Trap: the overlay holds full batch states, so it hides any later change the base sees to those batches (a recall
 * mined from elsewhere). When the base advances, start a new Overlay over it and re-admit the events still pending;
 * that also finds the pending events the new state has doomed.
 */
export class Overlay implements LedgerView {
  readonly #base: LedgerView;
  readonly #batches = new Map<string, BatchState>();
  readonly #nonces = new Set<string>();

  constructor(base: LedgerView) {
    this.#base = base;
  }

  batch(batchId: Bytes32): BatchState | undefined {
    return this.#batches.get(key(batchId)) ?? this.#base.batch(batchId);
  }

  hasRole(role: RoleName, account: Address): boolean {
    return this.#base.hasRole(role, account);
  }

  isRetail(account: Address): boolean {
    return this.#base.isRetail(account);
  }

  nonceUsed(actor: Address, nonce: bigint): boolean {
    return this.#nonces.has(nonceKey(actor, nonce)) || this.#base.nonceUsed(actor, nonce);
  }

  /** Lays the effects of an accepted event over the view. */
  apply(effects: readonly BatchEffect[]): void {
    for (const effect of effects) {
      if (effect.type === "nonce") this.#nonces.add(nonceKey(effect.actor, effect.nonce));
      else this.#batches.set(key(effect.batchId), effect.state);
    }
  }

  /** Checks `event` against this view and, when accepted, applies its effects. */
  admit(event: LedgerEvent, now: bigint): Verdict {
    const verdict = checkEvent(this, event, now);
    if (verdict.ok) this.apply(verdict.effects);
    return verdict;
  }

  /** How many batches and nonces the overlay holds over its base. */
  get size(): { readonly batches: number; readonly nonces: number } {
    return { batches: this.#batches.size, nonces: this.#nonces.size };
  }
}

function nonceKey(actor: Address, nonce: bigint): string {
  return `${actor.toLowerCase()}:${nonce}`;
}
