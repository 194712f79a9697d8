/**
 * Which AIs may and must appear together on one item: the GS1 General Specifications §4.14, "invalid pairs of
 * element strings" (§4.14.1) and "mandatory associations of element strings" (§4.14.2), for the AIs a Digital Link
 * keyed by a GTIN can carry. Written here from the standard, in our own words; each rule says why it exists, and
 * the message built from it tells a producer what to add or remove.
 *
 * A pattern is an AI or a family: `31nn` is every AI of four digits starting 31, `392n` every one starting 392.
 */
import { Gs1Error } from "./keys.ts";
import { aiLabel } from "./ai-values.ts";

/** Does AI `ai` match `pattern` ("31nn", "392n" or a plain AI)? */
function matches(ai: string, pattern: string): boolean {
  return ai.length === pattern.length && [...pattern].every((p, i) => p === "n" || p === ai[i]);
}

interface Requirement {
  /** The AIs the rule applies to. */
  readonly ais: string;
  /** Alternatives: the rule is met when every pattern of one alternative is present. */
  readonly needs: readonly (readonly string[])[];
  /** Why, for the message. */
  readonly because: string;
}

/** §4.14.2: an AI that means something only beside another. */
const REQUIREMENTS: readonly Requirement[] = [
  {
    ais: "392n 393n",
    needs: [["30"], ["31nn"], ["32nn"], ["35nn"], ["36nn"]],
    because: "a variable-measure price is the price of a counted or measured quantity",
  },
  { ais: "390n 394n 8111", needs: [["255"]], because: "it belongs to a coupon (GCN)" },
  { ais: "391n 12", needs: [["8020"]], because: "it belongs to a payment slip" },
  { ais: "8020 8007", needs: [["415"]], because: "it belongs to an invoicing party (GLN)" },
  { ais: "403", needs: [["00"]], because: "a routing code routes a logistic unit (SSCC)" },
  { ais: "37 8026", needs: [["00"]], because: "it counts what a logistic unit (SSCC) contains" },
  { ais: "250", needs: [["21"]], because: "a secondary serial number goes with a serial number" },
  { ais: "427", needs: [["422"]], because: "a subdivision is part of the country of origin" },
  { ais: "7004", needs: [["10"]], because: "active potency is stated per batch" },
  { ais: "7020", needs: [["416"]], because: "a refurbishment lot names the location that refurbished it" },
  { ais: "7022", needs: [["7021"]], because: "a revision status refines a functional status" },
];

interface Exclusion {
  readonly a: string;
  readonly b: string;
  readonly because: string;
}

/** §4.14.1: pairs that contradict each other on one item. */
const EXCLUSIONS: readonly Exclusion[] = [
  ...["02", "37", "255", "8026"].map((b) => ({
    a: "01",
    b,
    because: "a trade item (GTIN) is neither the content of a logistic unit nor a coupon",
  })),
  ...["422", "423", "424", "425"].map((a) => ({
    a,
    b: "426",
    because: "426 says the whole process chain took place in one country",
  })),
  { a: "420", b: "421", because: "a ship-to postal code is given once, with or without its country" },
  { a: "390n", b: "391n", because: "an amount payable is given once" },
  { a: "392n", b: "393n", because: "a price is given once" },
  { a: "390n", b: "394n", because: "a coupon gives an amount or a percentage off, not both" },
];

/**
 * A measure or amount given twice with different decimal points (e.g. 3102 and 3103): §4.14.1 forbids the same
 * quantity twice. The families are every 31nn-36nn measure, and 390n-394n.
 */
function sameQuantityTwice(ais: readonly string[]): [string, string] | undefined {
  const measured = ais.filter((ai) => /^3[1-6][0-9]{2}$/.test(ai) || /^39[0-4][0-9]$/.test(ai));
  for (const a of measured) {
    const b = measured.find((other) => other !== a && other.slice(0, 3) === a.slice(0, 3));
    if (b !== undefined) return [a, b];
  }
  return undefined;
}

function expand(ais: string): string[] {
  return ais.split(" ");
}

/**
 * Checks the AIs of one item (a link's key, qualifiers and data attributes) against the pairing rules. Throws a
 * Gs1Error naming both AIs and the reason.
 */
export function checkPairing(ais: readonly string[]): void {
  for (const rule of REQUIREMENTS) {
    for (const pattern of expand(rule.ais)) {
      const ai = ais.find((x) => matches(x, pattern));
      if (ai === undefined) continue;
      if (rule.needs.some((group) => group.every((p) => ais.some((x) => matches(x, p))))) continue;
      const needs = rule.needs.map((g) => g.map((p) => `(${p})`).join(" with ")).join(" or ");
      throw new Gs1Error(`${aiLabel(ai)} needs ${needs} on the same item: ${rule.because}`);
    }
  }
  for (const { a, b, because } of EXCLUSIONS) {
    const first = ais.find((x) => matches(x, a));
    const second = ais.find((x) => matches(x, b));
    if (first !== undefined && second !== undefined) {
      throw new Gs1Error(`${aiLabel(first)} cannot appear together with ${aiLabel(second)}: ${because}`);
    }
  }
  const twice = sameQuantityTwice(ais);
  if (twice !== undefined) {
    throw new Gs1Error(
      `${aiLabel(twice[0])} cannot appear together with ${aiLabel(twice[1])}: the same quantity is given once, ` +
        "with one decimal point",
    );
  }
}
