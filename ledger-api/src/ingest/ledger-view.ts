/**
 * The two LedgerViews the rules judge against. LayeredView lays the effects of accepted events over a base view;
 * SnapshotView is a synchronous snapshot of the async index.
 *
 * The rules (rules.ts) read ledger state synchronously; the index lives behind the async store. This view bridges
 * them without a round trip per rule: the caller runs the rules against a snapshot, the snapshot records every key
 * it did not hold, the caller fetches exactly those in one go and runs the rules again. The rules are pure, so a
 * re-run is cheap and gives the same answer it would have given with everything loaded up front; it converges in
 * as many rounds as the longest chain of reads that depend on earlier reads (the recall walk: at most MAX_ANCESTRY).
 */
import type { IndexStore } from "../store/index-store.ts";
import type { Address, Bytes32 } from "../protocol/typed-data.ts";
import { ROLE_IDS, type RoleName } from "../protocol/roles.ts";
import { checkEvent, type BatchEffect, type LedgerBatch, type LedgerEvent, type LedgerView, type Verdict } from "./rules.ts";

const STATUS = { active: "Active", split: "Split", merged: "Merged" } as const;

export class SnapshotView implements LedgerView {
  private readonly batches = new Map<string, LedgerBatch | null>();
  private readonly roles = new Map<string, ReadonlySet<string>>();
  private readonly retail = new Map<string, boolean>();
  private readonly nonces = new Map<string, boolean>();
  private missing = { batches: new Set<string>(), accounts: new Set<string>(), nonces: new Map<string, [string, bigint]>() };

  batch(batchId: string): LedgerBatch | undefined {
    const id = batchId.toLowerCase();
    const known = this.batches.get(id);
    if (known === undefined) this.missing.batches.add(id);
    return known ?? undefined;
  }

  hasRole(role: RoleName, account: string): boolean {
    const held = this.roles.get(account.toLowerCase());
    if (held === undefined) {
      this.missing.accounts.add(account.toLowerCase());
      return false;
    }
    return held.has(ROLE_IDS[role]);
  }

  isRetail(account: string): boolean {
    const known = this.retail.get(account.toLowerCase());
    if (known === undefined) this.missing.accounts.add(account.toLowerCase());
    return known ?? false;
  }

  nonceUsed(actor: string, nonce: bigint): boolean {
    const key = `${actor.toLowerCase()}:${nonce}`;
    const known = this.nonces.get(key);
    if (known === undefined) this.missing.nonces.set(key, [actor, nonce]);
    return known ?? false;
  }

  /** Whether the last run read anything the snapshot did not hold. */
  get complete(): boolean {
    return this.missing.batches.size === 0 && this.missing.accounts.size === 0 && this.missing.nonces.size === 0;
  }

  /** Loads everything the last run missed, then clears the record of misses. */
  async fill(store: IndexStore): Promise<void> {
    const { batches, accounts, nonces } = this.missing;
    this.missing = { batches: new Set(), accounts: new Set(), nonces: new Map() };
    // One call for every key the last run missed (a few round trips on PostgreSQL, however many keys).
    const state = await store.indexState({ batchIds: [...batches], accounts: [...accounts], nonces: [...nonces.values()] });
    for (const id of batches) {
      const known = state.batches.get(id);
      this.batches.set(
        id,
        known === undefined
          ? null
          : {
              registrant: known.batch.registrant,
              custodian: known.batch.custodian,
              quantity: known.batch.quantity,
              unit: known.batch.unit,
              status: STATUS[known.batch.status],
              recalled: known.batch.recalled,
              imported: known.batch.imported,
              customsCleared: known.batch.customsCleared,
              offerTo: known.batch.offerTo,
              parents: [...known.parents],
              ancestry: known.batch.ancestry,
              head: known.batch.head,
            },
      );
    }
    for (const account of accounts) {
      const grants = state.grants.get(account) ?? [];
      this.roles.set(account, new Set(grants.filter((g) => g.contract === "ledger").map((g) => g.role)));
      this.retail.set(account, state.profiles.get(account)?.retail ?? false);
    }
    for (const [key, [actor, nonce]] of nonces) {
      this.nonces.set(key, state.spentNonces.has(`${actor.toLowerCase()}:${nonce}`));
    }
  }
}

/**
 * Runs `judge` against a snapshot of the index until it read only what the snapshot held. `view` may be one a
 * previous call filled, while the index has not moved since (pending-overlay.ts): then only keys it has not seen yet
 * are read.
 */
export async function withSnapshot<T>(
  store: IndexStore,
  judge: (view: SnapshotView) => T,
  view: SnapshotView = new SnapshotView(),
  maxRounds = 64,
): Promise<T> {
  for (let round = 0; round < maxRounds; round++) {
    let verdict: T;
    try {
      verdict = judge(view);
    } catch (err) {
      // A refusal reached with part of the state missing may be an artefact of the missing part: judge again.
      if (view.complete) throw err;
      await view.fill(store);
      continue;
    }
    if (view.complete) return verdict;
    await view.fill(store);
  }
  throw new Error(`ledger view did not converge in ${maxRounds} rounds`);
}

/**
 * A ledger view with the effects of accepted-but-unmined events laid over a base view (indexed chain state), so
 * that a run of events submitted before the first is mined is judged as the contract will judge them in order.
 *
 * Roles and profiles always come from the base: lifecycle events never change them.
 *
 * Trap: the layer holds full batch states, so it hides any later change the base sees to those batches (a recall
 * mined from elsewhere). When the base advances, start a new LayeredView over it and re-admit the events still pending;
 * that also finds the pending events the new state has doomed.
 */
export class LayeredView implements LedgerView {
  readonly #base: LedgerView;
  readonly #batches = new Map<string, LedgerBatch>();
  readonly #nonces = new Set<string>();

  constructor(base: LedgerView) {
    this.#base = base;
  }

  batch(batchId: Bytes32): LedgerBatch | undefined {
    return this.#batches.get(batchId.toLowerCase()) ?? this.#base.batch(batchId);
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
      else this.#batches.set(effect.batchId.toLowerCase(), effect.state);
    }
  }

  /** Checks `event` against this view and, when accepted, applies its effects. */
  admit(event: LedgerEvent, now: bigint): Verdict {
    const verdict = checkEvent(this, event, now);
    if (verdict.ok) this.apply(verdict.effects);
    return verdict;
  }

  /** How many batches and nonces the layer holds over its base. */
  get size(): { readonly batches: number; readonly nonces: number } {
    return { batches: this.#batches.size, nonces: this.#nonces.size };
  }
}

function nonceKey(actor: Address, nonce: bigint): string {
  return `${actor.toLowerCase()}:${nonce}`;
}
