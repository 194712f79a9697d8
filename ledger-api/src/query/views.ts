/**
 * The builders of the answers' shared parts (protocol/answer.ts) from the store: an actor as shoppers see it, an
 * anchor, an entry's inclusion proof. The read routes and the provenance answer use them.
 */
import { toUtf8String } from "ethers";
import { ROLE_NAMES } from "../protocol/roles.ts";
import type { Actor, Anchor, InclusionProof } from "../protocol/answer.ts";
import type { ActorProfile, AnchorRow, Store, StoredEntry } from "../store/store.ts";
import { bytesToHex } from "../log/hash.ts";
import { inclusionProof, proofToHex, root } from "../log/merkle.ts";

function country(bytes2: string): string | null {
  return /^0x0*$/.test(bytes2) ? null : toUtf8String(bytes2);
}

/** An actor as a shopper should see it: a name, not an address. */
export async function actorView(store: Store, address: string, profile?: ActorProfile): Promise<Actor> {
  const [p, grants] = await Promise.all([profile ? Promise.resolve(profile) : store.profile(address), store.rolesOf(address)]);
  return {
    address: address.toLowerCase(),
    name: p?.name ?? null,
    gln: p && p.gln !== 0n ? p.gln.toString().padStart(13, "0") : null,
    country: p ? country(p.country) : null,
    retail: p?.retail ?? false,
    roles: grants
      .filter((g) => g.contract === "ledger")
      .map((g) => ROLE_NAMES.get(g.role.toLowerCase()) ?? g.role)
      .sort(),
  };
}

export function anchorView(a: AnchorRow): Anchor {
  return { anchorIndex: a.anchorIndex, size: a.size, root: a.root, txHash: a.txHash, blockNumber: a.blockNumber, blockTime: a.blockTime };
}

/**
 * The inclusion proof of `entry` to the latest anchored root that covers it, or, before any anchor covers it, to the
 * current checkpoint (marked pending: its root is not yet on chain).
 */
export async function proofFor(store: Store, entry: StoredEntry, latest?: AnchorRow): Promise<InclusionProof> {
  const anchor = latest ?? (await store.latestAnchor());
  const covered = anchor !== undefined && anchor.size > entry.index;
  const size = covered ? anchor.size : (await store.checkpoint()).size;
  const [path, treeRoot] = await Promise.all([
    inclusionProof(entry.index, size, store),
    covered ? Promise.resolve(anchor.root) : root(size, store).then(bytesToHex),
  ]);
  return {
    leafIndex: entry.index,
    treeSize: size,
    leafHash: bytesToHex(entry.leafHash),
    path: proofToHex(path),
    root: treeRoot,
    anchor: covered ? anchorView(anchor) : null,
  };
}
