/**
 * role: the signer held a role the kind needs (protocol/roles.ts, the contract's rule; Observed: any supply-chain
 * role; HandOffCancelled needs none). For an event the ledger recorded, when it recorded it (the contract checked);
 * otherwise at the verified block.
 */
import { getAddress } from "ethers";
import type { TimelineEntry } from "../protocol/answer.ts";
import { ROLE_IDS, rolesFor } from "../protocol/roles.ts";
import type { KindName } from "../protocol/typed-data.ts";
import { fail, memo, ok, type Check, type Context, type OnChainPosition } from "./check.ts";

/**
 * A lifecycle event the ledger recorded had its role checked by the ledger, at that block: ProvenanceLedger refuses
 * an actor without the role the kind needs. So a verified chain record answers the role check for good, and a role
 * revoked since (a producer who left the scheme) does not unverify what it signed while it held it. Undefined when
 * the chain record is not verified: then the role is read now (checkRole).
 */
export function roleRecordedOnChain(
  entry: TimelineEntry,
  kind: KindName,
  chain: Check | undefined,
  positions: ReadonlyMap<TimelineEntry, OnChainPosition>,
): Check<"role"> | undefined {
  const at = positions.get(entry);
  if (chain?.status !== "verified" || at === undefined) return undefined;
  const roles = rolesFor(kind, entry.values);
  if (roles.length === 0) return ok("role", `${kind} needs no role beyond custody, which the contract checked`);
  return ok("role", `the ledger required ${roles.join(" / ")} of ${getAddress(entry.signer.address)} when it recorded the event (block ${at.blockNumber})`);
}

/** The signer's role now (at the verified block): for Observed entries, and events the chain has not recorded yet. */
export async function checkRole(ctx: Context, entry: TimelineEntry, kind: KindName): Promise<Check<"role">> {
  const name = "role";
  const roles = rolesFor(kind, entry.values);
  if (roles.length === 0) return ok(name, `${kind} needs no role beyond custody, which the contract checked`);
  const signer = getAddress(entry.signer.address);
  const held = await Promise.all(
    roles.map((r) => memo(ctx, `role:${r}:${signer}`, () => ctx.reader.hasRole(ctx.ledger, ROLE_IDS[r], signer, ctx.block))),
  );
  const role = roles.find((_, i) => held[i]);
  if (role === undefined) {
    return fail(name, `${signer} holds no ${roles.join(" / ")} role on the ledger (block ${ctx.block}), which ${kind} needs`);
  }
  return ok(name, `${signer} holds ${role} on the ledger (block ${ctx.block})`);
}
