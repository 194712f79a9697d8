/**
 * The EIP-712 vocabulary of the ledger: the single TypeScript source of truth for what actors sign and what the
 * ProvenanceLedger contract (contracts/lib/LifecycleTypes.sol) verifies.
 *
 *   eventHash = keccak256("\x19\x01" || domainSeparator || hashStruct(kind, values))
 *   head'     = keccak256(abi.encode(head, eventHash))          (head starts at bytes32(0) per batch)
 *
 * The `Kind` numbering, the struct names and the field order and types below are an interface shared with the
 * contract: change both in the same commit, or every signature stops verifying. Every struct ends with the common
 * fields `occurredAt` (unix seconds when the fact happened), `docHash` (keccak256 of the RFC 8785 canonical JSON
 * document), `nonce` (unordered: any value the actor has not used before) and `deadline` (unix seconds after which
 * the signature is void). `Observed` is off chain only: the contract has no function for it.
 *
 * A batch id is keccak256 of the GS1 Digital Link path `/01/{gtin14}/10/{lot}` with the lot NOT percent-encoded.
 */
import { concat, dataLength, getBytes } from "ethers";
import { keccak256 as keccakBytes } from "../log/keccak.ts";
import type { TypedDataDomain, TypedDataField } from "ethers";
import { hasherFor, kindTypeString, structHashBytes, toHex } from "./eip712.ts";
import { canonicalPath, checkLot, gs1CheckDigit } from "../gs1/keys.ts";

/**
 * Event kinds; the numbering matches `LifecycleTypes.Kind` in Solidity. A const object rather than a TS `enum` so
 * the file runs under Node's type stripping as well as tsc; use it like an enum (`Kind.Split`).
 */
export const Kind = Object.freeze({
  Registered: 0,
  PesticideApplied: 1,
  Inspected: 2,
  CustomsCleared: 3,
  HandOffOffered: 4,
  HandOffAccepted: 5,
  HandOffCancelled: 6,
  Split: 7,
  Merged: 8,
  Recalled: 9,
  Observed: 10,
} as const);

export type KindName = keyof typeof Kind;
export type Kind = (typeof Kind)[KindName];
// Per-member types, so `Kind.Split` can be used as a type as with an enum.
export declare namespace Kind {
  type Registered = typeof Kind.Registered;
  type PesticideApplied = typeof Kind.PesticideApplied;
  type Inspected = typeof Kind.Inspected;
  type CustomsCleared = typeof Kind.CustomsCleared;
  type HandOffOffered = typeof Kind.HandOffOffered;
  type HandOffAccepted = typeof Kind.HandOffAccepted;
  type HandOffCancelled = typeof Kind.HandOffCancelled;
  type Split = typeof Kind.Split;
  type Merged = typeof Kind.Merged;
  type Recalled = typeof Kind.Recalled;
  type Observed = typeof Kind.Observed;
}

/** The names of the kinds, indexed by number. */
export const KIND_NAMES: readonly KindName[] = Object.freeze([
  "Registered",
  "PesticideApplied",
  "Inspected",
  "CustomsCleared",
  "HandOffOffered",
  "HandOffAccepted",
  "HandOffCancelled",
  "Split",
  "Merged",
  "Recalled",
  "Observed",
] as const);

/** Every kind, in numbering order. */
export const KINDS: readonly Kind[] = Object.freeze(KIND_NAMES.map((name) => Kind[name]));

/** The kinds the contract records (all but Observed). */
export const ON_CHAIN_KINDS: readonly Kind[] = Object.freeze(KINDS.filter((k) => k !== Kind.Observed));


/** The ProvenanceLedger function that records each on-chain kind; the event it emits is named like the kind. */
export const LEDGER_METHODS: Readonly<Record<Exclude<KindName, "Observed">, string>> = Object.freeze({
  Registered: "register",
  PesticideApplied: "recordPesticide",
  Inspected: "recordInspection",
  CustomsCleared: "clearCustoms",
  HandOffOffered: "offerHandOff",
  HandOffAccepted: "acceptHandOff",
  HandOffCancelled: "cancelHandOff",
  Split: "split",
  Merged: "merge",
  Recalled: "recall",
});

/** The EIP-712 primary type name of a kind (equal to the enum member's name). */
export function typeName(kind: Kind): KindName {
  const name = KIND_NAMES[kind];
  if (name === undefined) throw new RangeError(`unknown kind: ${String(kind)}`);
  return name;
}

/** A 0x-prefixed 32-byte hex string. */
export type Bytes32 = string;
/** A 0x-prefixed 2-byte hex string, e.g. ISO 3166-1 "KR" is `0x4b52`; see {@link countryCode}. */
export type Bytes2 = string;
/** A 0x-prefixed 20-byte address. */
export type Address = string;

/** The fields every struct ends with. */
export interface Common {
  /** Unix seconds when the fact happened (the actor's claim). */
  readonly occurredAt: bigint;
  /** keccak256 of the RFC 8785 canonical JSON document. */
  readonly docHash: Bytes32;
  /** Unordered nonce, unique per actor. */
  readonly nonce: bigint;
  /** Unix seconds after which the signature is void. */
  readonly deadline: bigint;
}

export interface RegisteredValues extends Common {
  readonly gtin: string;
  readonly lot: string;
  readonly product: string;
  readonly originCountry: Bytes2;
  readonly region: string;
  readonly farmGln: bigint;
  readonly harvestDate: bigint;
  readonly quantity: bigint;
  readonly unit: string;
  readonly imported: boolean;
}

export interface PesticideAppliedValues extends Common {
  readonly batchId: Bytes32;
  readonly substance: string;
  readonly casNumber: string;
  readonly preHarvestIntervalDays: bigint;
}

export interface InspectedValues extends Common {
  readonly batchId: Bytes32;
  readonly passed: boolean;
}

export interface CustomsClearedValues extends Common {
  readonly batchId: Bytes32;
  readonly declarationNumber: string;
  readonly hsCode: string;
  readonly originCountry: Bytes2;
  readonly portOfEntry: string;
}

export interface HandOffOfferedValues extends Common {
  readonly batchId: Bytes32;
  readonly to: Address;
}

export interface HandOffAcceptedValues extends Common {
  readonly batchId: Bytes32;
  readonly from: Address;
}

export interface HandOffCancelledValues extends Common {
  readonly batchId: Bytes32;
  readonly to: Address;
}

export interface ChildLot {
  readonly gtin: string;
  readonly lot: string;
  readonly quantity: bigint;
}

export interface SplitValues extends Common {
  readonly batchId: Bytes32;
  readonly children: readonly ChildLot[];
}

export interface MergedValues extends Common {
  readonly parents: readonly Bytes32[];
  readonly gtin: string;
  readonly lot: string;
}

export interface RecalledValues extends Common {
  readonly batchId: Bytes32;
  readonly reason: string;
}

export interface ObservedValues extends Common {
  readonly batchId: Bytes32;
}

/** The values of each kind's struct. */
export interface ValuesOf {
  [Kind.Registered]: RegisteredValues;
  [Kind.PesticideApplied]: PesticideAppliedValues;
  [Kind.Inspected]: InspectedValues;
  [Kind.CustomsCleared]: CustomsClearedValues;
  [Kind.HandOffOffered]: HandOffOfferedValues;
  [Kind.HandOffAccepted]: HandOffAcceptedValues;
  [Kind.HandOffCancelled]: HandOffCancelledValues;
  [Kind.Split]: SplitValues;
  [Kind.Merged]: MergedValues;
  [Kind.Recalled]: RecalledValues;
  [Kind.Observed]: ObservedValues;
}

/** The values of any kind. */
export type EventValues = ValuesOf[Kind];

type Fields = readonly TypedDataField[];

const COMMON: Fields = [
  { name: "occurredAt", type: "uint64" },
  { name: "docHash", type: "bytes32" },
  { name: "nonce", type: "uint256" },
  { name: "deadline", type: "uint256" },
];

const CHILD_LOT: Fields = [
  { name: "gtin", type: "string" },
  { name: "lot", type: "string" },
  { name: "quantity", type: "uint256" },
];

function freeze(types: Record<string, Fields>): Readonly<Record<string, TypedDataField[]>> {
  const out: Record<string, TypedDataField[]> = {};
  for (const [name, fields] of Object.entries(types)) out[name] = fields.map((f) => Object.freeze({ ...f }));
  return Object.freeze(out);
}

/** EIP-712 `types` per kind, in the ethers 6 format (the primary type plus any referenced types). */
export const TYPES: { readonly [K in Kind]: Readonly<Record<string, TypedDataField[]>> } = Object.freeze({
  [Kind.Registered]: freeze({
    Registered: [
      { name: "gtin", type: "string" },
      { name: "lot", type: "string" },
      { name: "product", type: "string" },
      { name: "originCountry", type: "bytes2" },
      { name: "region", type: "string" },
      { name: "farmGln", type: "uint64" },
      { name: "harvestDate", type: "uint64" },
      { name: "quantity", type: "uint256" },
      { name: "unit", type: "string" },
      { name: "imported", type: "bool" },
      ...COMMON,
    ],
  }),
  [Kind.PesticideApplied]: freeze({
    PesticideApplied: [
      { name: "batchId", type: "bytes32" },
      { name: "substance", type: "string" },
      { name: "casNumber", type: "string" },
      { name: "preHarvestIntervalDays", type: "uint32" },
      ...COMMON,
    ],
  }),
  [Kind.Inspected]: freeze({
    Inspected: [{ name: "batchId", type: "bytes32" }, { name: "passed", type: "bool" }, ...COMMON],
  }),
  [Kind.CustomsCleared]: freeze({
    CustomsCleared: [
      { name: "batchId", type: "bytes32" },
      { name: "declarationNumber", type: "string" },
      { name: "hsCode", type: "string" },
      { name: "originCountry", type: "bytes2" },
      { name: "portOfEntry", type: "string" },
      ...COMMON,
    ],
  }),
  [Kind.HandOffOffered]: freeze({
    HandOffOffered: [{ name: "batchId", type: "bytes32" }, { name: "to", type: "address" }, ...COMMON],
  }),
  [Kind.HandOffAccepted]: freeze({
    HandOffAccepted: [{ name: "batchId", type: "bytes32" }, { name: "from", type: "address" }, ...COMMON],
  }),
  [Kind.HandOffCancelled]: freeze({
    HandOffCancelled: [{ name: "batchId", type: "bytes32" }, { name: "to", type: "address" }, ...COMMON],
  }),
  [Kind.Split]: freeze({
    Split: [{ name: "batchId", type: "bytes32" }, { name: "children", type: "ChildLot[]" }, ...COMMON],
    ChildLot: CHILD_LOT,
  }),
  [Kind.Merged]: freeze({
    Merged: [
      { name: "parents", type: "bytes32[]" },
      { name: "gtin", type: "string" },
      { name: "lot", type: "string" },
      ...COMMON,
    ],
  }),
  [Kind.Recalled]: freeze({
    Recalled: [{ name: "batchId", type: "bytes32" }, { name: "reason", type: "string" }, ...COMMON],
  }),
  [Kind.Observed]: freeze({
    Observed: [{ name: "batchId", type: "bytes32" }, ...COMMON],
  }),
});

/** The EIP-712 type string of a kind (primary type followed by referenced types), as hashed into its typehash. */
export function typeString(kind: Kind): string {
  typeName(kind);
  return kindTypeString(kind);
}

/** The ledger's EIP-712 domain on one chain and contract. */
export function ledgerDomain(chainId: bigint, verifyingContract: string): TypedDataDomain {
  return { name: "ProvenanceLedger", version: "1", chainId, verifyingContract };
}

/** What `signer.signTypedData(domain, types, value)` takes for one event. */
export interface TypedData<K extends Kind = Kind> {
  readonly domain: TypedDataDomain;
  readonly primaryType: KindName;
  readonly types: Record<string, TypedDataField[]>;
  readonly value: ValuesOf[K];
}

/** The types and value of one event, ready for `signTypedData`; the types are a fresh mutable copy. */
export function typedDataFor<K extends Kind>(kind: K, values: ValuesOf[K], domain: TypedDataDomain = {}): TypedData<K> {
  const types: Record<string, TypedDataField[]> = {};
  for (const [name, fields] of Object.entries(TYPES[kind])) types[name] = fields.map((f) => ({ ...f }));
  return { domain, primaryType: typeName(kind), types, value: values };
}

/** The EIP-712 struct hash (hashStruct) of one event (the per-kind encoder of eip712.ts). */
export function structHash<K extends Kind>(kind: K, values: ValuesOf[K]): Bytes32 {
  return toHex(structHashBytes(kind, values));
}

/**
 * The event hash the contract records: the EIP-712 digest of the event in `domain`. Equal to ethers'
 * `TypedDataEncoder.hash(domain, TYPES[kind], values)` and to the contract's `_hashTypedDataV4`, by eip712.ts.
 */
export function eventHash<K extends Kind>(domain: TypedDataDomain, kind: K, values: ValuesOf[K]): Bytes32 {
  return hasherFor(domain).hash(kind, values);
}

/** The next head of a batch's hash chain: keccak256(abi.encode(head, eventHash)). */
export function nextHead(head: Bytes32, eventHash: Bytes32): Bytes32 {
  // abi.encode(bytes32, bytes32) is the two words side by side; concatenating them costs a third of the ABI coder.
  if (dataLength(head) !== 32 || dataLength(eventHash) !== 32) throw new TypeError("nextHead takes two bytes32 values");
  return toHex(keccakBytes(getBytes(concat([head, eventHash]))));
}

/** The head after a sequence of events, starting from bytes32(0). */
export function headOf(eventHashes: readonly Bytes32[]): Bytes32 {
  return eventHashes.reduce<Bytes32>(nextHead, ZERO_HASH);
}

export const ZERO_HASH: Bytes32 = "0x" + "00".repeat(32);

// The GS1 rules live in gs1/keys.ts; these are the contract-shaped views of them (14 digits exactly, raw lot).

/** The GS1 Digital Link path of a batch: `/01/{gtin14}/10/{lot}` (lot raw, not percent-encoded). */
export function digitalLinkPath(gtin14: string, lot: string): string {
  return canonicalPath({ gtin: gtin14, lot });
}

const utf8 = new TextEncoder();

/**
 * The on-chain batch id: keccak256 of the UTF-8 Digital Link path. Does not validate (the contract does). Equal to
 * gs1/keys.ts batchIdOf, hashed on bytes (log/keccak.ts) rather than through ethers' hex strings: it runs for every
 * event ingested.
 */
export function batchIdOf(gtin14: string, lot: string): Bytes32 {
  return toHex(keccakBytes(utf8.encode(canonicalPath({ gtin: gtin14, lot }))));
}

/** The GS1 mod-10 check digit of the first 13 digits of a GTIN-14. */
export function gtinCheckDigit(first13: string): number {
  if (!/^[0-9]{13}$/.test(first13)) throw new TypeError(`not 13 digits: ${first13}`);
  return gs1CheckDigit(first13);
}

/** Whether `gtin` is 14 ASCII digits with a correct check digit (the rule the contract enforces). */
export function isValidGtin14(gtin: string): boolean {
  return /^[0-9]{14}$/.test(gtin) && gs1CheckDigit(gtin.slice(0, 13)) === Number(gtin[13]);
}

/** Whether `lot` is a valid GS1 batch/lot number: 1 to 20 characters of set 82 (the contract's AI 10 rule). */
export function isValidLot(lot: string): boolean {
  try {
    checkLot(lot);
    return true;
  } catch {
    return false;
  }
}

/** An ISO 3166-1 alpha-2 code as the bytes2 the contract stores, e.g. "KR" -> 0x4b52. */
export function countryCode(alpha2: string): Bytes2 {
  if (!/^[A-Z]{2}$/.test(alpha2)) throw new TypeError(`not an ISO 3166-1 alpha-2 code: ${alpha2}`);
  return "0x" + Buffer.from(alpha2, "ascii").toString("hex");
}
