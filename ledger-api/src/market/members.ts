/**
 * Which actors make up the market the safety centre watches: the retail actors (profile flag `retail`, set by the
 * authority in ActorRegistry) whose GLN starts with MARKET_GLN_PREFIX or whose address is in MARKET_ACTORS
 * (config.ts validates both); with neither configured, every retail actor. A listed address without the retail flag
 * is not a stall: the contract's retail rules (no uncleared import) would not apply to it, so it is left out.
 */
import type { ActorProfile, Store } from "../store/store.ts";

export interface MarketScope {
  /** GLN prefix (1 to 13 digits) of the market's stalls; undefined for none. */
  readonly glnPrefix: string | undefined;
  /** Addresses (lower-case) of the market's stalls; empty for none. */
  readonly actors: readonly string[];
}

/** A GLN as its 13 digits (the index stores it as a number, which drops leading zeros). */
export function glnText(gln: bigint): string | null {
  return gln === 0n ? null : gln.toString(10).padStart(13, "0");
}

export function inMarket(scope: MarketScope, profile: ActorProfile): boolean {
  if (!profile.retail) return false;
  if (scope.glnPrefix === undefined && scope.actors.length === 0) return true;
  const gln = glnText(profile.gln);
  if (scope.glnPrefix !== undefined && gln !== null && gln.startsWith(scope.glnPrefix)) return true;
  return scope.actors.includes(profile.account.toLowerCase());
}

/** The market's stalls, in address order. */
export async function marketStalls(store: Store, scope: MarketScope): Promise<ActorProfile[]> {
  return (await store.retailProfiles()).filter((p) => inMarket(scope, p));
}

/**
 * A stall named in a URL: its 13-digit GLN, or its address for a stall without one. Undefined when no retail actor
 * has it; the caller decides whether a stall outside the market may be shown (the display may, the centre not).
 */
export async function findStall(store: Store, key: string): Promise<ActorProfile | undefined> {
  const wanted = key.toLowerCase();
  const all = await store.retailProfiles();
  return /^[0-9]{13}$/.test(wanted)
    ? all.find((p) => glnText(p.gln) === wanted)
    : all.find((p) => p.account === wanted);
}

/** How a stall is named in its URLs: its GLN, else its address. */
export function stallKey(profile: ActorProfile): string {
  return glnText(profile.gln) ?? profile.account;
}
