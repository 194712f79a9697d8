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
 *   competing hand-off, a role revoked) can still make the contract refuse; see ledger-view.ts LayeredView for events accepted
 *   but not yet mined.
 * - GS1 keys are checked as the contract checks them: exactly 14 ASCII digits for a GTIN (no GTIN-8/12/13 padding, as
 *   gs1/keys.ts `normaliseGtin` does for documents) and lot / unit lengths in UTF-8 bytes, not UTF-16 code units.
 * - Quantities are uint256: a split whose children sum past 2^256 - 1, or a merge whose parents do, reverts with the
 *   compiler's arithmetic Panic (0x11), reported here as rule `Panic`, not as QuantityNotConserved.
 * - Recalls are inherited on read: `recalledAncestor` walks parents exactly as the contract's bounded depth-first
 *   walk does (protocol/lineage.ts firstRecalled), so it reports the same ancestor first.
 *
 * The other copies of the contract's batch rules: chain/index-reducer.ts derives batch state from the contract's
 * events by the same rules (what a mined event does, not whether it may), and store/sqlite-index.ts answers the
 * inherited recall with the same walk. The GS1 key checks are in gs1-rules.ts, the limits in protocol/limits.ts.
 */
import { Kind, ZERO_HASH, nextHead } from "../protocol/typed-data.ts";
import type { Address, Bytes32, ChildLot, KindName, ValuesOf } from "../protocol/typed-data.ts";
import { firstRecalled, RecallWalkError } from "../protocol/lineage.ts";
import { MAX_ANCESTRY, MAX_LINEAGE, MAX_UNIT_LENGTH } from "../protocol/limits.ts";
import { CUSTODY_ROLES, ROLE_IDS, rolesFor, type RoleName } from "../protocol/roles.ts";
import { gs1Refusal } from "./gs1-rules.ts";

const MAX_UINT256 = (1n << 256n) - 1n;
/** Solidity's Panic codes for checked arithmetic and array bounds. */
export const PANIC_OVERFLOW = 0x11n;
export const PANIC_OUT_OF_BOUNDS = 0x32n;

/**
 * A batch's place in its life, named as the contract's `Status` (the index and the answers spell it lower case:
 * store/index-store.ts BatchStatus); unknown ids have no state at all (the contract's Status.None).
 */
export type LedgerBatchStatus = "Active" | "Split" | "Merged";

/** The contract's `Status` numbering, as carried by BatchNotActive. */
export const STATUS_CODE: { readonly [S in LedgerBatchStatus]: bigint } = Object.freeze({ Active: 1n, Split: 2n, Merged: 3n });

/** The on-chain record of one batch (LifecycleTypes.Batch), as a LedgerView gives it to the rules. */
export interface LedgerBatch {
  readonly registrant: Address;
  readonly custodian: Address;
  readonly quantity: bigint;
  readonly unit: string;
  readonly status: LedgerBatchStatus;
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
  batch(batchId: Bytes32): LedgerBatch | undefined;
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
  | { readonly type: "batch"; readonly batchId: Bytes32; readonly state: LedgerBatch }
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
  readonly #writes = new Map<string, { batchId: Bytes32; state: LedgerBatch }>();
  #nonce: { actor: Address; nonce: bigint } | undefined;

  constructor(view: LedgerView) {
    this.#view = view;
  }

  get view(): LedgerView {
    return this.#view;
  }

  batch(batchId: Bytes32): LedgerBatch | undefined {
    return this.#writes.get(key(batchId))?.state ?? this.#view.batch(batchId);
  }

  put(batchId: Bytes32, state: LedgerBatch): void {
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

/** GS1.checkedBatchId: the batch id of valid keys, or GS1.sol's refusal (gs1-rules.ts). */
function checkedBatchId(gtin: string, lot: string): Bytes32 {
  const checked = gs1Refusal(gtin, lot);
  if (!checked.ok) refuse(checked.rule, checked.args, checked.message);
  return checked.batchId;
}

// ----------------------------------------------------------------------------------------------------------------
// The contract's private helpers, one function each, same names
// ----------------------------------------------------------------------------------------------------------------

/** The one role the contract's `onlyRole` check asks of this kind's actor (protocol/roles.ts KIND_ROLES). */
function onlyRole(kind: KindName, values: unknown): RoleName {
  const [role, ...more] = rolesFor(kind, values);
  if (role === undefined || more.length > 0) throw new TypeError(`${kind} does not ask for exactly one role`);
  return role;
}

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

function knownBatch(call: Call, batchId: Bytes32): LedgerBatch {
  const b = call.batch(batchId);
  if (b === undefined) refuse("UnknownBatch", [batchId], `no batch has id ${batchId}`);
  return b;
}

function activeBatch(call: Call, batchId: Bytes32): LedgerBatch {
  const b = knownBatch(call, batchId);
  if (b.status !== "Active") {
    refuse("BatchNotActive", [batchId, STATUS_CODE[b.status]], `batch ${batchId} is ${b.status}, not Active`);
  }
  const recalled = walkForRecall(call, batchId);
  if (recalled !== undefined) {
    const why = key(recalled) === key(batchId) ? "is recalled" : `descends from the recalled batch ${recalled}`;
    refuse("BatchRecalled", [batchId, recalled], `batch ${batchId} ${why}`);
  }
  return b;
}

function heldBatch(call: Call, batchId: Bytes32, actor: Address): LedgerBatch {
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

function checkReceiver(call: Call, batchId: Bytes32, b: LedgerBatch, to: Address): void {
  if (!isCustodyRole(call.view, to)) {
    refuse("NotCustodyHolder", [to], `${to} holds none of PRODUCER_ROLE, IMPORTER_ROLE, HANDLER_ROLE`);
  }
  if (b.imported && !b.customsCleared && call.view.isRetail(to)) {
    refuse("RetailBeforeClearance", [batchId, to], `imported batch ${batchId} may not go to retail ${to} before customs clearance`);
  }
}

/** _create: a new Active batch; BatchExists if the id is taken. The caller checks the unit when it comes from calldata. */
function create(call: Call, batchId: Bytes32, custodian: Address, quantity: bigint, unit: string): LedgerBatch {
  if (call.batch(batchId) !== undefined) refuse("BatchExists", [batchId], `a batch with id ${batchId} already exists`);
  const b: LedgerBatch = {
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
function extend(call: Call, batchId: Bytes32, b: LedgerBatch, eventHash: Bytes32, changes: Partial<LedgerBatch> = {}): void {
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
  checkRole(call.view, onlyRole("Registered", e), actor);
  const batchId = checkedBatchId(e.gtin, e.lot);
  if (e.quantity === 0n) refuse("ZeroQuantity", [], `batch ${e.gtin}/${e.lot} has quantity zero`);
  checkUnit(e.unit);
  const b = create(call, batchId, actor, e.quantity, e.unit);
  extend(call, batchId, b, eventHash, { registrant: actor, imported: e.imported });
}

function recordPesticide(call: Call, { values: e, actor, eventHash }: Event<Kind.PesticideApplied>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, onlyRole("PesticideApplied", e), actor);
  const b = activeBatch(call, e.batchId);
  if (!sameAddress(b.custodian, actor)) {
    refuse("NotCustodian", [e.batchId, b.custodian, actor], `${actor} is not the custodian of ${e.batchId} (${b.custodian} is)`);
  }
  extend(call, e.batchId, b, eventHash);
}

function recordInspection(call: Call, { values: e, actor, eventHash }: Event<Kind.Inspected>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, onlyRole("Inspected", e), actor);
  extend(call, e.batchId, activeBatch(call, e.batchId), eventHash);
}

function clearCustoms(call: Call, { values: e, actor, eventHash }: Event<Kind.CustomsCleared>, now: bigint): void {
  authorize(call, actor, e.nonce, e.deadline, now);
  checkRole(call.view, onlyRole("CustomsCleared", e), actor);
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
  parent: LedgerBatch,
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
  checkRole(call.view, onlyRole("Recalled", e), actor);
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

/** The contract's _recalledAncestor (protocol/lineage.ts) over the call's state; its stack overflow is the Panic. */
function walkForRecall(call: Call, batchId: Bytes32): Bytes32 | undefined {
  try {
    return firstRecalled((id) => call.batch(id), batchId);
  } catch (e) {
    if (e instanceof RecallWalkError) refuse("Panic", [PANIC_OUT_OF_BOUNDS], e.message);
    throw e;
  }
}

/**
 * The first recalled batch among `batchId` and its ancestors, in the contract's walk order, or undefined: what the
 * contract's `isRecalled` answers (true exactly when this is defined). Throws RecallWalkError where isRecalled reverts
 * (a lineage that overflows the walk's bounded stack).
 */
export function recalledAncestor(view: LedgerView, batchId: Bytes32): Bytes32 | undefined {
  return firstRecalled((id) => view.batch(id), batchId);
}
