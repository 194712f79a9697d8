/**
 * Shared by the rules tests: a seeded PRNG (so a failing random sequence replays from its seed), an in-memory
 * LedgerView, and conversions between the contract's records and the mirror's.
 */
import { ZERO_HASH } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { Address, Bytes32 } from "../../../ledger-api/src/protocol/typed-data.ts";
import type { LedgerBatch, LedgerBatchStatus, LedgerView } from "../../../ledger-api/src/ingest/rules.ts";
import type { RoleName } from "../../../ledger-api/src/protocol/roles.ts";

/** sfc32 seeded through splitmix32: small, fast and the same sequence on every platform. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t / 4294967296;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A bigint in [0, n) for n up to 2^53 (enough for quantities near a boundary). */
  bigint(n: bigint): bigint {
    return BigInt(Math.floor(this.next() * Number(n)));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from nothing");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A shuffled copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

const STATUS: readonly (LedgerBatchStatus | undefined)[] = [undefined, "Active", "Split", "Merged"];
const ZERO_ADDRESS = "0x" + "00".repeat(20);

/** The fields of the contract's `getBatch` answer the mirror models. */
export interface ChainBatch {
  readonly registrant: string;
  readonly status: bigint;
  readonly imported: boolean;
  readonly customsCleared: boolean;
  readonly recalled: boolean;
  readonly ancestry: bigint;
  readonly custodian: string;
  readonly offeredTo: string;
  readonly quantity: bigint;
  readonly head: string;
  readonly unit: string;
  readonly parents: readonly string[];
}

/** A `getBatch` answer as the mirror's LedgerBatch; undefined for Status.None. */
export function fromChain(b: ChainBatch): LedgerBatch | undefined {
  const status = STATUS[Number(b.status)];
  if (status === undefined) return undefined;
  return {
    registrant: b.registrant,
    custodian: b.custodian,
    quantity: b.quantity,
    unit: b.unit,
    status,
    recalled: b.recalled,
    imported: b.imported,
    customsCleared: b.customsCleared,
    offerTo: b.offeredTo.toLowerCase() === ZERO_ADDRESS ? undefined : b.offeredTo,
    parents: [...b.parents],
    ancestry: Number(b.ancestry),
    head: b.head,
  };
}

/** Error arguments in one comparable shape: hex lower-cased, integers as bigints. */
export function normaliseArgs(args: readonly unknown[]): unknown[] {
  return args.map((a) => {
    if (typeof a === "string" && /^0x[0-9a-fA-F]*$/.test(a)) return a.toLowerCase();
    if (typeof a === "number") return BigInt(a);
    return a;
  });
}

/** An in-memory ledger: what the unit tests hand the rules. */
export class MemoryLedger implements LedgerView {
  readonly batches = new Map<string, LedgerBatch>();
  readonly roles = new Map<string, Set<RoleName>>();
  readonly retail = new Set<string>();
  readonly nonces = new Set<string>();

  batch(batchId: Bytes32): LedgerBatch | undefined {
    return this.batches.get(batchId.toLowerCase());
  }

  hasRole(role: RoleName, account: Address): boolean {
    return this.roles.get(account.toLowerCase())?.has(role) ?? false;
  }

  isRetail(account: Address): boolean {
    return this.retail.has(account.toLowerCase());
  }

  nonceUsed(actor: Address, nonce: bigint): boolean {
    return this.nonces.has(`${actor.toLowerCase()}:${nonce}`);
  }

  grant(account: Address, ...roles: RoleName[]): this {
    const held = this.roles.get(account.toLowerCase()) ?? new Set<RoleName>();
    for (const r of roles) held.add(r);
    this.roles.set(account.toLowerCase(), held);
    return this;
  }

  revoke(account: Address, role: RoleName): this {
    this.roles.get(account.toLowerCase())?.delete(role);
    return this;
  }

  setRetail(account: Address): this {
    this.retail.add(account.toLowerCase());
    return this;
  }

  spend(actor: Address, nonce: bigint): this {
    this.nonces.add(`${actor.toLowerCase()}:${nonce}`);
    return this;
  }

  put(batchId: Bytes32, state: Partial<LedgerBatch> & Pick<LedgerBatch, "custodian">): this {
    this.batches.set(batchId.toLowerCase(), {
      registrant: state.custodian,
      quantity: 100n,
      unit: "kg",
      status: "Active",
      recalled: false,
      imported: false,
      customsCleared: false,
      offerTo: undefined,
      parents: [],
      ancestry: 0,
      head: ZERO_HASH,
      ...state,
    });
    return this;
  }
}
