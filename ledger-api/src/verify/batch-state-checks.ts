/**
 * The batch's state as the answer shows it, against the chain:
 * - recall: the answer's recall state is the chain's, now: a recall is never excused as lag. For a lot not on chain
 *   yet, the chain's recall of the lots its logged Split or Merge names (it will inherit it; the contract refuses
 *   the cut).
 * - custodian, quantity: the answer's custodian and quantity (with its unit) are the chain's; pending when they were
 *   at the block the answer's state stands at (check.ts stateBlock) but the chain has moved on, or when the answer was
 *   built while the lot was not on chain yet (see checkBatchField).
 * - names: every name the answer gives an address (signers, registrant, custodian, offeree, recaller) is the name
 *   the authority set for it in ActorRegistry (profileOf): the page shows who did what by name.
 */
import type { Actor, Provenance } from "../protocol/answer.ts";
import type { OnChainBatch } from "./chain-reader.ts";
import { batchAt, fail, ok, pending, stateBlock, type Check, type Context } from "./check.ts";

export async function checkRecall(ctx: Context, answer: Provenance): Promise<Check<"recall">> {
  const name = "recall";
  let recalled = await ctx.reader.isRecalled(ctx.ledger, ctx.batchId, ctx.block);
  if (!recalled && ctx.pendingParents.length > 0) {
    // Not on chain yet: it will carry the recall of a lot it is cut from (the contract then refuses the cut).
    const parents = await Promise.all(ctx.pendingParents.map((p) => ctx.reader.isRecalled(ctx.ledger, p, ctx.block)));
    recalled = parents.some(Boolean);
  }
  if (recalled !== answer.batch.recalled) {
    return fail(name, `the answer says ${answer.batch.recalled ? "recalled" : "not recalled"}, the chain says ${recalled ? "recalled" : "not recalled"}`);
  }
  return ok(name, recalled ? "recalled, as the chain says" : "not recalled (nor any ancestor), as the chain says");
}

/**
 * A field of the batch's on-chain record against what the answer shows. Equal now: verified. Equal at the block the
 * answer's state stands at, but since changed on chain: pending (the server's index has not caught up yet, or the
 * answer is stale; either way the shopper should look again, not trust it). Otherwise failed.
 */
async function checkBatchField<N extends "custodian" | "quantity">(
  ctx: Context,
  answer: Provenance,
  name: N,
  shown: string,
  field: (batch: OnChainBatch) => string,
): Promise<Check<N>> {
  const now = await batchAt(ctx, ctx.batchId, ctx.block);
  if (now.status === 0) return pending(name, `the batch is not on chain yet; ${shown} is the server's word`);
  if (field(now) === shown) return ok(name, `${shown}, as the chain says`);
  if (answer.batch.onChain === false) {
    return pending(name, `${shown} is what the log said while the lot was not on chain; the chain has since recorded ${field(now)}: look again in a moment`);
  }
  const at = stateBlock(answer);
  if (at !== undefined && at < ctx.block && field(await batchAt(ctx, ctx.batchId, at)) === shown) {
    return pending(name, `${shown} as of block ${at}, where the answer stands; the chain has since recorded ${field(now)}: look again in a moment`);
  }
  return fail(name, `the answer says ${shown}, the chain ${field(now)}`);
}

export function checkCustodian(ctx: Context, answer: Provenance): Promise<Check<"custodian">> {
  const shown = answer.batch.custodian;
  return checkBatchField(ctx, answer, "custodian", `held by ${shown.address.toLowerCase()}`, (b) => `held by ${b.custodian.toLowerCase()}`);
}

export function checkQuantity(ctx: Context, answer: Provenance): Promise<Check<"quantity">> {
  const shown = answer.batch.quantity;
  return checkBatchField(ctx, answer, "quantity", `${shown.value} ${shown.unit}`, (b) => `${b.quantity} ${b.unit}`);
}

/** Every (address, name) the answer shows: whoever signed, registered, holds, was offered or recalled. */
function namedActors(answer: Provenance): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (actor: Actor | null) => {
    if (actor === null || actor.name === null) return;
    const key = actor.address.toLowerCase();
    out.set(key, (out.get(key) ?? new Set()).add(actor.name));
  };
  const b = answer.batch;
  [b.registrant, b.custodian, b.offeredTo, b.recall?.by ?? null].forEach(add);
  b.origins.forEach((o) => add(o.registrant));
  answer.timeline.forEach((e) => add(e.signer));
  return out;
}

export async function checkNames(ctx: Context, answer: Provenance): Promise<Check<"names">> {
  const name = "names";
  const shown = namedActors(answer);
  const wrong: string[] = [];
  await Promise.all(
    [...shown].map(async ([address, names]) => {
      const profile = await ctx.reader.profileOf(ctx.ledger, address, ctx.block);
      for (const n of names) if (n !== profile.name) wrong.push(`${address} is shown as "${n}", the registry names it "${profile.name}"`);
    }),
  );
  if (wrong.length > 0) return fail(name, wrong.sort().join("; "));
  return ok(name, `${shown.size} actors shown by the names the registry gives them`);
}
