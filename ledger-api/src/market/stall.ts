/**
 * What a stall's display shows (GET /v1/stalls/{stall}/display, and the page web/stall-page.ts renders from it):
 * the stall's profile and every lot it holds now, each as its full provenance answer, so the screen's script can
 * verify each fact in the browser with the shopper page's verifier, plus, for every lot under a recall, whether the
 * stall has acknowledged it.
 *
 * `version` names the view: a digest of what the lots' answers are built from (which lots the stall holds; each
 * lot's and its ancestors' last log entry and on-chain head; its recall; the acknowledgements), cheap to compute from
 * the store alone. The display's event stream (watch.ts) recomputes it when the store moves and tells the screen to
 * fetch the view again when it changed, so an update needs no in-process event and works across API instances.
 */
import { createHash } from "node:crypto";
import { Type, type Static } from "typebox";
import { Hex32, Provenance, RecallView } from "../protocol/answer.ts";
import { provenanceOf, type ProvenanceContext } from "../query/provenance.ts";
import type { ActorProfile, Store } from "../store/store.ts";
import { glnText, stallKey } from "./members.ts";
import type { MarketProjection } from "./projection.ts";

/** Lots a display shows at most: a 1080p screen holds a few dozen readable cards. */
export const MAX_DISPLAY_LOTS = 48;

export const StallProfile = Type.Object(
  {
    account: Type.String(),
    name: Type.String(),
    gln: Type.Union([Type.String(), Type.Null()]),
    key: Type.String(),
    country: Type.String({ description: "ISO 3166-1 alpha-2 of the stall's profile, \"\" when unset" }),
  },
  { title: "StallProfile" },
);
export type StallProfile = Static<typeof StallProfile>;

export const DisplayRecall = Type.Object({
  batchId: Hex32,
  lot: Type.Union([Type.String(), Type.Null()]),
  product: Type.Union([Type.String(), Type.Null()]),
  recall: RecallView,
  acknowledged: Type.Boolean({ description: "the stall has acknowledged this recall on this lot" }),
});

export const StallDisplay = Type.Object(
  {
    stall: StallProfile,
    version: Type.String({ description: "changes whenever what the display shows changes" }),
    lots: Type.Array(Type.Object({ batchId: Hex32, answer: Provenance }), { description: "newest arrivals first" }),
    more: Type.Integer({ description: "lots held beyond the ones shown" }),
    recalls: Type.Array(DisplayRecall),
  },
  { title: "StallDisplay" },
);
export type StallDisplay = Static<typeof StallDisplay>;

export interface StallContext extends ProvenanceContext {
  readonly projection: MarketProjection;
}

function countryOf(hex: string): string {
  const code = hex.replace(/^0x/, "");
  if (!/^[0-9a-f]{4}$/.test(code) || code === "0000") return "";
  return String.fromCharCode(parseInt(code.slice(0, 2), 16), parseInt(code.slice(2, 4), 16));
}

export function stallProfile(p: ActorProfile): StallProfile {
  return { account: p.account, name: p.name, gln: glnText(p.gln), key: stallKey(p), country: countryOf(p.country) };
}

/** The lots a stall's display shows, newest arrival first, and how many more it holds. */
async function shownLots(store: Store, account: string): Promise<{ ids: string[]; more: number }> {
  const held = await store.lotHoldings({ custodians: [account] }, 10_000);
  held.sort((a, b) => (b.since?.at ?? 0) - (a.since?.at ?? 0) || a.batchId.localeCompare(b.batchId));
  return { ids: held.slice(0, MAX_DISPLAY_LOTS).map((h) => h.batchId), more: Math.max(0, held.length - MAX_DISPLAY_LOTS) };
}

/** The digest of everything a stall's view is built from; see the header. */
export async function stallVersion(store: Store, projection: MarketProjection, stall: string): Promise<string> {
  const account = stall.toLowerCase();
  await projection.catchUp();
  const { ids, more } = await shownLots(store, account);
  const hash = createHash("sha256").update(`${account}|${more}`);
  for (const id of ids) {
    const lineage = [id, ...new Set((await store.ancestors(id)).map((e) => e.parent))];
    const recalled = (await store.recalledAncestor(id)) ?? "-";
    hash.update(`|${id}:${recalled}`);
    for (const lot of lineage) {
      const [last, batch] = await Promise.all([store.lastIndexOfBatch(lot), store.batch(lot)]);
      hash.update(`,${lot}:${last ?? -1}:${batch?.head ?? "-"}:${batch?.custodian ?? "-"}:${batch?.offerTo ?? "-"}`);
    }
  }
  for (const a of await store.recallAcks(ids)) hash.update(`|ack:${a.eventHash}`);
  return hash.digest("base64url").slice(0, 22);
}

export async function stallDisplay(ctx: StallContext, profile: ActorProfile): Promise<StallDisplay> {
  const { store } = ctx;
  const version = await stallVersion(store, ctx.projection, profile.account);
  const { ids, more } = await shownLots(store, profile.account);
  const lots = await Promise.all(ids.map(async (batchId) => ({ batchId, answer: await provenanceOf(ctx, { batchId }) })));
  const acks = await store.recallAcks(ids);
  const recalls = lots.flatMap(({ batchId, answer }) => {
    const recall = answer.batch.recall;
    if (recall === null) return [];
    const acknowledged = acks.some(
      (a) => a.batchId === batchId && a.signer === profile.account && recall.eventHash !== null && a.recallEventHash === recall.eventHash,
    );
    return [{ batchId, lot: answer.batch.lot, product: answer.batch.product, recall, acknowledged }];
  });
  return { stall: stallProfile(profile), version, lots, more, recalls };
}
