/**
 * The state the ingest rules judge a request against: the chain index with every lifecycle event logged but not yet
 * indexed laid over it, in log order (the relay will submit them in that order, so the contract will see them so).
 *
 * Replaying every pending event for every request costs O(pending) per request: tens of microseconds each (the
 * contract's hash chain is recomputed), so a backlog of a few thousand events, e.g. while the chain is congested,
 * would slow every request by a fraction of a second. So the replay is kept: while the index stays where it was (the
 * indexer's cursor has not moved) and the pending list has only grown (the events replayed are still its first ones,
 * the very same objects), a request replays just the events appended since the last one. A new chain range, or an
 * event leaving the list (indexed, refused, or its commit failed), starts a fresh replay, which also re-reads the
 * index.
 *
 * Each request's own events go into a layer of their own over the replay, dropped after the verdict, so a refused
 * request leaves nothing behind.
 */
import type { IndexStore } from "../store/index-store.ts";
import { LayeredView, SnapshotView, withSnapshot } from "./ledger-view.ts";
import type { BatchEffect, LedgerEvent } from "./rules.ts";

type Pending = { readonly event: LedgerEvent };

interface Replay {
  /** The index state the view holds (the cursor's block and hash). */
  readonly key: string;
  readonly view: SnapshotView;
  /** The index with `events` laid over it. */
  readonly overlay: LayeredView;
  /** The pending events replayed, in order. */
  readonly events: Pending[];
}

/** Whether `pending` starts with exactly the events `replayed` (the same objects, in the same order). */
function extendsReplay(pending: readonly Pending[], replayed: readonly Pending[]): boolean {
  if (pending.length < replayed.length) return false;
  for (let i = 0; i < replayed.length; i++) if (pending[i] !== replayed[i]) return false;
  return true;
}

export class PendingOverlay {
  private readonly store: IndexStore;
  private replay: Replay | undefined;

  constructor(store: IndexStore) {
    this.store = store;
  }

  /**
   * Runs `judge` on an overlay of the index with `pending` laid over it (events the rules refuse now are skipped, as
   * the contract will refuse them), rebuilding the kept replay when the index moved or `pending` is not an extension
   * of what was replayed. If the indexer moves the index while `judge` runs, it runs again on the new state (a refusal too), so a verdict
   * never mixes two states of the index. `judge` may run more than once: it must not have effects outside the
   * overlay it is given.
   */
  async judge<T>(pending: readonly Pending[], now: bigint, judge: (overlay: LayeredView) => T): Promise<T> {
    for (;;) {
      const key = await this.indexKey();
      let replay = this.replay;
      if (replay === undefined || replay.key !== key || !extendsReplay(pending, replay.events)) {
        const view = new SnapshotView();
        replay = { key, view, overlay: new LayeredView(view), events: [] };
        this.replay = replay;
      }
      const appendedEvents = pending.slice(replay.events.length);
      let outcome: { verdict: T; effects: BatchEffect[] } | { error: unknown };
      try {
        outcome = await withSnapshot(
          this.store,
          () => {
            // Fresh layers each round: a round that read a key the view lacked is discarded and run again.
            const appended = new LayeredView(replay.overlay);
            const effects: BatchEffect[] = [];
            for (const p of appendedEvents) {
              const verdict = appended.admit(p.event, now);
              if (verdict.ok) effects.push(...verdict.effects);
            }
            return { verdict: judge(new LayeredView(appended)), effects };
          },
          replay.view,
        );
      } catch (error) {
        outcome = { error };
      }
      if ((await this.indexKey()) !== key) {
        this.replay = undefined;
        continue;
      }
      if ("error" in outcome) throw outcome.error;
      // What the appended events did is kept for the next request; their layer is not.
      replay.overlay.apply(outcome.effects);
      replay.events.push(...appendedEvents);
      return outcome.verdict;
    }
  }

  private async indexKey(): Promise<string> {
    const cursor = await this.store.cursor();
    return cursor === undefined ? "" : `${cursor.blockNumber}:${cursor.blockHash}`;
  }
}
