/**
 * Decoding what the indexer reads from the chain: the ledger's and the anchor's logs into typed events, and a
 * lifecycle transaction's calldata into the signed struct it carried (for what the events leave out: the actor's
 * nonce, and the GS1 keys of split and merged children).
 *
 * Calldata is only decodable when the transaction called the ledger directly (an actor or the relayer), one call or
 * a relayed group (`relayGroup`, whose calls are read one by one). A call made through another contract (a multisig)
 * leaves nonce and child keys unknown; the decoded struct is used only when its recomputed EIP-712 event hash equals
 * the event's, so a decoded value is never misattributed (a refused call of a group matches no event).
 */
import { getAddress, Interface } from "ethers";
import type { Log, LogDescription, Result, TransactionDescription, TransactionResponse, TypedDataDomain } from "ethers";
import type { LifecycleKind, RoleContract } from "../store/store.ts";
import { abiOf } from "./contracts.ts";
import { batchIdOf, eventHash, Kind, LEDGER_METHODS } from "../protocol/typed-data.ts";
import type { ValuesOf } from "../protocol/typed-data.ts";

/** Where a log sits on the chain. */
export interface Located {
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly txHash: string;
  readonly logIndex: number;
}

export interface RoleLog extends Located {
  readonly type: "RoleGranted" | "RoleRevoked";
  readonly contract: RoleContract;
  readonly role: string;
  readonly account: string;
}

export interface ProfileLog extends Located {
  readonly type: "ProfileSet";
  readonly account: string;
  readonly name: string;
  readonly gln: bigint;
  readonly country: string;
  readonly retail: boolean;
}

export interface LineageLog extends Located {
  readonly type: "Lineage";
  readonly child: string;
  readonly parent: string;
  readonly eventHash: string;
  readonly quantity: bigint;
}

export interface AnchoredLog extends Located {
  readonly type: "Anchored";
  readonly anchorIndex: number;
  readonly size: number;
  readonly root: string;
  readonly previousSize: number;
  readonly anchorer: string;
}

interface LifecycleBase extends Located {
  readonly type: "Lifecycle";
  readonly batchId: string;
  readonly actor: string;
  readonly docHash: string;
  readonly eventHash: string;
  readonly head: string;
}

/** A lifecycle event with its kind-specific arguments (`details`, JSON-ready: uints as decimal strings). */
export type LifecycleLog = LifecycleBase &
  (
    | { readonly kind: "Registered"; readonly details: { gtin: string; lot: string; quantity: string; unit: string; imported: boolean } }
    | { readonly kind: "PesticideApplied"; readonly details: { casNumber: string; preHarvestIntervalDays: string } }
    | { readonly kind: "Inspected"; readonly details: { passed: boolean } }
    | { readonly kind: "CustomsCleared"; readonly details: { declarationNumber: string; originCountry: string } }
    | { readonly kind: "HandOffOffered" | "HandOffCancelled"; readonly details: { to: string } }
    | { readonly kind: "HandOffAccepted"; readonly details: { from: string } }
    | { readonly kind: "Split"; readonly details: { children: string[] } }
    | { readonly kind: "Merged"; readonly details: { parents: string[]; quantity: string } }
    | { readonly kind: "Recalled"; readonly details: { reason: string } }
  );

export type ChainEvent = RoleLog | ProfileLog | LineageLog | AnchoredLog | LifecycleLog;

const LIFECYCLE_KINDS: ReadonlySet<string> = new Set<string>(Object.keys(LEDGER_METHODS));

/** The ledger function that relays a group of lifecycle calls in one transaction. */
const GROUP_METHOD = "relayGroup";

/** The kind each ledger function records. */
const METHOD_KIND: Readonly<Record<string, LifecycleKind>> = Object.fromEntries(
  Object.entries(LEDGER_METHODS).map(([kind, method]) => [method, kind as LifecycleKind]),
);

// ethers' Result values are untyped; these narrow them and fail loudly on an ABI drift.
function hex(v: unknown, what: string): string {
  if (typeof v !== "string" || !v.startsWith("0x")) throw new TypeError(`${what}: expected hex, got ${String(v)}`);
  return v.toLowerCase();
}
function text(v: unknown, what: string): string {
  if (typeof v !== "string") throw new TypeError(`${what}: expected string, got ${typeof v}`);
  return v;
}
function uint(v: unknown, what: string): bigint {
  if (typeof v !== "bigint") throw new TypeError(`${what}: expected bigint, got ${typeof v}`);
  return v;
}
function flag(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") throw new TypeError(`${what}: expected bool, got ${typeof v}`);
  return v;
}
function hexList(v: unknown, what: string): string[] {
  if (!Array.isArray(v)) throw new TypeError(`${what}: expected array`);
  return v.map((x, i) => hex(x, `${what}[${i}]`));
}
function small(v: unknown, what: string): number {
  const n = uint(v, what);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what}: ${n} exceeds a safe integer`);
  return Number(n);
}

/** Decodes the logs of one contract set; logs of other addresses and events the index ignores yield nothing. */
export class EventDecoder {
  readonly ledger: string;
  readonly anchor: string;
  readonly ledgerInterface = new Interface(abiOf("ProvenanceLedger"));
  readonly anchorInterface = new Interface(abiOf("LogAnchor"));

  constructor(ledger: string, anchor: string) {
    this.ledger = ledger.toLowerCase();
    this.anchor = anchor.toLowerCase();
  }

  decode(log: Log): ChainEvent | undefined {
    const address = log.address.toLowerCase();
    const contract: RoleContract | undefined =
      address === this.ledger ? "ledger" : address === this.anchor ? "anchor" : undefined;
    if (contract === undefined) return undefined;
    const desc = (contract === "ledger" ? this.ledgerInterface : this.anchorInterface).parseLog(log);
    if (desc === null) return undefined;
    const at: Located = {
      blockNumber: log.blockNumber,
      blockHash: log.blockHash.toLowerCase(),
      txHash: log.transactionHash.toLowerCase(),
      logIndex: log.index,
    };
    const a = desc.args;
    switch (desc.name) {
      case "RoleGranted":
      case "RoleRevoked":
        return { ...at, type: desc.name, contract, role: hex(a.role, "role"), account: hex(a.account, "account") };
      case "ProfileSet":
        if (contract !== "ledger") return undefined;
        return {
          ...at,
          type: "ProfileSet",
          account: hex(a.account, "account"),
          name: text(a.name, "name"),
          gln: uint(a.gln, "gln"),
          country: hex(a.country, "country"),
          retail: flag(a.retail, "retail"),
        };
      case "Lineage":
        if (contract !== "ledger") return undefined;
        return {
          ...at,
          type: "Lineage",
          child: hex(a.child, "child"),
          parent: hex(a.parent, "parent"),
          eventHash: hex(a.eventHash, "eventHash"),
          quantity: uint(a.quantity, "quantity"),
        };
      case "Anchored":
        if (contract !== "anchor") return undefined;
        return {
          ...at,
          type: "Anchored",
          anchorIndex: small(a.anchorIndex, "anchorIndex"),
          size: small(a.size, "size"),
          root: hex(a.root, "root"),
          previousSize: small(a.previousSize, "previousSize"),
          anchorer: hex(a.anchorer, "anchorer"),
        };
      default:
        if (contract !== "ledger" || !LIFECYCLE_KINDS.has(desc.name)) return undefined;
        return this.lifecycle(at, desc);
    }
  }

  private lifecycle(at: Located, desc: LogDescription): LifecycleLog {
    const a = desc.args;
    const base: LifecycleBase = {
      ...at,
      type: "Lifecycle",
      batchId: hex(a.batchId, "batchId"),
      actor: hex(a.actor, "actor"),
      docHash: hex(a.docHash, "docHash"),
      eventHash: hex(a.eventHash, "eventHash"),
      head: hex(a.head, "head"),
    };
    const kind = desc.name as LifecycleKind;
    switch (kind) {
      case "Registered":
        return {
          ...base,
          kind,
          details: {
            gtin: text(a.gtin, "gtin"),
            lot: text(a.lot, "lot"),
            quantity: uint(a.quantity, "quantity").toString(),
            unit: text(a.unit, "unit"),
            imported: flag(a.imported, "imported"),
          },
        };
      case "PesticideApplied":
        return {
          ...base,
          kind,
          details: {
            casNumber: text(a.casNumber, "casNumber"),
            preHarvestIntervalDays: uint(a.preHarvestIntervalDays, "preHarvestIntervalDays").toString(),
          },
        };
      case "Inspected":
        return { ...base, kind, details: { passed: flag(a.passed, "passed") } };
      case "CustomsCleared":
        return {
          ...base,
          kind,
          details: {
            declarationNumber: text(a.declarationNumber, "declarationNumber"),
            originCountry: hex(a.originCountry, "originCountry"),
          },
        };
      case "HandOffOffered":
      case "HandOffCancelled":
        return { ...base, kind, details: { to: hex(a.to, "to") } };
      case "HandOffAccepted":
        return { ...base, kind, details: { from: hex(a.from, "from") } };
      case "Split":
        return { ...base, kind, details: { children: hexList(a.children, "children") } };
      case "Merged":
        return {
          ...base,
          kind,
          details: { parents: hexList(a.parents, "parents"), quantity: uint(a.quantity, "quantity").toString() },
        };
      case "Recalled":
        return { ...base, kind, details: { reason: text(a.reason, "reason") } };
    }
  }

  /** A group's calls decoded once per transaction (a group of n events is asked about n times). */
  private readonly groups = new WeakMap<TransactionResponse, Map<string, DecodedCall>>();

  /**
   * The signed struct a lifecycle transaction carried for the event `expected`, if it called the ledger directly
   * (one lifecycle call, or a relayed group holding that call) and the struct's recomputed event hash is `expected`;
   * undefined otherwise.
   */
  decodeCall(tx: TransactionResponse, domain: TypedDataDomain, expected: string): DecodedCall | undefined {
    if (tx.to === null || tx.to.toLowerCase() !== this.ledger) return undefined;
    // Before parsing: a group's calldata is parsed once, not once per event it recorded (quadratic in its size).
    const known = this.groups.get(tx);
    if (known !== undefined) return known.get(expected);
    const parsed = this.parseCall(tx.data);
    if (parsed === undefined) return undefined;
    const sender = getAddress(tx.from).toLowerCase();
    if (parsed.name === GROUP_METHOD) {
      let calls = this.groups.get(tx);
      if (calls === undefined) {
        calls = new Map();
        for (const data of parsed.args[0] as readonly string[]) {
          const inner = this.parseCall(data);
          const decoded = inner && this.lifecycleCall(inner, domain, sender);
          if (decoded) calls.set(decoded.eventHash, decoded.call);
        }
        this.groups.set(tx, calls);
      }
      return calls.get(expected);
    }
    const decoded = this.lifecycleCall(parsed, domain, sender);
    return decoded?.eventHash === expected ? decoded.call : undefined;
  }

  private parseCall(data: string): TransactionDescription | undefined {
    try {
      return this.ledgerInterface.parseTransaction({ data }) ?? undefined;
    } catch {
      return undefined; // not a ledger function (or malformed); nothing to learn from it
    }
  }

  /** A parsed lifecycle call with the event hash its struct yields (lower-case); undefined for another function. */
  private lifecycleCall(
    parsed: TransactionDescription,
    domain: TypedDataDomain,
    sender: string,
  ): { eventHash: string; call: DecodedCall } | undefined {
    const kindName = METHOD_KIND[parsed.name];
    if (kindName === undefined) return undefined;
    const struct = (parsed.args[0] as Result).toObject(true);
    const kind = Kind[kindName];
    // The struct's field names and types are the EIP-712 ones (LifecycleTypes.sol mirrors typed-data.ts).
    const values = struct as unknown as ValuesOf[typeof kind];
    const hash = eventHash(domain, kind, values).toLowerCase();
    const nonce = uint(struct.nonce, "nonce");
    const keys = new Map<string, { gtin: string; lot: string }>();
    const addKey = (gtin: unknown, lot: unknown): void => {
      const g = text(gtin, "gtin");
      const l = text(lot, "lot");
      keys.set(batchIdOf(g, l).toLowerCase(), { gtin: g, lot: l });
    };
    if (kindName === "Split") {
      const kids = struct.children as unknown;
      if (!Array.isArray(kids)) throw new TypeError("split children: expected array");
      for (const c of kids as Record<string, unknown>[]) addKey(c.gtin, c.lot);
    } else if (kindName === "Merged" || kindName === "Registered") {
      addKey(struct.gtin, struct.lot);
    }
    return { eventHash: hash, call: { kind: kindName, nonce, keys, sender } };
  }
}

/** What a lifecycle transaction's calldata adds to its event. */
export interface DecodedCall {
  readonly kind: LifecycleKind;
  readonly nonce: bigint;
  /** GS1 keys of the batches the call named, by batch id (registered, split children, merged child). */
  readonly keys: ReadonlyMap<string, { gtin: string; lot: string }>;
  /** Who sent the transaction: the actor, or the relayer. */
  readonly sender: string;
}
