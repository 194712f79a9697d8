/**
 * role: the signer held a role the kind needs (protocol/roles.ts, the contract's rule; HandOffCancelled needs none).
 * For an event the ledger recorded, when it recorded it (the contract checked); otherwise at the verified block.
 *
 * Observed (the server's admission rule, ingest/ingestor.ts; the contract never sees observations): the signer holds
 * INSPECTOR or REGULATOR, or holds an actor role and held the lot or was offered it at that point of the answer's own
 * history. The server's other admission rules for observations, the per-lot budget and nonces spent once across the
 * log, need the whole log and are not checked here.
 */
import { getAddress } from "ethers";
import type { Provenance, TimelineEntry } from "../protocol/answer.ts";
import { OBSERVER_ROLES, OVERSIGHT_ROLES, ROLE_IDS, rolesFor, type RoleName } from "../protocol/roles.ts";
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

/**
 * Who held the answer's lot, and who was offered it, just before `entry`: its own lifecycle entries and the Split that
 * created it, replayed in log order as the contract applies them (a refused one changed nothing). The ingest judged
 * the observation in the same order, since the relay submits in log order.
 */
function partiesBefore(answer: Provenance, entry: TimelineEntry): { custodian?: string; offerTo?: string } {
  let custodian: string | undefined;
  let offerTo: string | undefined;
  const history = answer.timeline
    .filter((t) => (t.relation === "own" || t.relation === "created") && t.index < entry.index && t.chain?.status !== "refused")
    .sort((a, b) => a.index - b.index);
  for (const t of history) {
    const signer = t.signer.address.toLowerCase();
    const values = t.values as Record<string, unknown>;
    if (t.kind === "Registered" || (t.kind === "Split" && t.relation === "created") || (t.kind === "Merged" && t.relation === "own")) {
      custodian = signer;
      offerTo = undefined;
    } else if (t.kind === "HandOffOffered") offerTo = String(values.to).toLowerCase();
    else if (t.kind === "HandOffAccepted") {
      custodian = signer;
      offerTo = undefined;
    } else if (t.kind === "HandOffCancelled") offerTo = undefined;
  }
  return { ...(custodian ? { custodian } : {}), ...(offerTo ? { offerTo } : {}) };
}

/** An Observed entry's signer: an inspector or the regulator, or a party to the lot then, holding an actor role. */
export async function checkObserver(ctx: Context, answer: Provenance, entry: TimelineEntry): Promise<Check<"role">> {
  const name = "role";
  const signer = getAddress(entry.signer.address);
  const holds = (roles: readonly RoleName[]) =>
    Promise.all(roles.map((r) => memo(ctx, `role:${r}:${signer}`, () => ctx.reader.hasRole(ctx.ledger, ROLE_IDS[r], signer, ctx.block))));
  const oversight = OVERSIGHT_ROLES[(await holds(OVERSIGHT_ROLES)).indexOf(true)];
  if (oversight !== undefined) return ok(name, `${signer} holds ${oversight} on the ledger (block ${ctx.block}), which may observe any lot`);
  const { custodian, offerTo } = partiesBefore(answer, entry);
  const party = signer.toLowerCase() === custodian ? "held the lot" : signer.toLowerCase() === offerTo ? "was offered the lot" : undefined;
  if (party === undefined) {
    return fail(
      name,
      `${signer} neither held the lot nor was offered it at this point of its history, nor holds INSPECTOR / REGULATOR ` +
        `(block ${ctx.block}): only they may record observations of it`,
    );
  }
  const role = OBSERVER_ROLES[(await holds(OBSERVER_ROLES)).indexOf(true)];
  if (role === undefined) return fail(name, `${signer} ${party} but holds no actor role on the ledger (block ${ctx.block})`);
  return ok(name, `${signer} ${party} at this point of its history and holds ${role} on the ledger (block ${ctx.block})`);
}
