/**
 * TimeSlice (chain/time-slice.ts): a chain worker's pass gives the event loop a turn once its budget is spent, so
 * requests waiting on the loop are read between the pass's items; within the budget it does not slow the pass.
 */
import { expect } from "chai";
import { TimeSlice } from "../../../ledger-api/src/chain/time-slice.ts";

/** Runs `items` pauses of `slice` and says after which item a callback queued on the event loop first ran. */
async function firstTurn(slice: TimeSlice, items: number): Promise<number | undefined> {
  let ran = false;
  setImmediate(() => (ran = true));
  for (let i = 0; i < items; i++) {
    await slice.pause();
    if (ran) return i;
  }
  return undefined;
}

describe("TimeSlice", function () {
  it("gives the event loop a turn at the first pause once the budget is spent", async function () {
    expect(await firstTurn(new TimeSlice(0), 100)).to.equal(0);
  });

  it("gives no turn while the budget lasts: awaiting it alone never lets the loop run", async function () {
    const slice = new TimeSlice(60_000);
    expect(await firstTurn(slice, 100)).to.equal(undefined);
  });

  it("starts a new budget after each turn", async function () {
    // A budget far above what 100 pauses take, so a busy machine's hiccup does not spend the fresh one.
    const slice = new TimeSlice(300);
    const start = performance.now();
    while (performance.now() - start < 310) {
      // Work past the budget.
    }
    expect(await firstTurn(slice, 1), "the spent budget yields").to.equal(0);
    expect(await firstTurn(slice, 100), "a fresh budget does not").to.equal(undefined);
  });
});
