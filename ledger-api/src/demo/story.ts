/**
 * The demo data `npm start` submits at every start (demo/load.ts: a step already logged is a duplicate): a few
 * batches whose story looks like the real thing, told by the parties who would tell it. Every step is a signed event
 * submitted through the public API, exactly as a producer's or importer's system would submit it; nothing is written
 * to the store directly.
 *
 * Actors sign with keys derived from the public development mnemonic (local chain only).
 */
import type { EventDoc } from "../protocol/documents.ts";

export type DemoRole = "REGULATOR" | "PRODUCER" | "IMPORTER" | "INSPECTOR" | "HANDLER";

export interface DemoActor {
  /** Index of the key in the development mnemonic (0 = deployer/admin, 1 = relayer, 2 = anchorer). */
  readonly keyIndex: number;
  readonly roles: readonly DemoRole[];
  readonly profile: { readonly name: string; readonly gln?: string; readonly country: string; readonly retail: boolean };
}

export const demoActors = {
  regulator: {
    keyIndex: 3,
    roles: ["REGULATOR"],
    profile: { name: "Food Safety Authority (demo)", gln: "8807777000019", country: "KR", retail: false },
  },
  cooperative: {
    keyIndex: 4,
    roles: ["PRODUCER", "HANDLER"],
    profile: { name: "Jeju Hallabong Cooperative", gln: "8801234000055", country: "KR", retail: false },
  },
  lab: {
    keyIndex: 5,
    roles: ["INSPECTOR"],
    profile: { name: "Seogwipo Agricultural Testing Lab", gln: "8801234000062", country: "KR", retail: false },
  },
  wholesaler: {
    keyIndex: 6,
    roles: ["HANDLER"],
    profile: { name: "Garak Wholesale Market Co.", gln: "8801234000079", country: "KR", retail: false },
  },
  stall: {
    keyIndex: 7,
    roles: ["HANDLER"],
    profile: { name: "Mangwon Market Stall 12", gln: "8801234000086", country: "KR", retail: true },
  },
  importer: {
    keyIndex: 8,
    roles: ["IMPORTER", "HANDLER"],
    profile: { name: "Busan Global Foods Import", gln: "8805555000015", country: "KR", retail: false },
  },
  coldChain: {
    keyIndex: 9,
    roles: ["HANDLER"],
    profile: { name: "Hanjin Cold Logistics", gln: "8806666000017", country: "KR", retail: false },
  },
  greensFarm: {
    keyIndex: 10,
    roles: ["PRODUCER"],
    profile: { name: "Namyangju Greens Farm", country: "KR", retail: false },
  },
} as const satisfies Record<string, DemoActor>;

export type DemoActorName = keyof typeof demoActors;

export interface DemoStep {
  readonly actor: DemoActorName;
  readonly doc: EventDoc;
}

export const demoBatches = {
  tangerines: { gtin: "08801234000017", lot: "JJ-2611-A" },
  tangerineStallLots: [
    { gtin: "08801234000017", lot: "JJ-2611-A1" },
    { gtin: "08801234000017", lot: "JJ-2611-A2" },
  ],
  beef: { gtin: "09300012000014", lot: "AU-4471" },
  spinach: { gtin: "08801234000031", lot: "NY-2611-07" },
} as const;

/** RFC 3339 time `days` before `now`, at a given UTC hour. */
function daysAgo(now: Date, days: number, hour = 9): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - days, hour));
  return d.toISOString().replace(".000Z", "Z");
}

function dateOnly(iso: string): string {
  return iso.slice(0, 10);
}

/** The demo story, dated relative to `now` so it always reads as recent. Addresses are filled in by the loader. */
export function demoStory(now: Date, address: (actor: DemoActorName) => string): DemoStep[] {
  const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
  return [
    // Jeju tangerines: registered after harvest with the season's spraying record, tested, sold through Garak to a Mangwon market stall, split into stall lots.
    {
      actor: "cooperative",
      doc: {
        kind: "Registered",
        batch: tangerines,
        occurredAt: daysAgo(now, 12, 7),
        product: "Jeju Hallabong tangerines",
        origin: {
          country: "KR",
          region: "Jeju-do, Seogwipo-si",
          farm: { name: "Jeju Hallabong Cooperative, orchard 3", gln: "8801234000055" },
        },
        harvestDate: dateOnly(daysAgo(now, 13)),
        quantity: { value: 1200, unit: "kg" },
        imported: false,
      },
    },
    {
      actor: "cooperative",
      doc: {
        kind: "PesticideApplied",
        batch: tangerines,
        occurredAt: daysAgo(now, 40),
        substance: { name: "Imidacloprid", casNumber: "138261-41-3" },
        dose: { value: 0.25, unit: "L/10a" },
        preHarvestIntervalDays: 21,
        field: "Seogwipo orchard 3",
      },
    },
    {
      actor: "lab",
      doc: {
        kind: "Inspected",
        batch: tangerines,
        occurredAt: daysAgo(now, 11, 15),
        lab: { name: "Seogwipo Agricultural Testing Lab", gln: "8801234000062" },
        method: "LC-MS/MS multi-residue (MFDS Food Code 8.4)",
        sampleId: "SG-26-11873",
        analytes: [
          { name: "Imidacloprid", casNumber: "138261-41-3", value: 0.03, limit: 1.0, unit: "mg/kg" },
          { name: "Chlorpyrifos", casNumber: "2921-88-2", value: 0, limit: 0.01, unit: "mg/kg" },
          { name: "Cadmium", value: 0.004, limit: 0.05, unit: "mg/kg" },
        ],
        passed: true,
      },
    },
    {
      actor: "cooperative",
      doc: { kind: "HandOffOffered", batch: tangerines, occurredAt: daysAgo(now, 10, 5), to: address("wholesaler"), reference: "DN-26-0412" },
    },
    {
      actor: "wholesaler",
      doc: { kind: "HandOffAccepted", batch: tangerines, occurredAt: daysAgo(now, 9, 4), from: address("cooperative"), reference: "DN-26-0412" },
    },
    {
      actor: "wholesaler",
      doc: {
        kind: "Split",
        batch: tangerines,
        occurredAt: daysAgo(now, 9, 6),
        children: [
          { ...tangerineStallLots[0], quantity: { value: 200, unit: "kg" } },
          { ...tangerineStallLots[1], quantity: { value: 1000, unit: "kg" } },
        ],
      },
    },
    {
      actor: "wholesaler",
      doc: { kind: "HandOffOffered", batch: tangerineStallLots[0], occurredAt: daysAgo(now, 9, 7), to: address("stall") },
    },
    {
      actor: "stall",
      doc: { kind: "HandOffAccepted", batch: tangerineStallLots[0], occurredAt: daysAgo(now, 8, 5), from: address("wholesaler") },
    },
    {
      actor: "stall",
      doc: {
        kind: "Observed",
        batch: tangerineStallLots[0],
        occurredAt: daysAgo(now, 8, 12),
        readings: [{ type: "Temperature", value: 8.5, unit: "Cel" }],
        location: { name: "Mangwon Market Stall 12", gln: "8801234000086" },
      },
    },

    // Australian beef: registered by the importer, shipped cold, cleared by customs, then sold at retail.
    {
      actor: "importer",
      doc: {
        kind: "Registered",
        batch: beef,
        occurredAt: daysAgo(now, 20),
        product: "Australian grass-fed beef, chilled striploin",
        origin: { country: "AU", region: "New South Wales, Riverina", farm: { name: "Riverina Pastoral Co." } },
        harvestDate: dateOnly(daysAgo(now, 27)),
        quantity: { value: 480, unit: "kg" },
        imported: true,
      },
    },
    {
      actor: "importer",
      doc: {
        kind: "Observed",
        batch: beef,
        occurredAt: daysAgo(now, 19, 3),
        readings: [
          { type: "Temperature", value: -0.8, unit: "Cel" },
          { type: "Temperature", value: -0.5, unit: "Cel" },
        ],
        location: { name: "Reefer container MSKU 902114-7" },
      },
    },
    {
      actor: "importer",
      doc: {
        kind: "CustomsCleared",
        batch: beef,
        occurredAt: daysAgo(now, 6, 10),
        declarationNumber: "12345-26-0098765X",
        hsCode: "020130",
        originCountry: "AU",
        portOfEntry: "KRPUS",
      },
    },
    {
      actor: "importer",
      doc: { kind: "HandOffOffered", batch: beef, occurredAt: daysAgo(now, 5, 6), to: address("coldChain") },
    },
    {
      actor: "coldChain",
      doc: { kind: "HandOffAccepted", batch: beef, occurredAt: daysAgo(now, 5, 8), from: address("importer") },
    },
    {
      actor: "coldChain",
      doc: {
        kind: "Observed",
        batch: beef,
        occurredAt: daysAgo(now, 5, 14),
        readings: [{ type: "Temperature", value: 1.2, unit: "Cel" }],
        location: { name: "Refrigerated truck 82-SA-4471" },
      },
    },
    {
      actor: "coldChain",
      doc: { kind: "HandOffOffered", batch: beef, occurredAt: daysAgo(now, 4, 4), to: address("stall") },
    },
    {
      actor: "stall",
      doc: { kind: "HandOffAccepted", batch: beef, occurredAt: daysAgo(now, 4, 5), from: address("coldChain") },
    },

    // Spinach: a lab finds chlorpyrifos over its limit and the regulator recalls the batch.
    {
      actor: "greensFarm",
      doc: {
        kind: "Registered",
        batch: spinach,
        occurredAt: daysAgo(now, 7, 6),
        product: "Spinach (Namyangju)",
        origin: { country: "KR", region: "Gyeonggi-do, Namyangju-si", farm: { name: "Namyangju Greens Farm" } },
        harvestDate: dateOnly(daysAgo(now, 7)),
        quantity: { value: 300, unit: "kg" },
        imported: false,
      },
    },
    {
      actor: "lab",
      doc: {
        kind: "Inspected",
        batch: spinach,
        occurredAt: daysAgo(now, 6, 16),
        lab: { name: "Seogwipo Agricultural Testing Lab", gln: "8801234000062" },
        method: "LC-MS/MS multi-residue (MFDS Food Code 8.4)",
        sampleId: "SG-26-11990",
        analytes: [{ name: "Chlorpyrifos", casNumber: "2921-88-2", value: 0.12, limit: 0.01, unit: "mg/kg" }],
        passed: false,
      },
    },
    {
      actor: "regulator",
      doc: {
        kind: "Recalled",
        batch: spinach,
        occurredAt: daysAgo(now, 6, 18),
        reason: "Chlorpyrifos residue 0.12 mg/kg exceeds the 0.01 mg/kg limit (sample SG-26-11990).",
        reference: "RECALL-26-0311",
      },
    },
  ];
}
