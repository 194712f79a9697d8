/**
 * The path of a GS1 Digital Link keyed by a GTIN: `[/{prefix}]/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]`, the
 * order the standard's ABNF fixes (gtin-path), every value checked (GTIN check digit, character set 82, lengths),
 * percent-decoded, and written back in canonical form.
 *
 * This is all a page needs to name a batch, and it carries no AI table, so the browser bundles import this file
 * (and keys.ts, uri.ts) and never the table behind the query string's data attributes (digital-link.ts). The query
 * string is not read here: `parseLinkPath` is for links this ledger wrote; anything a user typed or scanned goes
 * through `parseDigitalLink`, which reads the same path with the same code.
 */
import { Gs1Error, batchIdOf, batchKeys, canonicalPath, checkCset82, checkLot, checkSerial, normaliseGtin } from "./keys.ts";
import type { BatchKeys } from "./keys.ts";
import { EXAMPLE, percentDecode, percentEncode, splitLink } from "./uri.ts";

/** The keys a Digital Link can carry for a GTIN. `BatchKeys` is one. */
export interface LinkKeys {
  readonly gtin: string;
  /** AI 22, consumer product variant. */
  readonly variant?: string;
  readonly lot?: string;
  readonly serial?: string;
}

/** A link's path, read and checked. */
export interface LinkPath {
  /**
   * Everything before `/01/`: `https://example.com` or `https://example.com/resolver`, without trailing slash;
   * for a bare path input, the path prefix alone (usually "").
   */
  readonly base: string;
  /** GTIN normalised to 14 digits. */
  readonly gtin: string;
  readonly variant?: string;
  readonly lot?: string;
  readonly serial?: string;
  /** The batch's keys, when the link has a lot. */
  readonly keys?: BatchKeys;
  /** keccak256 of `canonicalPath`, when the link has a lot. */
  readonly batchId?: string;
  /**
   * UNENCODED `/01/{gtin14}/10/{lot}` (or `/01/{gtin14}` without a lot): the string the on-chain batchId hashes.
   * Never includes the serial or variant. Not a URI path; see `path`.
   */
  readonly canonicalPath: string;
  /** The canonical percent-encoded Digital Link path with every key qualifier, e.g. `/01/…/10/A%2F1/21/7`. */
  readonly path: string;
}

/** Key qualifiers of GTIN in the only order the ABNF's gtin-path allows. AI 235 (TPX) is a separate path shape. */
export const GTIN_QUALIFIERS = ["22", "10", "21"] as const;
export type GtinQualifier = (typeof GTIN_QUALIFIERS)[number];

export const QUALIFIER_NAMES: Readonly<Record<GtinQualifier, string>> = {
  "22": "consumer product variant",
  "10": "lot",
  "21": "serial",
};

/**
 * Convenience alphas of URI Syntax 1.0/1.1, deprecated since 1.2 (GS1 now asks for numeric AIs only). Accepted on
 * input so labels printed under the old rules still resolve; never written.
 */
const CONVENIENCE_ALPHAS: Readonly<Record<string, string>> = { gtin: "01", cpv: "22", lot: "10", ser: "21" };

/** Digital Link primary keys other than GTIN: named in messages, because this ledger identifies batches by GTIN. */
export const OTHER_PRIMARY_KEYS: Readonly<Record<string, string>> = {
  "00": "SSCC",
  "253": "GDTI",
  "255": "GCN",
  "401": "GINC",
  "402": "GSIN",
  "414": "GLN",
  "417": "party GLN",
  "8003": "GRAI",
  "8004": "GIAI",
  "8006": "ITIP",
  "8010": "CPID",
  "8013": "GMN",
  "8017": "GSRN (provider)",
  "8018": "GSRN (recipient)",
};

export function isAiShaped(segment: string): boolean {
  return /^[0-9]{2,4}$/.test(segment) || segment in CONVENIENCE_ALPHAS;
}

export function numericAi(segment: string): string {
  return CONVENIENCE_ALPHAS[segment] ?? segment;
}

export function checkQualifier(ai: GtinQualifier, value: string): string {
  switch (ai) {
    case "22":
      return checkCset82(value, "22", "consumer product variant", 20);
    case "10":
      return checkLot(value);
    case "21":
      return checkSerial(value);
  }
}

/** What the path reader may ask about an AI it finds out of place: its name, if it is a data attribute. */
export interface PathOptions {
  readonly dataAttributeName?: (ai: string) => string | undefined;
}

/**
 * Index of the `01` segment that starts the Digital Link part of the path. Like GS1's reference parsers, walk back
 * from the end over `/AI/value` pairs, so a prefix such as `/products/2024` is never read as AIs; unlike them, keep
 * walking to the earliest `01`, so `/01/A/01/B` is a duplicate GTIN rather than prefix `/01/A`. If the pairs do not
 * line up (a value is missing), fall back to the last `01` and let the forward parse say what is wrong.
 */
export function findGtin(segments: readonly string[]): number {
  let start: number | undefined;
  let otherKey: string | undefined;
  for (let i = segments.length - 2; i >= 0; i -= 2) {
    const ai = segments[i]!;
    if (!isAiShaped(ai)) break;
    const numeric = numericAi(ai);
    if (numeric === "01") start = i;
    else if (numeric in OTHER_PRIMARY_KEYS) otherKey ??= numeric;
  }
  if (start !== undefined) return start;
  const last = segments.findLastIndex((s) => numericAi(s) === "01");
  if (last !== -1) return last;
  if (otherKey !== undefined) {
    throw new Gs1Error(
      `the link's primary key is AI ${otherKey} (${OTHER_PRIMARY_KEYS[otherKey]}); batches here are named by GTIN ` +
        `(AI 01), such as ${EXAMPLE}`,
    );
  }
  throw new Gs1Error(`no GTIN in the path: a Digital Link names the product as /01/{GTIN}, such as ${EXAMPLE}`);
}

function pathAiName(ai: string): string {
  if (ai === "01") return "GTIN";
  return ai in QUALIFIER_NAMES ? QUALIFIER_NAMES[ai as GtinQualifier] : (OTHER_PRIMARY_KEYS[ai] ?? "unknown");
}

function misplacedPathAi(ai: string, options: PathOptions): string {
  if (ai === "01") return "AI 01 (GTIN) appears twice in the path";
  const attribute = options.dataAttributeName?.(ai);
  if (attribute !== undefined) {
    return `AI ${ai} (${attribute}) is a data attribute: it belongs in the query string (?${ai}=…), not the path`;
  }
  if (ai === "235") return "AI 235 (third-party serial extension, TPX) is not supported by this ledger";
  if (ai in OTHER_PRIMARY_KEYS) return `AI ${ai} (${OTHER_PRIMARY_KEYS[ai]}) is a primary key and cannot follow a GTIN`;
  return (
    `unknown AI ${ai} in the path: after /01/{gtin} only 22 (consumer product variant), 10 (lot) and 21 (serial) ` +
    "may follow, in that order"
  );
}

/** Reads `/01/{gtin}[/22/…][/10/…][/21/…]` given as segments starting at the `01`. */
export function parsePathKeys(pairs: readonly string[], options: PathOptions = {}): LinkKeys & { readonly gtin: string } {
  let gtin = "";
  const qualifiers: Partial<Record<GtinQualifier, string>> = {};
  let lastRank = -1;
  for (let k = 0; k < pairs.length; k += 2) {
    const rawAi = pairs[k]!;
    const rawValue = pairs[k + 1];
    if (!isAiShaped(rawAi)) {
      throw new Gs1Error(
        `path segment "${rawAi}" after the GTIN is not a GS1 Application Identifier; after /01/{gtin} only ` +
          "/22/{variant}, /10/{lot} and /21/{serial} may follow, in that order",
      );
    }
    const ai = numericAi(rawAi);
    const name = options.dataAttributeName?.(ai) ?? pathAiName(ai);
    if (rawValue === undefined) throw new Gs1Error(`AI ${ai} (${name}) at the end of the path has no value`);
    const value = percentDecode(rawValue, `AI ${ai} (${name})`);
    if (value === "") throw new Gs1Error(`AI ${ai} (${name}) has an empty value`);

    if (k === 0) {
      gtin = normaliseGtin(value);
      continue;
    }
    const rank = GTIN_QUALIFIERS.indexOf(ai as GtinQualifier);
    if (rank === -1) throw new Gs1Error(misplacedPathAi(ai, options));
    const qualifier = ai as GtinQualifier;
    if (qualifiers[qualifier] !== undefined) {
      throw new Gs1Error(`AI ${ai} (${QUALIFIER_NAMES[qualifier]}) appears twice in the path`);
    }
    if (rank < lastRank) {
      const before = GTIN_QUALIFIERS[lastRank]!;
      throw new Gs1Error(
        `AI ${ai} (${QUALIFIER_NAMES[qualifier]}) must come before AI ${before} (${QUALIFIER_NAMES[before]}); ` +
          "the order is /01/{gtin}/22/{variant}/10/{lot}/21/{serial}",
      );
    }
    lastRank = rank;
    qualifiers[qualifier] = checkQualifier(qualifier, value);
  }
  return {
    gtin,
    ...(qualifiers["22"] === undefined ? {} : { variant: qualifiers["22"] }),
    ...(qualifiers["10"] === undefined ? {} : { lot: qualifiers["10"] }),
    ...(qualifiers["21"] === undefined ? {} : { serial: qualifiers["21"] }),
  };
}

/** The canonical, percent-encoded path of a GTIN and its qualifiers. */
export function encodedPath(keys: LinkKeys & { readonly gtin: string }): string {
  let path = `/01/${keys.gtin}`;
  if (keys.variant !== undefined) path += `/22/${percentEncode(keys.variant)}`;
  if (keys.lot !== undefined) path += `/10/${percentEncode(keys.lot)}`;
  if (keys.serial !== undefined) path += `/21/${percentEncode(keys.serial)}`;
  return path;
}

/** A LinkPath from the path's origin, its prefix segments and its keys. */
export function linkPathOf(origin: string, prefix: readonly string[], keys: LinkKeys & { readonly gtin: string }): LinkPath {
  const batch = keys.lot === undefined ? undefined : batchKeys(keys.gtin, keys.lot);
  return {
    base: origin + (prefix.length > 0 ? `/${prefix.join("/")}` : ""),
    gtin: keys.gtin,
    ...(keys.variant === undefined ? {} : { variant: keys.variant }),
    ...(keys.lot === undefined ? {} : { lot: keys.lot }),
    ...(keys.serial === undefined ? {} : { serial: keys.serial }),
    ...(batch === undefined ? {} : { keys: batch, batchId: batchIdOf(batch) }),
    canonicalPath: batch === undefined ? `/01/${keys.gtin}` : canonicalPath(batch),
    path: encodedPath(keys),
  };
}

/**
 * Reads the path of a Digital Link this ledger wrote (URI or bare path); the query string is ignored. Throws
 * Gs1Error naming what to fix.
 */
export function parseLinkPath(input: string): LinkPath {
  const { origin, segments } = splitLink(input);
  const start = findGtin(segments);
  return linkPathOf(origin, segments.slice(0, start), parsePathKeys(segments.slice(start)));
}
