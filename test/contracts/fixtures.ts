/**
 * Shared set-up for the ledger's contract tests: one in-process network per test run, a deployed ledger with every
 * role handed out, value builders with sensible defaults, and one `submit` that calls any lifecycle function
 * directly or through the relayer. Event hashes and heads are always recomputed with ledger-api's typed-data.ts,
 * so these tests also pin the TypeScript mirror to the contract.
 */
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionResponse, Interface, TypedDataDomain } from "ethers";
import type { ProvenanceLedger } from "../../types/ethers-contracts/index.ts";
import {
  Kind,
  batchIdOf,
  countryCode,
  eventHash,
  gtinCheckDigit,
  typedDataFor,
  ledgerDomain,
} from "../../ledger-api/src/protocol/typed-data.ts";
import type {
  Bytes32,
  ChildLot,
  CustomsClearedValues,
  HandOffAcceptedValues,
  HandOffCancelledValues,
  HandOffOfferedValues,
  InspectedValues,
  MergedValues,
  PesticideAppliedValues,
  RecalledValues,
  RegisteredValues,
  SplitValues,
  ValuesOf,
} from "../../ledger-api/src/protocol/typed-data.ts";

export const { ethers, networkHelpers } = await network.create();

/** The kinds the contract records, with the function that records each and the event it emits. */
export const ON_CHAIN = {
  [Kind.Registered]: { method: "register", event: "Registered" },
  [Kind.PesticideApplied]: { method: "recordPesticide", event: "PesticideApplied" },
  [Kind.Inspected]: { method: "recordInspection", event: "Inspected" },
  [Kind.CustomsCleared]: { method: "clearCustoms", event: "CustomsCleared" },
  [Kind.HandOffOffered]: { method: "offerHandOff", event: "HandOffOffered" },
  [Kind.HandOffAccepted]: { method: "acceptHandOff", event: "HandOffAccepted" },
  [Kind.HandOffCancelled]: { method: "cancelHandOff", event: "HandOffCancelled" },
  [Kind.Split]: { method: "split", event: "Split" },
  [Kind.Merged]: { method: "merge", event: "Merged" },
  [Kind.Recalled]: { method: "recall", event: "Recalled" },
} as const;

export type OnChainKind = keyof typeof ON_CHAIN;

export const ZERO_HASH: Bytes32 = ethers.ZeroHash;
/** Far enough in the future for any test. */
export const FAR_DEADLINE = 2n ** 40n;
export const OCCURRED_AT = 1_760_000_000n;
export const KR = countryCode("KR");
export const NZ = countryCode("NZ");

/** A valid GTIN-14 built from a 13-digit prefix. */
export function gtin(first13: string): string {
  return first13 + String(gtinCheckDigit(first13));
}
export const GTIN = gtin("0880123456789");
export const GTIN_B = gtin("0940000000001");

let nonceCounter = 0n;
/** A fresh nonce; nonces are unordered, so any unused value will do. */
export function freshNonce(): bigint {
  nonceCounter += 1n;
  return (BigInt(Date.now()) << 32n) + nonceCounter;
}

let lotCounter = 0;
/** A fresh, valid lot number. */
export function freshLot(prefix = "L"): string {
  lotCounter += 1;
  return `${prefix}-${lotCounter}`;
}

export function docHash(text: string): Bytes32 {
  return ethers.keccak256(ethers.toUtf8Bytes(text));
}

function common(over: { occurredAt?: bigint; docHash?: Bytes32; nonce?: bigint; deadline?: bigint } = {}) {
  return {
    occurredAt: over.occurredAt ?? OCCURRED_AT,
    docHash: over.docHash ?? docHash("doc"),
    nonce: over.nonce ?? freshNonce(),
    deadline: over.deadline ?? FAR_DEADLINE,
  };
}

export const values = {
  registered(over: Partial<RegisteredValues> = {}): RegisteredValues {
    return {
      gtin: GTIN,
      lot: freshLot(),
      product: "Hallabong mandarin",
      originCountry: KR,
      region: "Jeju",
      farmGln: 8801234000017n,
      harvestDate: 1_759_000_000n,
      quantity: 100n,
      unit: "kg",
      imported: false,
      ...common(over),
      ...over,
    };
  },
  pesticide(batchId: Bytes32, over: Partial<PesticideAppliedValues> = {}): PesticideAppliedValues {
    return {
      batchId,
      substance: "Imidacloprid",
      casNumber: "138261-41-3",
      preHarvestIntervalDays: 14n,
      ...common(over),
      ...over,
    };
  },
  inspected(batchId: Bytes32, over: Partial<InspectedValues> = {}): InspectedValues {
    return { batchId, passed: true, ...common(over), ...over };
  },
  customs(batchId: Bytes32, over: Partial<CustomsClearedValues> = {}): CustomsClearedValues {
    return {
      batchId,
      declarationNumber: "KR-2025-000123",
      hsCode: "0805.21",
      originCountry: NZ,
      portOfEntry: "KRPUS",
      ...common(over),
      ...over,
    };
  },
  offered(batchId: Bytes32, to: string, over: Partial<HandOffOfferedValues> = {}): HandOffOfferedValues {
    return { batchId, to, ...common(over), ...over };
  },
  accepted(batchId: Bytes32, from: string, over: Partial<HandOffAcceptedValues> = {}): HandOffAcceptedValues {
    return { batchId, from, ...common(over), ...over };
  },
  cancelled(batchId: Bytes32, to: string, over: Partial<HandOffCancelledValues> = {}): HandOffCancelledValues {
    return { batchId, to, ...common(over), ...over };
  },
  split(batchId: Bytes32, children: readonly ChildLot[], over: Partial<SplitValues> = {}): SplitValues {
    return { batchId, children, ...common(over), ...over };
  },
  merged(parents: readonly Bytes32[], over: Partial<MergedValues> = {}): MergedValues {
    return { parents, gtin: GTIN, lot: freshLot("M"), ...common(over), ...over };
  },
  recalled(batchId: Bytes32, over: Partial<RecalledValues> = {}): RecalledValues {
    return { batchId, reason: "Chlorpyrifos above MRL", ...common(over), ...over };
  },
};

/** Children for a split with the given quantities. */
export function children(...quantities: bigint[]): ChildLot[] {
  return quantities.map((quantity) => ({ gtin: GTIN, lot: freshLot("C"), quantity }));
}

export interface SubmitOptions {
  /** Relay through `relayer` with the actor's EIP-712 signature (default: direct call by the actor). */
  readonly relayed?: boolean;
  /** Who sends the transaction (default: the actor, or the relayer when relayed). */
  readonly sender?: HardhatEthersSigner;
  /** Use this signature instead of the actor's. */
  readonly signature?: string;
  /** The actor address named in the call (default: the signer's). */
  readonly actor?: string;
}

export async function deployLedger() {
  const signers = await ethers.getSigners();
  const at = (i: number): HardhatEthersSigner => {
    const s = signers[i];
    if (s === undefined) throw new Error(`no signer ${i}`);
    return s;
  };
  const [admin, regulator, producer, producer2, importer, importer2, inspector, wholesaler, stall, relayer, outsider] =
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(at) as [
      HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner,
      HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner,
      HardhatEthersSigner,
    ];
  const ledger = await ethers.deployContract("ProvenanceLedger", [admin.address]);
  const grants: [string, HardhatEthersSigner][] = [
    ["REGULATOR_ROLE", regulator],
    ["PRODUCER_ROLE", producer],
    ["PRODUCER_ROLE", producer2],
    ["IMPORTER_ROLE", importer],
    ["IMPORTER_ROLE", importer2],
    ["INSPECTOR_ROLE", inspector],
    ["HANDLER_ROLE", wholesaler],
    ["HANDLER_ROLE", stall],
    ["RELAYER_ROLE", relayer],
  ];
  for (const [role, who] of grants) await ledger.grantRole(ethers.id(role), who.address);
  await ledger.setProfile(stall.address, { name: "Dongmun Market stall 12", gln: 0n, country: KR, retail: true });
  await ledger.setProfile(wholesaler.address, { name: "Jeju Wholesale", gln: 8801234000024n, country: KR, retail: false });
  const { chainId } = await ethers.provider.getNetwork();
  const domain = ledgerDomain(chainId, await ledger.getAddress());
  const accounts = { admin, regulator, producer, producer2, importer, importer2, inspector, wholesaler, stall, relayer, outsider };
  return { ledger, domain, chainId, ...accounts };
}

export type Ledger = Awaited<ReturnType<typeof deployLedger>>;

/** Signs `v` as the EIP-712 struct of `kind` in `domain`. */
export async function sign<K extends OnChainKind>(
  signer: HardhatEthersSigner,
  domain: TypedDataDomain,
  kind: K,
  v: ValuesOf[K],
): Promise<string> {
  const td = typedDataFor(kind, v, domain);
  return signer.signTypedData(td.domain, td.types, td.value as unknown as Record<string, unknown>);
}

/** Calls the lifecycle function of `kind` with `v`, directly by `actor` or relayed with its signature. */
export async function submit<K extends OnChainKind>(
  f: Ledger,
  kind: K,
  v: ValuesOf[K],
  actor: HardhatEthersSigner,
  opts: SubmitOptions = {},
): Promise<ContractTransactionResponse> {
  const relayed = opts.relayed ?? opts.signature !== undefined;
  const signature = opts.signature ?? (relayed ? await sign(actor, f.domain, kind, v) : "0x");
  const sender = opts.sender ?? (relayed ? f.relayer : actor);
  const fn = f.ledger.connect(sender).getFunction(ON_CHAIN[kind].method);
  return fn(v, opts.actor ?? actor.address, signature) as Promise<ContractTransactionResponse>;
}

/** One call of a relayed group: the event of `kind` with `values`, signed by `actor` (or carrying `signature`). */
export interface GroupCall<K extends OnChainKind = OnChainKind> {
  readonly kind: K;
  readonly values: ValuesOf[K];
  readonly actor: HardhatEthersSigner;
  readonly signature?: string;
}

/** A group call built from the same arguments as {@link submit}. */
export function call<K extends OnChainKind>(kind: K, v: ValuesOf[K], actor: HardhatEthersSigner, signature?: string): GroupCall {
  return { kind, values: v, actor, ...(signature === undefined ? {} : { signature }) } as GroupCall;
}

/** The ABI-encoded lifecycle call `relayGroup` takes: what a single relayed call would send, actor's signature included. */
export async function encodeRelayed(f: Ledger, c: GroupCall): Promise<string> {
  const signature = c.signature ?? (await sign(c.actor, f.domain, c.kind, c.values));
  return (f.ledger.interface as unknown as Interface).encodeFunctionData(ON_CHAIN[c.kind].method, [c.values, c.actor.address, signature]);
}

/** Sends `calls` as one relayed group (by the relayer unless `sender` is given). */
export async function relayGroup(
  f: Ledger,
  calls: readonly GroupCall[],
  sender: HardhatEthersSigner = f.relayer,
): Promise<ContractTransactionResponse> {
  const data = await Promise.all(calls.map((c) => encodeRelayed(f, c)));
  return f.ledger.connect(sender).relayGroup(data);
}

/** The event hash the contract will record for `v`. */
export function hashOf<K extends OnChainKind>(f: Ledger, kind: K, v: ValuesOf[K]): Bytes32 {
  return eventHash(f.domain, kind, v);
}

/** Registers a batch (directly) and returns its id and values. */
export async function registerBatch(f: Ledger, over: Partial<RegisteredValues> = {}, by?: HardhatEthersSigner) {
  const v = values.registered(over);
  await submit(f, Kind.Registered, v, by ?? (v.imported ? f.importer : f.producer));
  return { batchId: batchIdOf(v.gtin, v.lot), values: v };
}

/** Offers and accepts a hand-off of `batchId` from `from` to `to` (directly). */
export async function handOff(f: Ledger, batchId: Bytes32, from: HardhatEthersSigner, to: HardhatEthersSigner) {
  await submit(f, Kind.HandOffOffered, values.offered(batchId, to.address), from);
  await submit(f, Kind.HandOffAccepted, values.accepted(batchId, from.address), to);
}

/** Splits `batchId` (held by `by`) into children of the given quantities; returns their ids. */
export async function splitBatch(f: Ledger, batchId: Bytes32, by: HardhatEthersSigner, ...quantities: bigint[]) {
  const kids = children(...quantities);
  await submit(f, Kind.Split, values.split(batchId, kids), by);
  return kids.map((c) => batchIdOf(c.gtin, c.lot));
}

export type { ProvenanceLedger };
