/**
 * The demo market: Mangwon Market's twelve stalls (the story's Stall 12 and eleven more), supplied over two weeks from
 * Korean farms and through the importer, enough for the safety centre's charts to say something: arrivals from four
 * countries (six with the story's), lab tests (one failed), a pre-harvest interval broken, imports cleared and one
 * still held at customs, and one recall that reaches three stalls, one of which has acknowledged it.
 *
 * Told after the demo story (story.ts), by the same actors plus the market's stalls, in the same form: each step a
 * document its actor signs, submitted through the API by the demo loader (load.ts), which fixes times and nonces so a
 * load is resumable. One step cannot be written in advance: the acknowledgement names the recall's event hash, which
 * exists only once the recall is signed; its step says which step it acknowledges (`acknowledges`) and the loader
 * fills the hash in (`withRecallHash`).
 *
 * Size: 46 lifecycle events (the story has 17 more): the relay sends them one after another today, about one a
 * block, so the market is on chain about a minute after the first `npm start`. Each farm lot goes from its holder
 * straight to the stalls (no wholesaler step) to keep it so.
 */
import type { EventDoc } from "../protocol/documents.ts";
import { recallAckDoc } from "../protocol/recall-ack.ts";
import type { DemoActor, DemoActorName, DemoStep } from "./story.ts";

const STALL_NAMES = [
  "Fruit & Co.",
  "Grandma Kim's Greens",
  "Jeju Citrus House",
  "Red Pepper Corner",
  "Hot & Spicy Produce",
  "Seoul Veg Market",
  "Berry Good",
  "Namdo Greens",
  "Garlic & Roots",
  "Orchard Fresh",
  "World Fruits",
] as const;

/** GLNs 880123400101x.. with their check digits (GS1 mod 10). */
const STALL_GLNS = [
  "8801234001014",
  "8801234001021",
  "8801234001038",
  "8801234001045",
  "8801234001052",
  "8801234001069",
  "8801234001076",
  "8801234001083",
  "8801234001090",
  "8801234001106",
  "8801234001113",
] as const;

/** The market's stalls besides Stall 12 of the demo story: dev mnemonic keys 11 to 21, retail handlers. */
export type MarketStallName = `stall${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11}`;

export const marketStalls: Readonly<Record<MarketStallName, DemoActor>> = Object.fromEntries(
  STALL_NAMES.map((name, i): [string, DemoActor] => [
    `stall${i + 1}`,
    {
      keyIndex: 11 + i,
      roles: ["HANDLER"],
      profile: { name: `Mangwon Market Stall ${i + 1} · ${name}`, gln: STALL_GLNS[i] as string, country: "KR", retail: true },
    },
  ]),
) as Record<MarketStallName, DemoActor>;

/** A market step: who signs it, and for an acknowledgement, the step (of this story) whose recall it names. */
export interface MarketStep extends DemoStep {
  readonly acknowledges?: number;
}

const KR = "08801234";
export const marketBatches = {
  chili: { gtin: `${KR}000048`, lot: "CY-2611-03" },
  strawberries: { gtin: `${KR}000055`, lot: "NS-2611-12" },
  cabbage: { gtin: `${KR}000062`, lot: "HN-2611-05" },
  bananas: { gtin: "04800000000033", lot: "PH-DV-7712" },
  garlic: { gtin: "06900000000045", lot: "CN-SD-5501" },
  mangoes: { gtin: "08930000000019", lot: "VN-LD-0420" },
} as const;

type Keys = { readonly gtin: string; readonly lot: string };

function at(now: Date, daysAgo: number, hour = 9): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysAgo, hour));
  return d.toISOString().replace(".000Z", "Z");
}

interface Produce {
  readonly keys: Keys;
  readonly product: string;
  readonly country: string;
  readonly region: string;
  readonly farm: string;
  readonly kg: number;
  /** Days ago it was registered (harvested the day before). */
  readonly day: number;
  readonly by: "cooperative" | "importer";
  /** Pesticide: substance, CAS, pre-harvest interval, days before harvest applied. */
  readonly spray?: { readonly name: string; readonly cas: string; readonly phi: number; readonly before: number };
  /** Analytes: name, value, limit. */
  readonly lab?: readonly (readonly [string, number, number])[];
  readonly customs?: { readonly declaration: string; readonly hs: string; readonly port: string };
  /** Stall lots cut from it, each to a stall, with kg. */
  readonly stalls: readonly (readonly [DemoActorName | MarketStallName, number])[];
}

function produce(): Produce[] {
  const b = marketBatches;
  return [
    {
      keys: b.chili, product: "Cheongyang hot peppers", country: "KR", region: "Chungcheongnam-do, Cheongyang-gun", farm: "Cheongyang Pepper Farm",
      kg: 90, day: 9, by: "cooperative", spray: { name: "Chlorfenapyr", cas: "122453-73-0", phi: 7, before: 3 },
      lab: [["Chlorfenapyr", 0.31, 0.05], ["Cadmium", 0.01, 0.05]], stalls: [["stall4", 30], ["stall5", 30], ["stall6", 30]],
    },
    {
      keys: b.strawberries, product: "Nonsan Seolhyang strawberries", country: "KR", region: "Chungcheongnam-do, Nonsan-si", farm: "Nonsan Berry Farm",
      kg: 120, day: 12, by: "cooperative", lab: [["Acetamiprid", 0.08, 1.0]], stalls: [["stall1", 40], ["stall2", 40], ["stall3", 40]],
    },
    {
      keys: b.cabbage, product: "Haenam napa cabbage", country: "KR", region: "Jeollanam-do, Haenam-gun", farm: "Haenam Winter Cabbage Co-op",
      kg: 600, day: 6, by: "cooperative", lab: [["Emamectin benzoate", 0.002, 0.1]], stalls: [["stall7", 300], ["stall8", 300]],
    },
    {
      keys: b.bananas, product: "Cavendish bananas", country: "PH", region: "Davao del Norte", farm: "Davao Banana Growers",
      kg: 900, day: 14, by: "importer", lab: [["Chlorpyrifos", 0.002, 0.01]],
      customs: { declaration: "12345-26-0101010X", hs: "080390", port: "KRPUS" }, stalls: [["stall9", 300], ["stall10", 300], ["stall11", 300]],
    },
    {
      keys: b.garlic, product: "Shandong garlic", country: "CN", region: "Shandong, Jinxiang", farm: "Jinxiang Garlic Cooperative",
      kg: 400, day: 3, by: "importer", lab: [["Lead", 0.03, 0.1]],
      customs: { declaration: "12345-26-0102020X", hs: "070320", port: "KRINC" }, stalls: [["stall1", 200], ["stall10", 200]],
    },
    // Imported, tested by nobody yet and still at customs: counted as an import without clearance.
    { keys: b.mangoes, product: "Cat Chu mangoes", country: "VN", region: "Lam Dong", farm: "Da Lat Fruit Farm", kg: 150, day: 1, by: "importer", stalls: [] },
  ];
}

/** Stall lots' keys: the farm lot's GTIN, its lot and the stall's number. */
function stallLot(p: Produce, i: number): Keys {
  return { gtin: p.keys.gtin, lot: `${p.keys.lot}-${i + 1}` };
}

/** The stall lot the recall reaches at the stall that acknowledges it (Stall 5). */
export const acknowledgedLot: Keys = { gtin: marketBatches.chili.gtin, lot: `${marketBatches.chili.lot}-2` };

export function demoMarketStory(now: Date, address: (actor: DemoActorName | MarketStallName) => string): MarketStep[] {
  const steps: MarketStep[] = [];
  const step = (actor: DemoActorName | MarketStallName, doc: EventDoc, extra: Partial<MarketStep> = {}): number => {
    steps.push({ actor: actor as DemoActorName, doc, ...extra });
    return steps.length - 1;
  };
  for (const p of produce()) {
    const imported = p.by === "importer";
    step(p.by, {
      kind: "Registered", batch: p.keys, occurredAt: at(now, p.day, 6), product: p.product,
      origin: { country: p.country, region: p.region, farm: { name: p.farm } },
      harvestDate: at(now, p.day + 1).slice(0, 10), quantity: { value: p.kg, unit: "kg" }, imported,
    });
    if (p.spray) {
      step(p.by, {
        kind: "PesticideApplied", batch: p.keys, occurredAt: at(now, p.day + 1 + p.spray.before, 7),
        substance: { name: p.spray.name, casNumber: p.spray.cas }, dose: { value: 0.2, unit: "L/10a" }, preHarvestIntervalDays: p.spray.phi,
      });
    }
    if (p.lab) {
      step("lab", {
        kind: "Inspected", batch: p.keys, occurredAt: at(now, p.day, 15), lab: { name: "Seogwipo Agricultural Testing Lab", gln: "8801234000062" },
        method: "LC-MS/MS multi-residue (MFDS Food Code 8.4)", sampleId: `SG-26-${p.keys.lot}`,
        analytes: p.lab.map(([name, value, limit]) => ({ name, value, limit, unit: "mg/kg" })),
        passed: p.lab.every(([, value, limit]) => value <= limit),
      });
    }
    if (p.customs) {
      step("importer", {
        kind: "CustomsCleared", batch: p.keys, occurredAt: at(now, p.day - 1, 3), declarationNumber: p.customs.declaration,
        hsCode: p.customs.hs, originCountry: p.country, portOfEntry: p.customs.port,
      });
    }
    if (p.stalls.length > 0) splitToStalls(p.by, p.keys, p.stalls, p.day - 1, (i) => stallLot(p, i));
  }
  // The chili lot failed its test: the authority recalls it, reaching Stalls 4, 5 and 6; Stall 5 acknowledges.
  const recall = step("regulator", {
    kind: "Recalled", batch: marketBatches.chili, occurredAt: at(now, 1, 8),
    reason: "Chlorfenapyr residue 0.31 mg/kg exceeds the 0.05 mg/kg limit (sample SG-26-CY-2611-03).", reference: "RECALL-26-0420",
  });
  step("stall5", recallAckDoc(acknowledgedLot, "0x" + "0".repeat(64), at(now, 1, 10)), { acknowledges: recall });
  return steps;

  /** The lot's holder cuts it into stall lots and hands one to each stall (a market's wholesale step, shortened). */
  function splitToStalls(holder: DemoActorName, parent: Keys, to: readonly (readonly [DemoActorName | MarketStallName, number])[], day: number, keys: (i: number) => Keys): void {
    step(holder, {
      kind: "Split", batch: parent, occurredAt: at(now, day, 6),
      children: to.map(([, kg], i) => ({ ...keys(i), quantity: { value: kg, unit: "kg" } })),
    });
    to.forEach(([stall], i) => {
      step(holder, { kind: "HandOffOffered", batch: keys(i), occurredAt: at(now, day, 7), to: address(stall) });
      step(stall, { kind: "HandOffAccepted", batch: keys(i), occurredAt: at(now, day, 8 + (i % 4)), from: address(holder) });
    });
  }
}

/** An acknowledgement step's document with the event hash of the recall it acknowledges. */
export function withRecallHash(doc: EventDoc, recallEventHash: string): EventDoc {
  return doc.kind === "Observed" ? { ...doc, note: recallEventHash.toLowerCase() } : doc;
}
